// `vllm-kernel-ci simulate`: the verdict path of validate and report (re-run policy included) on synthetic runs,
// or on the noise of a real A/A RunResult: what a user of these settings sees over many runs.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { CliCommand } from '../cli/io.js';
import { parseRunResult } from '../results/run-result.js';
import {
  DEFAULT_SIMULATION,
  estimateNoise,
  type NoiseEstimate,
  type SimulationOutcome,
  type SimulationSettings,
  simulateRuns,
} from '../stats/simulate.js';

export const SIMULATE_HELP = `Usage: vllm-kernel-ci simulate [options]

Run validate's and report's verdict path (re-run of borderline and called cells, confirmation, the verdict
across cells and runners) on synthetic runs, and print how often a run's verdict is wrong or undecided.

Options:
  --cells N            e2e cells per runner (default: ${DEFAULT_SIMULATION.cells})
  --runners N          runners judged together (default: ${DEFAULT_SIMULATION.runners})
  --cv PCT             noise of one sample, % (default: ${DEFAULT_SIMULATION.cvPct})
  --repeats N          pairs per cell and round (default: ${DEFAULT_SIMULATION.repeats})
  --min-effect PCT     smallest change called improved or regressed, % (default: ${DEFAULT_SIMULATION.minEffectPct})
  --trials N           simulated runs (default: ${DEFAULT_SIMULATION.trials})
  --seed N             seed of the generator (default: ${DEFAULT_SIMULATION.seed})
  --effect PCT         a true change of the first cell on every runner, % (default: 0, an A/A run)
  --order-effect PCT   whichever arm runs second in a pair is slower by PCT (default: 0)
  --order ORDER        counterbalanced (A B B A, B A A B) or alternating (A B A B) (default: ${DEFAULT_SIMULATION.order})
  --ar1 RHO            lag-1 autocorrelation of consecutive runs' noise (default: 0)
  --drift PCT          largest linear drift across a cell's runs, % (default: ${DEFAULT_SIMULATION.trendPct}; a slow wave of half of it rides on top)
  --rule RULE          sequential (looks every 4 pairs, order effect fitted, scale pooled over cells), confirmed
                       (a call stands only when its re-run agrees) or per-cell (default: ${DEFAULT_SIMULATION.rule})
  --stall-rate PCT     runs that stall, % (default: 0)
  --stall-factor F     throughput a stalled run keeps (default: ${DEFAULT_SIMULATION.stallFactor})
  --cv-patched PCT     the patched arm's noise of one sample, % (default: --cv)
  --tails DF           Student-t noise of DF degrees of freedom, DF > 2 (default: normal)
  --pairs N            pairs per cell the run can afford (the budget-fitted plan's repeats): the sequential rule
                       spends N × cells over its looks, the others run N pairs a round (default: no budget)
  --from RUNRESULT     take cells, repeats and noise from a real A/A RunResult: this runner's own power analysis
                       (with --effect -5 unless --effect is given); the noise is the worst cell's residual after
                       the order effect is fitted, the order effect the largest of the cells'
  --json               print the outcome as JSON
  --help               show this help

falseCall: runs whose verdict is improved or regressed against the truth; tooNoisy: runs whose verdict is too
noisy; power: runs whose verdict has the effect's sign.`;

function number(
  name: string,
  raw: string | undefined,
  check: (x: number) => boolean,
  what: string,
): number | undefined {
  if (raw === undefined) return undefined;
  const x = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(x) || !check(x)) {
    throw new Error(`Invalid --${name} '${raw}'. Expected ${what}.`);
  }
  return x;
}

const positiveInt = (x: number) => Number.isInteger(x) && x > 0;
const nonNegative = (x: number) => x >= 0;

