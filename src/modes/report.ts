// Mode report: read every runner's RunResult, decide, render, publish.
import type { Config } from '../config.js';
import type { Host, ModeOutcome } from '../host.js';

export async function runReport(_config: Config, _host: Host): Promise<ModeOutcome> {
  throw new Error('Mode report is not yet available in this version.');
}
