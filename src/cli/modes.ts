// The action's modes as terminal commands: flags from the INPUTS table → Config → the same runMode as the action.
import { parseArgs } from 'node:util';
import { ConfigError, parseConfig } from '../config.js';
import { pullRequestHeadSha, workflowContextOf } from '../github/context.js';
import { writeOutputs } from '../host.js';
import { INPUTS, type Mode } from '../inputs.js';
import { runMode } from '../modes/index.js';
import { renderPlan } from '../modes/plan.js';
import { planRates } from '../pipeline/e2e-rates.js';
import { type CliCommand, type CliIo, cliHost } from './io.js';

const MODE_SUMMARY: Record<Mode, string> = {
  validate:
    'Run the whole validation on this machine (patch, tests, microbenchmark, e2e A/B) and write a RunResult and a report.',
  report: 'Read the RunResults of every runner, decide the verdicts, render the report and publish it.',
  nightly:
    'Validate against vLLM main and compare with the history; open, update or close the regression issue.',
};

/** Inputs that are yes/no (default true or false): the bare flag means true, as on any command line. */
const SWITCHES = new Set(
  INPUTS.filter((i) => i.default === 'true' || i.default === 'false').map((i) => i.name),
);

/** `--force` alone → `--force=true`; `--force false` and `--force=false` stay as they are. */
export function expandSwitches(args: string[]): string[] {
  return args.map((arg, i) => {
    const next = args[i + 1];
    const bare = arg.startsWith('--') && SWITCHES.has(arg.slice(2));
    return bare && (next === undefined || next.startsWith('--')) ? `${arg}=true` : arg;
  });
}

function modeHelp(mode: Mode): string {
  const lines = [`Usage: vllm-kernel-ci ${mode} [options]`, '', MODE_SUMMARY[mode], '', 'Options:'];
  for (const input of INPUTS.filter((i) => i.modes.includes(mode) && i.name !== 'mode')) {
    const def = input.default !== undefined ? ` (default: ${input.default || '""'})` : '';
    const value = SWITCHES.has(input.name) ? '[true|false]' : '<value>';
    lines.push(`  --${input.name} ${value}`, `      ${input.description}${def}`);
  }
  if (mode === 'validate')
    lines.push(
      '  --plan [--json]',
      '      Print the vllm-serve e2e plan (cells, runs, prompts per run, server starts, swap method, minutes) and run nothing.',
    );
  lines.push('  --help', '      Show this help.');
  return lines.join('\n');
}

function parseFlags(args: string[]) {
  try {
    return parseArgs({
      args: expandSwitches(args),
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

async function runModeCommand(mode: Mode, args: string[], io: CliIo): Promise<number> {
  const plan = mode === 'validate' && args.includes('--plan');
  try {
    const { values } = parseFlags(plan ? args.filter((a) => a !== '--plan' && a !== '--json') : args);
    if (values.help) {
      io.out(modeHelp(mode));
      return 0;
    }
    const host = cliHost(io);
    const config = parseConfig(
      (name) =>
        name === 'mode'
          ? mode
          : ((values as Record<string, string | boolean | undefined>)[name] as string | undefined),
      { headSha: pullRequestHeadSha(await workflowContextOf(host)) },
    );
    if (plan) {
      const rates = await planRates(config.e2e.model, config.e2e.ratesFile);
      if (rates.warning) io.err(`warning: ${rates.warning}`);
      io.out(renderPlan(config, args.includes('--json'), rates));
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

export function modeCommand(mode: Mode): CliCommand {
  return {
    name: mode,
    summary: MODE_SUMMARY[mode],
    help: modeHelp(mode),
    run: (args, io) => runModeCommand(mode, args, io),
  };
}
