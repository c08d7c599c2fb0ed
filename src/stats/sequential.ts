// The sequential rule: every cell of a run judged together, the order effect fitted per cell, one robust scale
// pooled over the cells, stalled runs left out by name, and a look every `lookEvery` pairs that stops a cell
// once it is called or clear. Error control: the run's false-call rate (familyPct) is spent in equal shares over
// its cells and planned looks (Bonferroni alpha-spending), so any stopping pattern keeps it. Pure.
import type { CellComparison, CellVerdict, VerdictMethod } from '../report/model.js';
import type { E2eCell } from '../results/run-result.js';
import { driftExceeds } from './drift.js';
import {
  armCvPct,
  armDiffs,
  type Fit,
  huberFit,
  huberMoments,
  madScale,
  medianFit,
  type PairData,
  pairData,
  STALL_SCALES,
  scaledAbs,
} from './order-fit.js';
import { medianOf, normalCdf, normalQuantile } from './signed-rank.js';
import { studentQuantile } from './student.js';

/**
 * The sequential method's defaults: a look every 4 pairs, at most 24; clear once the 97.5% interval rules out
 * ±2.5 × min effect. The clear level is above 95% because a real change of that size is stopped as clear by
 * chance at every look (about 2% a look at 95%, which summed over the looks cost 3–6 points of power).
 */
export function sequentialMethod(minEffectPct: number): VerdictMethod {
  return {
    minEffectPct,
    confidencePct: CLEAR_CONFIDENCE_PCT,
    rerunConfidencePct: CLEAR_CONFIDENCE_PCT,
    rule: 'sequential',
    lookEvery: 4,
    maxPairs: 24,
    clearPct: 2.5 * minEffectPct,
    familyPct: 5,
  };
}

/** Level of the interval that clears a cell (its `confidencePct` in the recorded method). */
export const CLEAR_CONFIDENCE_PCT = 97.5;
/** Degrees of freedom the pooled scale counts for in one cell's shrunk scale (a prior worth ten residuals). */
export const PRIOR_DF = 10;
/** Fewest usable pairs a cell is judged on: one look's worth with the order effect fitted. */
export const MIN_SEQUENTIAL_PAIRS = 3;

export type LookDecision = 'stop-called' | 'stop-clean' | 'continue' | 'stop-undecided';

const toPct = (logRatio: number) => (Math.exp(logRatio) - 1) * 100;

interface Prepared {
  cell: E2eCell;
  data: PairData;
  fit?: Fit;
  stalled: { pair: number; arm: 'baseline' | 'patched' }[];
}

function settings(method: VerdictMethod) {
  const defaults = sequentialMethod(method.minEffectPct);
  const lookEvery = method.lookEvery ?? defaults.lookEvery ?? 4;
  const maxPairs = method.maxPairs ?? defaults.maxPairs ?? 16;
  return {
    lookEvery,
    maxPairs,
    looks: Math.max(1, Math.ceil(maxPairs / lookEvery)),
    clear: (method.clearPct ?? defaults.clearPct ?? 5) / 100,
    clearLevel: method.confidencePct / 100,
    family: (method.familyPct ?? 5) / 100,
  };
}

/** Nor is a run a stall within 5% of its neighbours, however quiet the machine (an order effect is not one). */
const STALL_MIN_LOG = Math.log(1 / 0.95);
/** Half-width, in pairs, of the window a run is compared with in its own arm. */
const STALL_WINDOW = 2;

/**
 * Each run's distance, in log units, from the median of its arm's neighbouring runs (a window of
 * ±STALL_WINDOW pairs, so slow drift and level shifts between rounds stay out): [baseline, patched] per usable
 * pair. The order effect stays in: a fit of few pairs with a stall in it would misplace it.
 */
