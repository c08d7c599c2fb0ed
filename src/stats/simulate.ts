// Synthetic runs through the verdict path validate and report use: round one of every cell, the re-run of the
// cells validate names (needsRerun), then analyseRuns over the runners. What a user of these settings would see
// over many runs: how often a no-op PR gets a call, how often a real change in one cell is found. Pure.
import type { OverallVerdict, VerdictMethod } from '../report/model.js';
import type { E2eCell, RunResult } from '../results/run-result.js';
import { analyseRuns } from './analyse.js';
import { defaultMethod, needsRerun } from './e2e.js';
import { type ArmOrder, type NoiseModel, prng, REALISTIC_DRIFT, simulatePairs } from './noise.js';
import { perCellMethod, VERDICTS } from './verdict.js';

export interface SimulationSettings {
  /** e2e cells per runner */
  cells: number;
  runners: number;
  /** noise of one sample, % */
  cvPct: number;
  /** pairs per round (the `repeats` input) */
  repeats: number;
  trials: number;
  seed: number;
  /** true change of the first cell on every runner, % (0: an A/A run) */
  effectPct: number;
  /** whichever arm runs second in a pair is slower by this, % */
  orderEffectPct: number;
  /** lag-1 autocorrelation of consecutive runs' noise */
  ar1: number;
  minEffectPct: number;
  order: ArmOrder;
  rule: VerdictMethod['rule'];
  /** slow drift across a cell's runs: a linear trend up to ±trendPct and a wave of ±wavePct */
  trendPct: number;
  wavePct: number;
}

export const DEFAULT_SIMULATION: SimulationSettings = {
  cells: 9,
  runners: 1,
  cvPct: 2,
  repeats: 8,
  trials: 2000,
  seed: 1,
  effectPct: 0,
  orderEffectPct: 0,
  ar1: 0,
  minEffectPct: 2,
  order: 'counterbalanced',
  rule: 'confirmed',
  trendPct: REALISTIC_DRIFT.trend * 100,
  wavePct: REALISTIC_DRIFT.wave * 100,
};

export interface SimulationOutcome {
  settings: SimulationSettings;
  /** fraction of runs whose verdict is a call the truth does not support (any call when effectPct is 0) */
  falseCall: number;
  /** fraction of runs whose verdict is too noisy */
  tooNoisy: number;
  /** fraction of runs whose verdict has the effect's sign; null when effectPct is 0 */
  power: number | null;
  /** fraction of runs per run verdict */
  verdicts: Record<OverallVerdict, number>;
  cells: {
    /** per cell without a true change: called improved or regressed, too noisy, re-run */
    falseCall: number;
    tooNoisy: number;
    rerun: number;
    /** the changed cell called with the effect's sign; null when effectPct is 0 */
    detected: number | null;
  };
  /** GPU time against a run without re-runs: mean rounds per cell */
  roundsPerCell: number;
}

function skeleton(runner: string, method: VerdictMethod, repeats: number, cells: E2eCell[]): RunResult {
  return {
    schema: 1,
    tool: { name: 'vllm-kernel-ci', version: 'simulate' },
    identity: {
      runner,
      vllmRepo: 'simulated',
      vllmRef: 'simulated',
      bundle: 'simulated',
      bundleHash: '',
      startedAt: '',
      finishedAt: '',
    },
    device: { vendor: 'nvidia', name: 'simulated', count: 1 },
    steps: [],
    settings: {},
    e2e: { backend: 'model', method: 'simulated', model: 'simulated', cells },
    verdicts: { ...method, repeats },
  };
}

export function methodOf(s: Pick<SimulationSettings, 'minEffectPct' | 'rule'>): VerdictMethod {
  return s.rule === 'confirmed' ? defaultMethod(s.minEffectPct) : perCellMethod(s.minEffectPct);
}

