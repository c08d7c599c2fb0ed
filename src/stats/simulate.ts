// Synthetic runs through the verdict path validate and report use: the sequential rule's looks (nextServed, as
// both e2e runners call it), or the confirmed rule's round and re-run (needsRerun), then analyseRuns over the
// runners. What a user of these settings would see
// over many runs: how often a no-op PR gets a call, how often a real change in one cell is found. Pure.
import type { OverallVerdict, VerdictMethod } from '../report/model.js';
import type { E2eCell, RunResult } from '../results/run-result.js';
import { analyseRuns } from './analyse.js';
import { confirmedMethod, needsRerun } from './e2e.js';
import { type ArmOrder, type NoiseModel, prng, REALISTIC_DRIFT, simulatePairs } from './noise.js';
import { huberFit, pairData } from './order-fit.js';
import { lookSettings, nextServed, sequentialMethod } from './sequential.js';
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
  /** runs that stall, %, and the throughput a stalled run keeps */
  stallRatePct: number;
  stallFactor: number;
  /** the patched arm's noise of one sample, %; the baseline's (cvPct) when absent */
  cvPatchedPct?: number;
  /** Student-t noise of this many degrees of freedom (heavy tails); 0: normal */
  tailDf: number;
  /**
   * pairs per cell the run can afford (the budget-fitted plan's repeats): the sequential rule spends
   * pairs × cells over its looks; the other rules run this many pairs a round. 0: no budget
   */
  pairs: number;
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
  rule: 'sequential',
  trendPct: REALISTIC_DRIFT.trend * 100,
  wavePct: REALISTIC_DRIFT.wave * 100,
  stallRatePct: 0,
  stallFactor: 0.7,
  tailDf: 0,
  pairs: 0,
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
  /** mean pairs a cell ran (re-runs and later looks included) */
  meanPairsPerCell: number;
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
  if (s.rule === 'sequential') return sequentialMethod(s.minEffectPct);
  return s.rule === 'confirmed' ? confirmedMethod(s.minEffectPct) : perCellMethod(s.minEffectPct);
}

function simCell(c: number, pairs: { baseline: number[]; patched: number[] }): E2eCell {
  return {
    id: `cell-${c}`,
    params: {},
    metric: 'output_throughput',
    unit: 'tok/s',
    higherIsBetter: true,
    ...pairs,
    status: 'ok',
    reruns: 0,
  };
}

/**
 * One runner's cells under the sequential rule, as the e2e runners run them: every cell's first `lookEvery` pairs
 * of its stream, then look after look more of the streams nextServed names, with a budget of `budgetPairs` pairs
 * in all when one is given (cells assumed to cost the same).
 */
export function runLooks(
  streams: readonly { baseline: readonly number[]; patched: readonly number[] }[],
  method: VerdictMethod,
  budgetPairs = Number.POSITIVE_INFINITY,
): E2eCell[] {
  const { lookEvery: k, maxPairs: max } = lookSettings(method);
  const shown = streams.map(() => Math.min(k, max));
  let budget = budgetPairs - k * streams.length;
  const view = () =>
    streams.map((f, c) =>
      simCell(c, { baseline: f.baseline.slice(0, shown[c]), patched: f.patched.slice(0, shown[c]) }),
    );
  for (;;) {
    const cells = view();
    const served = nextServed(cells, method, budget, undefined, k);
    if (served.length === 0) return cells;
    for (const c of served) {
      shown[c] = Math.min(max, shown[c] + k);
      budget -= k;
    }
  }
}