function armOffsets(cell: E2eCell, data: PairData): [number, number][] {
  const b = data.index.map((i) => Math.log(cell.baseline[i]));
  const p = data.index.map((i) => Math.log(cell.patched[i]));
  const local = (xs: number[], k: number) =>
    xs[k] - medianOf(xs.slice(Math.max(0, k - STALL_WINDOW), k + STALL_WINDOW + 1));
  return data.index.map((_, k) => [local(b, k), local(p, k)]);
}

/**
 * A stalled run is far from the other runs of its own arm in the cell (further than STALL_SCALES times the
 * MAD of those distances, pooled over the run's cells, which a few stalls cannot move): its pair is left out
 * and named. Judged within the arm because a fit of few pairs spreads one outlier over its group.
 */
function prepare(cells: readonly E2eCell[], firstRound?: number): { prepared: Prepared[]; pooled: number } {
  const prepared: Prepared[] = cells.map((cell) => ({
    cell,
    data: cell.status === 'ok' ? pairData(cell, firstRound) : { d: [], s: [], index: [] },
    stalled: [],
  }));
  const fitted = prepared.filter((p) => p.data.d.length >= MIN_SEQUENTIAL_PAIRS);
  const offsets = fitted.map((p) => armOffsets(p.cell, p.data));
  const n = (p: Prepared) => p.data.d.length;
  const spread = madScale(
    fitted.flatMap((p, c) =>
      offsets[c].flatMap(([b, q]) => [b, q].map((x) => Math.abs(x) * Math.sqrt(n(p) / (n(p) - 1)))),
    ),
  );
  fitted.forEach((p, c) => {
    const keep: number[] = [];
    const limit = Math.max(STALL_SCALES * spread, STALL_MIN_LOG);
    offsets[c].forEach(([b, q], k) => {
      const worst = Math.max(Math.abs(b), Math.abs(q));
      if (worst > limit)
        p.stalled.push({ pair: p.data.index[k], arm: Math.abs(q) >= Math.abs(b) ? 'patched' : 'baseline' });
      else keep.push(k);
    });
    p.data = {
      d: keep.map((k) => p.data.d[k]),
      s: keep.map((k) => p.data.s[k]),
      index: keep.map((k) => p.data.index[k]),
    };
  });
  const kept = prepared.filter((p) => p.data.d.length >= MIN_SEQUENTIAL_PAIRS);
  const start = madScale(kept.flatMap((p) => scaledAbs(medianFit(p.data.d, p.data.s))));
  for (const p of kept) p.fit = huberFit(p.data.d, p.data.s, start);
  return { prepared, pooled: start };
}

/** Residuals winsorized at this many MAD scales: the scale keeps most of the SD's efficiency, not its tail. */
const WINSOR = 2.5;
/** E[min(Z², WINSOR²)] for standard normal Z: makes the winsorized variance consistent. */
const WINSOR_CONSISTENCY = (() => {
  const c = WINSOR;
  const phi = Math.exp(-(c * c) / 2) / Math.sqrt(2 * Math.PI);
  const tail = 1 - normalCdf(c);
  return 1 - 2 * tail - 2 * c * phi + 2 * c * c * tail;
})();

/** Sum of the winsorized squared residuals of a fit. */
function winsorizedSquares(fit: Fit, mad: number): number {
  const cap = (WINSOR * mad) ** 2;
  return fit.residuals.reduce((a, r) => a + Math.min(r * r, cap), 0) / WINSOR_CONSISTENCY;
}

function insufficient(cell: E2eCell, pairs: number, reason: string, levelPct: number): CellComparison {
  return {
    verdict: 'insufficient-data',
    deltaPct: Number.NaN,
    ciLow: Number.NaN,
    ciHigh: Number.NaN,
    borderline: false,
    pairs,
    levelPct,
    confidencePct: Number.NaN,
    baselineMedian: cell.baseline.length ? medianOf(cell.baseline) : Number.NaN,
    patchedMedian: cell.patched.length ? medianOf(cell.patched) : Number.NaN,
    reason,
  };
}

