// Mode nightly: validate against vLLM main and compare with the history on the data branch.
import type { Config } from '../config.js';
import type { Host, ModeOutcome } from '../host.js';

export async function runNightly(_config: Config, _host: Host): Promise<ModeOutcome> {
  throw new Error('Mode nightly is not yet available in this version.');
}
