// The action's modes as terminal commands: flags from the INPUTS table → Config → the same runMode as the action.
import { parseArgs } from 'node:util';
import { ConfigError, parseConfig } from '../config.js';
import { pullRequestHeadSha, workflowContextOf } from '../github/context.js';
import type { ModeOutcome } from '../host.js';
import { INPUTS, type Mode } from '../inputs.js';
import { runMode } from '../modes/index.js';
import { renderPlan } from '../modes/plan.js';
import { planRates } from '../pipeline/e2e-rates.js';
import { showInvisible } from '../security/text.js';
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

/** `--repeats -2` → `--repeats=-2`: a negative number is the flag's value, so the input's own check answers. */
export function joinNegativeValues(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const next = args[i + 1];
    if (/^--[\w-]+$/.test(args[i]) && next !== undefined && /^-\d/.test(next)) {
      out.push(`${args[i]}=${next}`);
      i++;
    } else out.push(args[i]);
  }
  return out;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

/** The known flag nearest an unknown one, when it is near enough to be a typo. */
export function didYouMean(flag: string, known: readonly string[]): string | undefined {
  const name = flag.replace(/^-+/, '').split('=')[0];
  const scored = known.map((k) => ({ k, d: editDistance(name, k) })).sort((a, b) => a.d - b.d);
  const best = scored[0];
  return best && best.d <= Math.max(2, Math.floor(name.length / 4)) ? `--${best.k}` : undefined;
}

function parseFlags(args: string[], extra: readonly string[] = []) {
  try {
    return parseArgs({
      args: joinNegativeValues(expandSwitches(args)),
      options: {
        help: { type: 'boolean', short: 'h' },
        ...Object.fromEntries(INPUTS.map((i) => [i.name, { type: 'string' as const }])),
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    // node's messages name the flag; add the nearest known one and where to look
    const message = error instanceof Error ? error.message : String(error);
    const unknown = /^Unknown option '([^']+)'/.exec(message)?.[1];
    const near = unknown ? didYouMean(unknown, [...INPUTS.map((i) => i.name), 'help', ...extra]) : undefined;
    const first = unknown ? `Unknown option '${unknown}'.` : message;
    throw new ConfigError(
      `${first}${near ? ` Did you mean ${near}?` : ''} Run with --help to see the options.`,
    );
  }
}

/** What the CLI prints on stdout when a mode is done: the summary row, the verdict and the paths (or JSON). */
export function outcomeLines(outcome: ModeOutcome, json: boolean): string {
  if (json)
    return JSON.stringify({
      verdict: outcome.verdict,
      exitCode: outcome.exitCode,
      ...(outcome.failure ? { failure: outcome.failure } : {}),
      resultPath: outcome.resultPath ?? null,
      reportPath: outcome.reportPath ?? null,
      commentUrl: outcome.commentUrl ?? null,
    });
  const lines = [...(outcome.summary ?? []), `verdict: ${outcome.verdict}`];
  if (outcome.resultPath) lines.push(`result: ${outcome.resultPath}`);
  if (outcome.reportPath) lines.push(`report: ${outcome.reportPath}`);
  if (outcome.commentUrl) lines.push(`comment: ${outcome.commentUrl}`);
  return lines.join('\n');
}

async function runModeCommand(mode: Mode, args: string[], io: CliIo): Promise<number> {
  const plan = mode === 'validate' && args.includes('--plan');
  const json = args.includes('--json');
  try {
    const extra = ['json', ...(mode === 'validate' ? ['plan'] : [])];
    const { values } = parseFlags(
      args.filter((a) => a !== '--json' && !(plan && a === '--plan')),
      extra,
    );
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
      io.out(renderPlan(config, json, rates));
      return 0;
    }
    if (config.githubToken) host.setSecret(config.githubToken);
    const outcome = await runMode(config, host);
    io.out(showInvisible(outcomeLines(outcome, json)));
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