export function parseSimulateArgs(args: string[]): {
  settings: Partial<SimulationSettings>;
  from?: string;
  json: boolean;
} {
  // `--effect -5`: a negative number is the flag's value, not another flag
  const joined = args.flatMap((a, i) =>
    /^-\d|^-\.\d/.test(a) && args[i - 1]?.startsWith('--') && !args[i - 1].includes('=')
      ? []
      : [
          /^--/.test(a) && !a.includes('=') && /^-\d|^-\.\d/.test(args[i + 1] ?? '')
            ? `${a}=${args[i + 1]}`
            : a,
        ],
  );
  const { values } = parseArgs({
    args: joined,
    strict: true,
    allowPositionals: false,
    allowNegative: false,
    options: {
      cells: { type: 'string' },
      runners: { type: 'string' },
      cv: { type: 'string' },
      repeats: { type: 'string' },
      'min-effect': { type: 'string' },
      trials: { type: 'string' },
      seed: { type: 'string' },
      effect: { type: 'string' },
      'order-effect': { type: 'string' },
      order: { type: 'string' },
      ar1: { type: 'string' },
      drift: { type: 'string' },
      rule: { type: 'string' },
      'stall-rate': { type: 'string' },
      'stall-factor': { type: 'string' },
      'cv-patched': { type: 'string' },
      tails: { type: 'string' },
      pairs: { type: 'string' },
      from: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const order = values.order;
  if (order !== undefined && order !== 'counterbalanced' && order !== 'alternating')
    throw new Error(`Invalid --order '${order}'. Expected counterbalanced or alternating.`);
  const rule = values.rule;
  if (rule !== undefined && rule !== 'confirmed' && rule !== 'per-cell' && rule !== 'sequential')
    throw new Error(`Invalid --rule '${rule}'. Expected sequential, confirmed or per-cell.`);
  const drift = number('drift', values.drift, nonNegative, 'a percentage ≥ 0');
  const entries: Partial<SimulationSettings> = {
    cells: number('cells', values.cells, positiveInt, 'a positive integer'),
    runners: number('runners', values.runners, positiveInt, 'a positive integer'),
    cvPct: number('cv', values.cv, (x) => x > 0 && x < 100, 'a percentage above 0'),
    repeats: number('repeats', values.repeats, (x) => positiveInt(x) && x >= 3, 'an integer ≥ 3'),
    minEffectPct: number('min-effect', values['min-effect'], nonNegative, 'a percentage ≥ 0'),
    trials: number('trials', values.trials, positiveInt, 'a positive integer'),
    seed: number('seed', values.seed, (x) => Number.isInteger(x) && x >= 0, 'an integer ≥ 0'),
    effectPct: number('effect', values.effect, (x) => x > -100, 'a percentage above -100'),
    orderEffectPct: number(
      'order-effect',
      values['order-effect'],
      (x) => x >= 0 && x < 100,
      'a percentage in [0, 100)',
    ),
    ar1: number('ar1', values.ar1, (x) => x > -1 && x < 1, 'a correlation in (-1, 1)'),
    order: order as SimulationSettings['order'] | undefined,
    rule: rule as SimulationSettings['rule'] | undefined,
    stallRatePct: number(
      'stall-rate',
      values['stall-rate'],
      (x) => x >= 0 && x < 100,
      'a percentage in [0, 100)',
    ),
    stallFactor: number('stall-factor', values['stall-factor'], (x) => x > 0 && x <= 1, 'a factor in (0, 1]'),
    cvPatchedPct: number('cv-patched', values['cv-patched'], (x) => x > 0 && x < 100, 'a percentage above 0'),
    tailDf: number('tails', values.tails, (x) => Number.isInteger(x) && x > 2, 'an integer > 2'),
    pairs: number('pairs', values.pairs, (x) => positiveInt(x) && x >= 4, 'an integer ≥ 4'),
    trendPct: drift,
    wavePct: drift === undefined ? undefined : drift / 2,
  };
  const settings = Object.fromEntries(
    Object.entries(entries).filter(([, v]) => v !== undefined),
  ) as Partial<SimulationSettings>;
  return { settings, from: values.from, json: values.json === true };
}

const pct = (x: number | null) => (x === null ? '—' : `${(x * 100).toFixed(1)}%`);

export function describeOutcome(o: SimulationOutcome, noise?: NoiseEstimate): string {
  const s = o.settings;
  const lines: string[] = [];
  if (noise) {
    lines.push(
      `Noise of the A/A RunResult: ${noise.cvPct.toFixed(2)}% per sample after the order effect, the worst of ${noise.cells} cells ` +
        `(${noise.worst}); per cell order effect γ and residual CV: ${noise.perCell
          .map(
            (c) =>
              `${c.id} γ ${c.orderEffectPct.toFixed(2)}%, ${c.residualCvPct.toFixed(2)}% (raw ${c.cvPct.toFixed(2)}%)`,
          )
          .join(
            '; ',
          )}; lag-1 autocorrelation of the residuals ${noise.lag1.toFixed(2)}. Simulated with the worst cell's ` +
        `noise and the largest order effect (${noise.orderEffectPct.toFixed(2)}%).`,
    );
  }
  lines.push(
    `${s.trials} simulated runs: ${s.runners} runner${s.runners === 1 ? '' : 's'} × ${s.cells} cells, ${s.repeats} pairs a round, ` +
      `${s.cvPct}% noise, drift ±${s.trendPct}%, ${s.order} order${s.orderEffectPct ? `, second run ${s.orderEffectPct}% slower` : ''}` +
      `${s.ar1 ? `, AR(1) ${s.ar1}` : ''}${s.cvPatchedPct ? `, patched arm ${s.cvPatchedPct}% noise` : ''}` +
      `${s.stallRatePct ? `, ${s.stallRatePct}% of runs stalled at ${s.stallFactor}×` : ''}${s.tailDf ? `, t(${s.tailDf}) tails` : ''}` +
      `${s.pairs ? `, a budget of ${s.pairs} pairs a cell` : ''}, min effect ${s.minEffectPct}%, ${s.rule} rule, ` +
      `${s.effectPct ? `a ${s.effectPct}% change in one cell` : 'no change (A/A)'}, seed ${s.seed}.`,
    '',
    `Run level: false call ${pct(o.falseCall)}, too noisy ${pct(o.tooNoisy)}${o.power === null ? '' : `, power ${pct(o.power)}`}.`,
    `Per cell: false call ${pct(o.cells.falseCall)}, too noisy ${pct(o.cells.tooNoisy)}, re-run ${pct(o.cells.rerun)}` +
      `${o.cells.detected === null ? '' : `, changed cell detected ${pct(o.cells.detected)}`}; GPU time ${o.roundsPerCell.toFixed(2)}× a run without re-runs, ${o.meanPairsPerCell.toFixed(2)} pairs a cell on average.`,
  );
  return lines.join('\n');
}

export async function runSimulate(
  args: string[],
  io: { out: (t: string) => void; err: (t: string) => void },
): Promise<number> {
  let parsed: ReturnType<typeof parseSimulateArgs>;
  try {
    parsed = parseSimulateArgs(args);
  } catch (error) {
    io.err(
      `${error instanceof Error ? error.message : String(error)} See \`vllm-kernel-ci simulate --help\`.`,
    );
    return 2;
  }
  let settings = parsed.settings;
  let noise: NoiseEstimate | undefined;
  if (parsed.from) {
    try {
      const result = parseRunResult(JSON.parse(await readFile(parsed.from, 'utf8')), parsed.from);
      noise = estimateNoise(result);
      if (!result.e2e?.aa)
        io.err(`warning: ${parsed.from} is not an A/A run: a real change would count as noise.`);
      settings = {
        cells: noise.cells,
        repeats: noise.repeats,
        cvPct: Number(noise.cvPct.toFixed(3)),
        orderEffectPct: Number(noise.orderEffectPct.toFixed(3)),
        minEffectPct: result.verdicts?.minEffectPct,
        effectPct: -5,
        ...settings,
      };
      settings = Object.fromEntries(
        Object.entries(settings).filter(([, v]) => v !== undefined),
      ) as Partial<SimulationSettings>;
    } catch (error) {
      io.err(
        `Cannot estimate noise from ${parsed.from}: ${error instanceof Error ? error.message : String(error)}`,
      );
      return 1;
    }
  }
  const outcome = simulateRuns(settings);
  if (parsed.from && outcome.settings.effectPct !== 0) {
    // the false-call rate of these settings needs the A/A run too
    const aa = simulateRuns({ ...settings, effectPct: 0 });
    if (parsed.json) io.out(JSON.stringify({ noise, aa, effect: outcome }, null, 2));
    else io.out(`${describeOutcome(aa, noise)}\n\n${describeOutcome(outcome)}`);
    return 0;
  }
  io.out(
    parsed.json
      ? JSON.stringify(noise ? { noise, ...outcome } : outcome, null, 2)
      : describeOutcome(outcome, noise),
  );
  return 0;
}

export const simulateCommand: CliCommand = {
  name: 'simulate',
  summary:
    "Simulate runs through the verdict path: false-call rate, too-noisy rate and power of the settings (or of a runner's A/A RunResult).",
  help: SIMULATE_HELP,
  run: runSimulate,
};
