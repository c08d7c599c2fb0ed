// What a terminal command is given and how it talks back; shared by the CLI and the commands it dispatches to.
import type { Host } from '../host.js';
import { showInvisible } from '../security/text.js';

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

export const processIo: CliIo = {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
};

/** One `vllm-kernel-ci <name>` command: a row of the CLI's command table. */
export interface CliCommand {
  name: string;
  summary: string;
  help: string;
  run: (args: string[], io: CliIo) => Promise<number>;
}

export function cliHost(io: CliIo): Host {
  const secrets: string[] = [];
  // names from artifacts reach these lines: an escape sequence in one must not act on the terminal
  const mask = (t: string) => showInvisible(secrets.reduce((s, secret) => s.split(secret).join('***'), t));
  return {
    info: (m) => io.err(mask(m)),
    warning: (m) => io.err(mask(`warning: ${m}`)),
    group: async (name, fn) => {
      io.err(mask(`── ${name}`));
      return fn();
    },
    setOutput: (name, value) => io.err(mask(`${name}: ${value}`)),
    summary: async () => {},
    setSecret: (value) => {
      if (value) secrets.push(value);
    },
    env: {},
  };
}
