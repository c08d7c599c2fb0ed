// The CLI's command table: one row a command, in the order `--help` lists them. A new command is one row here.
import { MODES } from '../inputs.js';
import { simulateCommand } from '../modes/simulate.js';
import { patchCommand } from '../patch/command.js';
import type { CliCommand } from './io.js';
import { modeCommand } from './modes.js';

export const COMMANDS: readonly CliCommand[] = [...MODES.map(modeCommand), patchCommand, simulateCommand];
