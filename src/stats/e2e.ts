// End-to-end A/B cells: relative change of the patched arm with a 95% interval, and the verdict. Pure.
//
// Method: the arms run interleaved (A B A B …), so repeat i of each arm forms a pair that shares the machine's
// state at that moment. We take d_i = ln(patched_i / baseline_i), the Hodges–Lehmann estimate of their centre
// and the exact Wilcoxon signed-rank interval (rank-based, not bootstrap): its coverage is exact and
// distribution-free at the 6–10 pairs a GPU job can afford, where a percentile bootstrap undercovers (its A/A
// false-call rate is measured in test/stats-simulation.test.ts), and one hiccup repeat cannot drag the estimate
// (it widens the interval instead, which asks for a re-run).
import type { CellComparison, CellVerdict, ComparedCell, VerdictMethod } from '../report/model.js';
import type { E2e, E2eCell } from '../results/run-result.js';
import { driftExceeds } from './drift.js';
import { judgeSequential, sequentialMethod } from './sequential.js';
import { medianOf, minPairsFor, signedRankInterval } from './signed-rank.js';

export type { CellComparison, CellVerdict, ComparedCell } from '../report/model.js';

export const CONFIDENCE = 0.95;
/**
 * A re-run cell is looked at twice (its first repeats, then all of them): the second look uses a stricter
 * level so that the two looks together keep the A/A false-call rate under 5% (measured in the simulation).
 */
export const RERUN_CONFIDENCE = 0.975;
/** Fewer samples than this in an arm is insufficient data whatever the method. */
export const MIN_SAMPLES = 3;
/** Pairs the exact 95% signed-rank interval needs (6: with 5, even five of five in one direction has p = 0.0625). */
export const MIN_PAIRS = minPairsFor(1 - CONFIDENCE);

export interface CompareOptions {
  minEffectPct: number;
  /** first-look and re-run levels, %: 95 and 97.5 unless given */
  confidencePct?: number;
  rerunConfidencePct?: number;
}

const levelOf = (cell: E2eCell, opts: CompareOptions) =>
  (cell.reruns ?? 0) > 0
    ? (opts.rerunConfidencePct ?? RERUN_CONFIDENCE * 100)
    : (opts.confidencePct ?? CONFIDENCE * 100);

/** The method validate records and both e2e runners follow: the sequential rule (src/stats/sequential.ts). */
export function defaultMethod(minEffectPct: number): VerdictMethod {
  return sequentialMethod(minEffectPct);
}

/**
 * 95%, 97.5% once re-run, every call confirmed by a re-run: what validate recorded before the sequential rule,
 * kept to judge those RunResults and for `simulate --rule confirmed`.
 */
export function confirmedMethod(minEffectPct: number): VerdictMethod {
  return {
    minEffectPct,
    confidencePct: CONFIDENCE * 100,
    rerunConfidencePct: RERUN_CONFIDENCE * 100,
    rule: 'confirmed',
  };
}

const toPct = (logRatio: number) => (Math.exp(logRatio) - 1) * 100;
const usable = (v: number) => Number.isFinite(v) && v > 0;

function insufficient(cell: E2eCell, pairs: number, reason: string, opts: CompareOptions): CellComparison {
  return {
    verdict: 'insufficient-data',
    deltaPct: Number.NaN,
    ciLow: Number.NaN,
    ciHigh: Number.NaN,
    borderline: false,
    pairs,
    levelPct: Number(levelOf(cell, opts).toFixed(1)),
    confidencePct: Number.NaN,
    baselineMedian: cell.baseline.length ? medianOf(cell.baseline) : Number.NaN,
    patchedMedian: cell.patched.length ? medianOf(cell.patched) : Number.NaN,
    reason,
  };
}

/**
 * Compares one e2e cell. A change is real only when |Δ| ≥ the minimum effect AND the 95% interval excludes
 * zero. "too-noisy": the interval holds zero and reaches past the minimum effect on BOTH sides, so the data
 * fit a real regression as well as a real improvement. Otherwise "no-significant-change".
 */