/**
 * Every cell of one run under the sequential rule. A call: the interval at the spent level (familyPct over
 * cells × planned looks) excludes 0 and |Δ| ≥ min effect. Clear ("no significant change"): the interval at
 * `confidencePct` rules out a change of clearPct either way. Otherwise too noisy: the cell wants more pairs.
 */
export function judgeSequential(
  cells: readonly E2eCell[],
  method: VerdictMethod,
  firstRound?: number,
): CellComparison[] {
  const set = settings(method);
  const alpha = set.family / (Math.max(1, cells.length) * set.looks);
  const levelPct = Number(((1 - alpha) * 100).toFixed(2));
  const { prepared, pooled: mad } = prepare(cells, firstRound);
  const dfOf = (p: Prepared) => (p.fit ? p.data.d.length - p.fit.params : 0);
  const totalDf = prepared.reduce((a, p) => a + dfOf(p), 0);
  const squares = prepared.map((p) => (p.fit ? winsorizedSquares(p.fit, mad) : 0));
  const totalSquares = squares.reduce((a, x) => a + x, 0);
  // each cell's scale: its own winsorized variance shrunk toward the other cells' pooled one
  const scales = prepared.map((p, c) => {
    const nu = dfOf(p);
    if (!p.fit || nu < 1) return { scale: Number.NaN, df: 0, own: Number.NaN };
    const ownVar = squares[c] / nu;
    const othersDf = totalDf - nu;
    const nu0 = Math.min(PRIOR_DF, othersDf);
    const pooledVar = othersDf > 0 ? (totalSquares - squares[c]) / othersDf : 0;
    const scale = Math.sqrt((nu0 * pooledVar + nu * ownVar) / (nu0 + nu));
    return { scale, df: nu0 + nu, own: Math.sqrt(ownVar) };
  });
  const fits = prepared.map((p, c) =>
    p.fit && scales[c].scale > 0 ? huberFit(p.data.d, p.data.s, scales[c].scale) : p.fit,
  );
  // the sandwich factor of the Huber estimate, pooled over cells (too few residuals in one)
  let dpsi = 0;
  let psi2 = 0;
  let count = 0;
  fits.forEach((fit, c) => {
    if (!fit || !(scales[c].scale > 0)) return;
    const n = fit.residuals.length;
    for (const r of fit.residuals) {
      const m = huberMoments(r / scales[c].scale);
      dpsi += m.dpsi;
      psi2 += (m.psi2 * n) / (n - fit.params);
      count++;
    }
  });
  const kappa = count && dpsi > 0 ? Math.sqrt(psi2 / count) / (dpsi / count) : 1;
  return prepared.map((p, c) => {
    const cell = p.cell;
    if (cell.status === 'failed')
      return insufficient(cell, 0, `the cell failed: ${cell.reason ?? 'no reason given'}`, levelPct);
    if (cell.status === 'not-run') return insufficient(cell, 0, cell.reason ?? 'not run', levelPct);
    const fit = fits[c];
    const { scale, df, own } = scales[c];
    const stalled = p.stalled.length ? { stalled: p.stalled } : {};
    if (!fit || !(scale > 0) || df < 1) {
      return {
        ...insufficient(
          cell,
          p.data.d.length,
          `${p.data.d.length} usable pairs${p.stalled.length ? ` after ${p.stalled.length} stalled left out` : ''}; at least ${MIN_SEQUENTIAL_PAIRS} are needed`,
          levelPct,
        ),
        ...stalled,
      };
    }
    const n = p.data.d.length;
    const sumS = p.data.s.reduce((a, x) => a + x, 0);
    const design = fit.params === 2 ? n / (n * n - sumS * sumS) : 1 / n;
    const se = kappa * scale * Math.sqrt(design);
    const tCall = studentQuantile(1 - alpha / 2, df);
    const tClear = studentQuantile(1 - (1 - set.clearLevel) / 2, df);
    const ciLow = toPct(fit.mu - tCall * se);
    const ciHigh = toPct(fit.mu + tCall * se);
    const deltaPct = toPct(fit.mu);
    const m = method.minEffectPct;
    let verdict: CellVerdict;
    // a warm-up curve across the cell's runs is not a steady state, whatever the pairs say (drift.ts)
    const drifted = driftExceeds(cell.drift);
    if (drifted) {
      verdict = 'too-noisy';
    } else if ((ciLow > 0 || ciHigh < 0) && Math.abs(deltaPct) >= m) {
      verdict = deltaPct > 0 === cell.higherIsBetter ? 'improved' : 'regressed';
    } else if (fit.mu - tClear * se > -set.clear && fit.mu + tClear * se < set.clear) {
      verdict = 'no-significant-change';
    } else {
      verdict = 'too-noisy';
    }
    return {
      verdict,
      deltaPct,
      ciLow,
      ciHigh,
      borderline: verdict === 'too-noisy',
      pairs: n,
      levelPct,
      confidencePct: levelPct,
      baselineMedian: medianOf(cell.baseline),
      patchedMedian: medianOf(cell.patched),
      ...(fit.params === 2 ? { orderEffectPct: toPct(fit.gamma) } : {}),
      ...(Number.isFinite(own) ? { residualPct: own * 100 } : {}),
      ...stalled,
      ...(drifted && cell.drift
        ? {
            reason: `drifted ${cell.drift.pct >= 0 ? '+' : '−'}${Math.abs(cell.drift.pct).toFixed(1)}% across the cell, beyond its noise of ${cell.drift.noisePct.toFixed(1)}%: not a steady state`,
          }
        : verdict === 'too-noisy'
          ? {
              reason: `the ${method.confidencePct}% interval [${toPct(fit.mu - tClear * se).toFixed(1)}%, ${toPct(fit.mu + tClear * se).toFixed(1)}%] does not rule out a ${(set.clear * 100).toFixed(1)}% change`,
            }
          : {}),
    };
  });
}

