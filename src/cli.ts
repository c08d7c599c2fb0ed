#!/usr/bin/env node
// The same modes from a terminal: `vllm-kernel-ci <command> [--flag value ...]`.
import { parseArgs } from 'node:util';
import { ConfigError, parseConfig } from './config.js';
import type { Host } from './host.js';
import { INPUTS, MODES, type Mode } from './inputs.js';
import { writeOutputs } from './main.js';
import { runMode } from './modes/index.js';
import { renderPlan } from './modes/plan.js';
import { patchCommand } from './patch/command.js';
import { TOOL_VERSION } from './version.js';

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

const processIo: CliIo = {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
};

export function cliHost(io: CliIo): Host {
  const secrets: string[] = [];
  const mask = (t: string) => secrets.reduce((s, secret) => s.split(secret).join('***'), t);
  return {
    info: (m) => io.err(mask(m)),
    warning: (m) => io.err(mask(`warning: ${m}`)),
    group: async (name, fn) => {
      io.err(`── ${name}`);
      return fn();
    },
    setOutput: (name, value) => io.err(`${name}: ${value}`),
    summary: async () => {},
    setSecret: (value) => {
      if (value) secrets.push(value);
    },
    env: {},
  };
}

const MODE_SUMMARY: Record<Mode, string> = {
  validate:
    'Run the whole validation on this machine (patch, tests, microbenchmark, e2e A/B) and write a RunResult and a report.',
  report: 'Read the RunResults of every runner, decide the verdicts, render the report and publish it.',
  nightly:
    'Validate against vLLM main and compare with the history; open, update or close the regression issue.',
};

export interface ExtraCommand {
  name: string;
  summary: string;
  help: string;
  run: (args: string[], io: CliIo) => Promise<number>;
}

/** Commands that are not action modes (e.g. `patch`) register here. */
export const EXTRA_COMMANDS: ExtraCommand[] = [patchCommand];

function modeHelp(mode: Mode): string {
  const lines = [`Usage: vllm-kernel-ci ${mode} [options]`, '', MODE_SUMMARY[mode], '', 'Options:'];
  for (const input of INPUTS.filter((i) => i.modes.includes(mode) && i.name !== 'mode')) {
    const def = input.default !== undefined ? ` (default: ${input.default || '""'})` : '';
    lines.push(`  --${input.name} <value>`, `      ${input.description}${def}`);
  }
  if (mode === 'validate')
    lines.push(
      '  --plan [--json]',
      '      Print the vllm-serve e2e plan (cells, runs, prompts per run, server starts, swap method, minutes) and run nothing.',
    );
  lines.push('  --help', '      Show this help.');
  return lines.join('\n');
}

function mainHelp(): string {
  const lines = [
    `vllm-kernel-ci ${TOOL_VERSION}: validate a Triton kernel change for vLLM and report it.`,
    '',
    'Usage: vllm-kernel-ci <command> [options]',
    '',
    'Commands:',
  ];
  for (const mode of MODES) lines.push(`  ${mode.padEnd(10)} ${MODE_SUMMARY[mode]}`);
  for (const c of EXTRA_COMMANDS) lines.push(`  ${c.name.padEnd(10)} ${c.summary}`);
  lines.push('', 'Run `vllm-kernel-ci <command> --help` for the options of one command.');
  return lines.join('\n');
}

function parseFlags(args: string[]) {
  try {
    return parseArgs({
      args,
      options: {
        help: { type: 'boolean', short: 'h' },
        ...Object.fromEntries(INPUTS.map((i) => [i.name, { type: 'string' as const }])),
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    // node's messages name the flag; add where to look
    const message = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`${message} Run with --help to see the options.`);
  }
}

export async function runCli(argv: string[], io: CliIo = processIo): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    io.out(mainHelp());
    return 0;
  }
  if (command === '--version') {
    io.out(TOOL_VERSION);
    return 0;
  }
  const extra = EXTRA_COMMANDS.find((c) => c.name === command);
  if (extra) {
    if (rest.includes('--help') || rest.includes('-h')) {
      io.out(extra.help);
      return 0;
    }
    return extra.run(rest, io);
  }
  if (!(MODES as readonly string[]).includes(command)) {
    io.err(
      `Unknown command '${command}'. Expected one of: ${[...MODES, ...EXTRA_COMMANDS.map((c) => c.name)].join(', ')}.`,
    );
    return 2;
  }
  const mode = command as Mode;
  const plan = mode === 'validate' && rest.includes('--plan');
  try {
    const { values } = parseFlags(plan ? rest.filter((a) => a !== '--plan' && a !== '--json') : rest);
    if (values.help) {
      io.out(modeHelp(mode));
      return 0;
    }
    const host = cliHost(io);
    const config = parseConfig((name) =>
      name === 'mode'
        ? mode
        : ((values as Record<string, string | boolean | undefined>)[name] as string | undefined),
    );
    if (plan) {
      io.out(renderPlan(config, rest.includes('--json')));
      return 0;
    }
    if (config.githubToken) host.setSecret(config.githubToken);
    const outcome = await runMode(config, host);
    writeOutputs(host, outcome);
    if (outcome.exitCode !== 0) io.err(`error: ${outcome.failure ?? `verdict ${outcome.verdict}`}`);
    return outcome.exitCode;
  } catch (error) {
    io.err(`error: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/cli.js')) {
  process.exitCode = await runCli(process.argv.slice(2));
}