export function compareCell(cell: E2eCell, opts: CompareOptions): CellComparison {
  if (cell.status === 'failed')
    return insufficient(cell, 0, `the cell failed: ${cell.reason ?? 'no reason given'}`, opts);
  if (cell.status === 'not-run') return insufficient(cell, 0, cell.reason ?? 'not run', opts);
  if (cell.baseline.length < MIN_SAMPLES || cell.patched.length < MIN_SAMPLES) {
    return insufficient(
      cell,
      Math.min(cell.baseline.length, cell.patched.length),
      `${cell.baseline.length} baseline and ${cell.patched.length} patched samples; at least ${MIN_SAMPLES} an arm are needed`,
      opts,
    );
  }
  const d: number[] = [];
  const n = Math.min(cell.baseline.length, cell.patched.length);
  for (let i = 0; i < n; i++) {
    const b = cell.baseline[i];
    const p = cell.patched[i];
    if (usable(b) && usable(p)) d.push(Math.log(p / b));
  }
  const base = insufficient(cell, d.length, '', opts);
  if (d.length < MIN_SAMPLES) {
    return { ...base, reason: `only ${d.length} repeats have a positive sample in both arms` };
  }
  const interval = signedRankInterval(d, base.levelPct / 100);
  const deltaPct = toPct(interval.estimate);
  if (!interval.reached) {
    return {
      ...base,
      deltaPct,
      reason: `${d.length} pairs cannot reach a ${base.levelPct}% rank-based interval; run at least ${MIN_PAIRS} repeats`,
    };
  }
  const ciLow = toPct(interval.low);
  const ciHigh = toPct(interval.high);
  const m = opts.minEffectPct;
  const excludesZero = ciLow > 0 || ciHigh < 0;
  const largeEnough = Math.abs(deltaPct) >= m;
  let verdict: CellVerdict;
  const drifted = driftExceeds(cell.drift);
  if (drifted) {
    verdict = 'too-noisy';
  } else if (excludesZero && largeEnough) {
    verdict = deltaPct > 0 === cell.higherIsBetter ? 'improved' : 'regressed';
  } else if (!excludesZero && ciLow <= -m && ciHigh >= m) {
    verdict = 'too-noisy';
  } else {
    verdict = 'no-significant-change';
  }
  const nearestBound = Math.min(Math.abs(ciLow), Math.abs(ciHigh));
  const borderline =
    verdict === 'too-noisy' ||
    // the estimate clears the minimum effect but the interval touches zero, or a real change nearly clears it
    (largeEnough && !excludesZero) ||
    (excludesZero && !largeEnough && Math.abs(deltaPct) >= 0.75 * m) ||
    // called, but a small shift of the estimate or of the interval would undo it
    (excludesZero && largeEnough && (Math.abs(deltaPct) < 1.25 * m || nearestBound < 0.25 * m));
  return {
    verdict,
    deltaPct,
    ciLow,
    ciHigh,
    borderline,
    pairs: d.length,
    levelPct: base.levelPct,
    confidencePct: interval.confidencePct,
    baselineMedian: base.baselineMedian,
    patchedMedian: base.patchedMedian,
    ...(drifted && cell.drift
      ? {
          reason: `drifted ${cell.drift.pct >= 0 ? '+' : '−'}${Math.abs(cell.drift.pct).toFixed(1)}% across the cell, beyond its noise of ${cell.drift.noisePct.toFixed(1)}%: not a steady state`,
        }
      : {}),
  };
}

export function compareE2e(e2e: E2e, opts: CompareOptions): ComparedCell[] {
  return e2e.cells.map((cell) => ({ cell, comparison: compareCell(cell, opts) }));
}

const called = (v: CellVerdict) => v === 'improved' || v === 'regressed';

/**
 * Pairs of a cell's first round: `firstRound` (the `repeats` the GPU job recorded) when given, else an equal
 * share of the pairs per round.
 */
function firstRoundPairs(cell: E2eCell, firstRound: number | undefined): number {
  const n = Math.min(cell.baseline.length, cell.patched.length);
  const rounds = (cell.reruns ?? 0) + 1;
  return Math.min(n, firstRound ?? Math.floor(n / rounds));
}

/**
 * The verdict of one cell under a method. With the `confirmed` rule a call (improved or regressed) is
 * borderline until a re-run, and after one it stands only when the re-run's fresh pairs, judged alone as a first
 * look, make the same call: two independent rounds must agree, so the false-call rate of a whole run of many
 * cells stays near 5% (the README's run-level tables, from `vllm-kernel-ci simulate`).
 */
export function judgeCell(cell: E2eCell, method: VerdictMethod, firstRound?: number): CellComparison {
  if (method.rule === 'sequential') return judgeSequential([cell], method, firstRound)[0];
  const c = compareCell(cell, method);
  if (method.rule === 'per-cell' || !called(c.verdict)) return c;
  // validate re-runs it; a backend that could not leaves the call standing, and says so
  if ((cell.reruns ?? 0) === 0)
    return { ...c, borderline: true, reason: 'one round only: not confirmed by a re-run' };
  const start = firstRoundPairs(cell, firstRound);
  const fresh = compareCell(
    { ...cell, baseline: cell.baseline.slice(start), patched: cell.patched.slice(start), reruns: 0 },
    method,
  );
  if (fresh.verdict === c.verdict) return c;
  return {
    ...c,
    verdict: 'no-significant-change',
    reason: `not confirmed: the re-run's ${fresh.pairs} fresh pairs alone gave ${signed(fresh.deltaPct)} ${
      Number.isFinite(fresh.ciLow) ? `[${signed(fresh.ciLow)}, ${signed(fresh.ciHigh)}]` : '(no interval)'
    }, not ${c.verdict}`,
  };
}

const signed = (x: number) =>
  Number.isFinite(x) ? `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(1)}%` : 'n/a';

export function judgeE2e(e2e: E2e, method: VerdictMethod, firstRound?: number): ComparedCell[] {
  if (method.rule === 'sequential') {
    const judged = judgeSequential(e2e.cells, method, firstRound);
    return e2e.cells.map((cell, i) => ({ cell, comparison: judged[i] }));
  }
  return e2e.cells.map((cell) => ({ cell, comparison: judgeCell(cell, method, firstRound) }));
}

/**
 * Whether the confirmed (or per-cell) rule runs a cell once more before the final verdict (a cell already re-run
 * is not named again): what validate did before the sequential rule, as `simulate --rule confirmed` replays it.
 */
export function needsRerun(cell: E2eCell, method: VerdictMethod): boolean {
  return (cell.reruns ?? 0) === 0 && cell.status === 'ok' && judgeCell(cell, method).borderline;
}