/**
 * The sequential rule's decision after a look, per cell (same order as `cells`): stop a called or clear cell,
 * continue an undecided one until it holds `maxPairs` pairs. The e2e runner calls it after every `lookEvery`
 * pairs of every cell still running, with all of the run's cells (the scale is pooled over them).
 */
export function nextLook(
  cells: readonly E2eCell[],
  method: VerdictMethod,
  firstRound?: number,
): LookDecision[] {
  return judgeSequential(cells, method, firstRound).map((c, i) => decide(cells[i], c, method));
}

/** One cell's decision from its judged comparison (see nextLook). */
export function decide(cell: E2eCell, c: CellComparison, method: VerdictMethod): LookDecision {
  if (cell.status !== 'ok') return 'stop-undecided';
  if (c.verdict === 'improved' || c.verdict === 'regressed') return 'stop-called';
  if (c.verdict === 'no-significant-change') return 'stop-clean';
  return Math.min(cell.baseline.length, cell.patched.length) < settings(method).maxPairs
    ? 'continue'
    : 'stop-undecided';
}

/**
 * Which cells get their next `lookEvery` pairs after a look (indices into `cells`): with no budget, every cell the
 * look continues; with one, only the continuing cell lookPriority ranks first among those whose next pairs the
 * budget left still pays for (`cost`: one pair of each cell in the budget's unit), so a look at a time goes to
 * the cell nearest a call. Serving every open cell while the budget covers them spends it on null cells first: a
 * patched arm at 4% CV found a −5% change in 55% of runs so, in 88% one look at a time (9 cells, 8 pairs a cell).
 * None: the run is done.
 */