function sequentialCells(
  rand: () => number,
  s: SimulationSettings,
  method: VerdictMethod,
  noise: NoiseModel,
  change: number,
): E2eCell[] {
  const max = lookSettings(method).maxPairs;
  const streams = Array.from({ length: s.cells }, (_, c) =>
    simulatePairs(rand, max, c === 0 ? change : 0, noise),
  );
  return runLooks(streams, method, s.pairs > 0 ? s.pairs * s.cells : Number.POSITIVE_INFINITY);
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
    cvPatched: s.cvPatchedPct === undefined ? undefined : s.cvPatchedPct / 100,
    stallRate: s.stallRatePct / 100,
    stallFactor: s.stallFactor,
    tailDf: s.tailDf > 0 ? s.tailDf : undefined,
  };
  const repeats = s.pairs > 0 ? s.pairs : s.repeats;
  let pairsRun = 0;
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
      if (method.rule === 'sequential') {
        cells.push(...sequentialCells(rand, s, method, noise, change));
        for (const cell of cells) if (cell.baseline.length > (method.lookEvery ?? 4)) reruns++;
      } else {
        for (let c = 0; c < s.cells; c++) {
          const truth = c === 0 ? change : 0;
          const cell = simCell(c, simulatePairs(rand, repeats, truth, noise));
          // the re-run comes later, under its own drift, and is appended as validate does
          if (needsRerun(cell, method)) {
            const more = simulatePairs(rand, repeats, truth, noise);
            cell.baseline.push(...more.baseline);
            cell.patched.push(...more.patched);
            cell.reruns = 1;
            reruns++;
          }
          cells.push(cell);
        }
      }
      for (const cell of cells) pairsRun += cell.baseline.length;
      const first = method.rule === 'sequential' ? (method.lookEvery ?? 4) : repeats;
      results.push(skeleton(`runner-${r}`, method, first, cells));
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
    meanPairsPerCell: pairsRun / (n * s.runners * s.cells),
  };
}

/** Noise of a real A/A RunResult: per cell, the fit d = μ + γ·s + ε of its pairs, and the worst cell. */
export interface NoiseEstimate {
  cells: number;
  repeats: number;
  /** the worst cell's residual noise of one sample (residual SD of a pair / √2), %: what the simulation uses */
  cvPct: number;
  /** the cell it comes from */
  worst: string;
  /** the largest |γ| over the cells, %: the simulation's order effect */
  orderEffectPct: number;
  /** per cell: raw CV (sd of d / √2, the order effect in it), γ and the residual CV, % */
  perCell: { id: string; cvPct: number; orderEffectPct: number; residualCvPct: number; pairs: number }[];
  /** lag-1 autocorrelation of the fit's residuals in run order, pooled over cells */
  lag1: number;
}

export function estimateNoise(result: RunResult): NoiseEstimate {
  const cells = (result.e2e?.cells ?? []).filter((c) => c.status === 'ok');
  // RunResults without a recorded method ran the pairs in the order before the counterbalanced one
  const legacy = result.verdicts === undefined;
  const perCell: NoiseEstimate['perCell'] = [];
  let lagNum = 0;
  let lagDen = 0;
  for (const cell of cells) {
    const { d, s } = pairData(cell, result.verdicts?.repeats, legacy);
    if (d.length < 4) continue;
    const mean = d.reduce((a, x) => a + x, 0) / d.length;
    const sd = Math.sqrt(d.reduce((a, x) => a + (x - mean) ** 2, 0) / (d.length - 1));
    // least squares: the residuals' own spread is what the order effect leaves
    const fit = huberFit(d, s, Number.POSITIVE_INFINITY);
    const ss = fit.residuals.reduce((a, r) => a + r * r, 0);
    const residualSd = Math.sqrt(ss / (d.length - fit.params));
    perCell.push({
      id: cell.id,
      cvPct: (sd / Math.SQRT2) * 100,
      orderEffectPct: (Math.exp(fit.gamma) - 1) * 100,
      residualCvPct: (residualSd / Math.SQRT2) * 100,
      pairs: d.length,
    });
    for (let i = 1; i < d.length; i++) lagNum += fit.residuals[i] * fit.residuals[i - 1];
    lagDen += ss;
  }
  if (perCell.length === 0) {
    throw new Error(
      'The RunResult has no e2e cell with 4 or more usable pairs: run validate with `e2e-aa: true` and an e2e backend first.',
    );
  }
  const worst = perCell.reduce((a, c) => (c.residualCvPct > a.residualCvPct ? c : a));
  const repeats = result.verdicts?.repeats ?? Math.min(...perCell.map((c) => c.pairs));
  return {
    cells: perCell.length,
    repeats,
    cvPct: worst.residualCvPct,
    worst: worst.id,
    orderEffectPct: Math.max(...perCell.map((c) => Math.abs(c.orderEffectPct))),
    perCell,
    lag1: lagDen > 0 ? lagNum / lagDen : 0,
  };
}
