// The same modes from a terminal: `vllm-kernel-ci <command> [--flag value ...]`, dispatched through COMMANDS.
import { useEnvProxy } from '../proxy.js';
import { TOOL_VERSION } from '../version.js';
import { COMMANDS } from './commands.js';
import { type CliCommand, type CliIo, processIo } from './io.js';

function mainHelp(commands: readonly CliCommand[]): string {
  const lines = [
    `vllm-kernel-ci ${TOOL_VERSION}: validate a Triton kernel change for vLLM and report it.`,
    '',
    'Usage: vllm-kernel-ci <command> [options]',
    '',
    'Commands:',
  ];
  for (const c of commands) lines.push(`  ${c.name.padEnd(10)} ${c.summary}`);
  lines.push('', 'Run `vllm-kernel-ci <command> --help` for the options of one command.');
  return lines.join('\n');
}

export async function runCli(
  argv: string[],
  io: CliIo = processIo,
  commands: readonly CliCommand[] = COMMANDS,
): Promise<number> {
  const [name, ...rest] = argv;
  const proxy = useEnvProxy(process.env);
  if (proxy.warning) io.err(`warning: ${proxy.warning}`);
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.out(mainHelp(commands));
    return 0;
  }
  if (name === '--version') {
    io.out(TOOL_VERSION);
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    io.err(`Unknown command '${name}'. Expected one of: ${commands.map((c) => c.name).join(', ')}.`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(command.help);
    return 0;
  }
  return command.run(rest, io);
}
