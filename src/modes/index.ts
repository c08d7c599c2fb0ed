import type { Config } from '../config.js';
import type { Host, ModeOutcome } from '../host.js';
import { runNightly } from './nightly.js';
import { runReport } from './report.js';
import { runValidate } from './validate.js';

export function runMode(config: Config, host: Host): Promise<ModeOutcome> {
  switch (config.mode) {
    case 'validate':
      return runValidate(config, host);
    case 'report':
      return runReport(config, host);
    case 'nightly':
      return runNightly(config, host);
  }
}