export function nextServed(
  cells: readonly E2eCell[],
  method: VerdictMethod,
  budgetLeft = Number.POSITIVE_INFINITY,
  cost: readonly number[] = cells.map(() => 1),
  firstRound?: number,
): number[] {
  const k = settings(method).lookEvery;
  const open = judgeSequential(cells, method, firstRound)
    .map((c, i) => ({ i, decision: decide(cells[i], c, method), priority: lookPriority(c, method) }))
    .filter((x) => x.decision === 'continue');
  if (!Number.isFinite(budgetLeft)) return open.map((x) => x.i);
  const pick = open
    .filter((x) => k * cost[x.i] <= budgetLeft)
    .sort((a, b) => b.priority - a.priority || a.i - b.i)[0];
  return pick ? [pick.i] : [];
}

/** The sequential rule's look size and per-cell cap, for the e2e runners. */
export function lookSettings(method: VerdictMethod): { lookEvery: number; maxPairs: number } {
  const { lookEvery, maxPairs } = settings(method);
  return { lookEvery, maxPairs };
}

/**
 * Which continuing cell gets pairs first when the budget cannot serve them all: the one whose data favour a
 * change of clearPct over none by the largest log-likelihood ratio, (|Δ|·E − E²/2) / SE², with the SE read
 * back from the interval; a cell without an interval yet comes first. A cell that gathers pairs while its Δ
 * stays under E/2 falls back, so a null cell cannot keep the budget from the changed one.
 */
export function lookPriority(c: CellComparison, method: VerdictMethod): number {
  const e = settings(method).clear * 100;
  const z = normalQuantile(1 - (1 - c.levelPct / 100) / 2);
  const se = (c.ciHigh - c.ciLow) / (2 * z);
  if (!(Number.isFinite(se) && se > 0)) return Number.POSITIVE_INFINITY;
  return (Math.abs(c.deltaPct) * e - (e * e) / 2) / (se * se);
}

/**
 * The cells with what the sequential rule fitted written into each (`fit`: γ, residual, pairs used, stalls), for
 * the RunResult validate writes; informational, since analyseRuns recomputes it from the samples.
 */
export function withFits(cells: readonly E2eCell[], method: VerdictMethod, firstRound?: number): E2eCell[] {
  const judged = judgeSequential(cells, method, firstRound);
  return cells.map((cell, i) => {
    const c = judged[i];
    if (cell.status !== 'ok') return cell;
    return {
      ...cell,
      fit: {
        ...(c.orderEffectPct === undefined ? {} : { orderEffectPct: c.orderEffectPct }),
        ...(c.residualPct === undefined ? {} : { residualPct: c.residualPct }),
        pairsUsed: c.pairs,
        ...(c.stalled ? { stalled: c.stalled } : {}),
      },
    };
  });
}

/** The arms' noise of one sample, pooled over the run's cells, and whether the patched arm is the noisier. */
export interface ArmsSpread {
  baselineCvPct: number;
  patchedCvPct: number;
  /** patched against baseline, as a ratio of the two CVs */
  ratio: number;
  /** the patched arm's CV is at least NOISIER_RATIO times the baseline's */
  patchedNoisier: boolean;
}

/** Ratio of the arms' CVs past which the report names the patched arm as noisier. */
export const NOISIER_RATIO = 1.5;

export function armsSpread(cells: readonly E2eCell[], firstRound?: number): ArmsSpread | undefined {
  const b: number[] = [];
  const p: number[] = [];
  for (const cell of cells) {
    if (cell.status !== 'ok') continue;
    const data = pairData(cell, firstRound);
    if (data.d.length < MIN_SEQUENTIAL_PAIRS) continue;
    const diffs = armDiffs(cell, data, medianFit(data.d, data.s).gamma);
    b.push(...diffs.baseline);
    p.push(...diffs.patched);
  }
  if (b.length < 2 * MIN_SEQUENTIAL_PAIRS) return undefined;
  const baselineCvPct = armCvPct(b);
  const patchedCvPct = armCvPct(p);
  const ratio = patchedCvPct / baselineCvPct;
  return { baselineCvPct, patchedCvPct, ratio, patchedNoisier: ratio >= NOISIER_RATIO };
}