export function simulateRuns(partial: Partial<SimulationSettings> = {}): SimulationOutcome {
  const s: SimulationSettings = { ...DEFAULT_SIMULATION, ...partial };
  const rand = prng(s.seed);
  const method = methodOf(s);
  const noise: NoiseModel = {
    cv: s.cvPct / 100,
    trend: s.trendPct / 100,
    wave: s.wavePct / 100,
    orderEffect: s.orderEffectPct / 100,
    ar1: s.ar1,
    order: s.order,
  };
  const change = s.effectPct / 100;
  const wanted: OverallVerdict | undefined = change > 0 ? 'improved' : change < 0 ? 'regressed' : undefined;
  const verdicts = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<OverallVerdict, number>;
  let falseCall = 0;
  let nullCells = 0;
  let nullCalled = 0;
  let nullNoisy = 0;
  let reruns = 0;
  let changed = 0;
  let detected = 0;
  for (let t = 0; t < s.trials; t++) {
    const results: RunResult[] = [];
    for (let r = 0; r < s.runners; r++) {
      const cells: E2eCell[] = [];
      for (let c = 0; c < s.cells; c++) {
        const truth = c === 0 ? change : 0;
        const cell: E2eCell = {
          id: `cell-${c}`,
          params: {},
          metric: 'output_throughput',
          unit: 'tok/s',
          higherIsBetter: true,
          ...simulatePairs(rand, s.repeats, truth, noise),
          status: 'ok',
          reruns: 0,
        };
        // the re-run comes later, under its own drift, and is appended as validate does
        if (needsRerun(cell, method)) {
          const more = simulatePairs(rand, s.repeats, truth, noise);
          cell.baseline.push(...more.baseline);
          cell.patched.push(...more.patched);
          cell.reruns = 1;
          reruns++;
        }
        cells.push(cell);
      }
      results.push(skeleton(`runner-${r}`, method, s.repeats, cells));
    }
    const report = analyseRuns(results, { minEffectPct: s.minEffectPct, failOnRegression: false });
    const v = report.verdict.verdict;
    verdicts[v]++;
    if ((v === 'improved' || v === 'regressed') && v !== wanted) falseCall++;
    for (const runner of report.runners) {
      runner.compared.forEach(({ comparison }, i) => {
        if (i === 0 && change !== 0) {
          changed++;
          if (comparison.verdict === wanted) detected++;
          return;
        }
        nullCells++;
        if (comparison.verdict === 'improved' || comparison.verdict === 'regressed') nullCalled++;
        if (comparison.verdict === 'too-noisy') nullNoisy++;
      });
    }
  }
  const n = s.trials;
  for (const v of VERDICTS) verdicts[v] /= n;
  return {
    settings: s,
    falseCall: falseCall / n,
    tooNoisy: verdicts['too-noisy'],
    power: wanted ? verdicts[wanted] : null,
    verdicts,
    cells: {
      falseCall: nullCells ? nullCalled / nullCells : 0,
      tooNoisy: nullCells ? nullNoisy / nullCells : 0,
      rerun: reruns / (n * s.runners * s.cells),
      detected: changed ? detected / changed : null,
    },
    roundsPerCell: 1 + reruns / (n * s.runners * s.cells),
  };
}

/** Noise of a real A/A RunResult: each cell's paired log ratios, their spread as one sample's CV. */
export interface NoiseEstimate {
  cells: number;
  repeats: number;
  /** median over cells of sd(ln(patched/baseline)) / √2, % */
  cvPct: number;
  /** per cell, same estimate */
  perCell: { id: string; cvPct: number; pairs: number }[];
  /** lag-1 autocorrelation of the paired log ratios in run order, pooled over cells */
  lag1: number;
}

export function estimateNoise(result: RunResult): NoiseEstimate {
  const cells = (result.e2e?.cells ?? []).filter((c) => c.status === 'ok');
  const perCell: NoiseEstimate['perCell'] = [];
  let lagNum = 0;
  let lagDen = 0;
  for (const cell of cells) {
    const n = Math.min(cell.baseline.length, cell.patched.length);
    const d: number[] = [];
    for (let i = 0; i < n; i++) {
      const b = cell.baseline[i];
      const p = cell.patched[i];
      if (b > 0 && p > 0 && Number.isFinite(b) && Number.isFinite(p)) d.push(Math.log(p / b));
    }
    if (d.length < 3) continue;
    const mean = d.reduce((a, x) => a + x, 0) / d.length;
    const ss = d.reduce((a, x) => a + (x - mean) ** 2, 0);
    const sd = Math.sqrt(ss / (d.length - 1));
    perCell.push({ id: cell.id, cvPct: (sd / Math.SQRT2) * 100, pairs: d.length });
    for (let i = 1; i < d.length; i++) lagNum += (d[i] - mean) * (d[i - 1] - mean);
    lagDen += ss;
  }
  if (perCell.length === 0) {
    throw new Error(
      'The RunResult has no e2e cell with 3 or more usable pairs: run validate with `e2e-aa: true` and an e2e backend first.',
    );
  }
  const sorted = perCell.map((c) => c.cvPct).sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const cvPct = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  const repeats = result.verdicts?.repeats ?? Math.min(...perCell.map((c) => c.pairs));
  return { cells: perCell.length, repeats, cvPct, perCell, lag1: lagDen > 0 ? lagNum / lagDen : 0 };
}
