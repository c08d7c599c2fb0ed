// Wilcoxon signed-rank machinery: the exact null distribution, Walsh averages, Hodges–Lehmann estimate and its interval. Pure.

const countsCache = new Map<number, readonly number[]>();

/** Count of sign assignments of ranks 1..n whose positive-rank sum is t, for t = 0..n(n+1)/2 (computed once per n). */
export function signedRankCounts(n: number): readonly number[] {
  let counts = countsCache.get(n);
  if (!counts) {
    counts = computeCounts(n);
    countsCache.set(n, counts);
  }
  return counts;
}

function computeCounts(n: number): number[] {
  const max = (n * (n + 1)) / 2;
  const counts = new Array<number>(max + 1).fill(0);
  counts[0] = 1;
  for (let rank = 1; rank <= n; rank++) {
    for (let t = max; t >= rank; t--) counts[t] += counts[t - rank];
  }
  countsCache.set(n, counts);
  return counts;
}

/**
 * The largest c with P(T ≤ c) ≤ alpha/2 under the null (T = positive-rank sum of n pairs), or -1 when even
 * T = 0 is more likely than that (n too small to reach this confidence).
 */
export function signedRankCritical(n: number, alpha: number): number {
  const counts = signedRankCounts(n);
  const total = 2 ** n;
  let cumulative = 0;
  let c = -1;
  for (let t = 0; t < counts.length; t++) {
    cumulative += counts[t];
    if (cumulative / total > alpha / 2) break;
    c = t;
  }
  return c;
}

/** The smallest number of pairs whose exact signed-rank interval reaches confidence 1 - alpha. */
export function minPairsFor(alpha: number): number {
  let n = 1;
  while (signedRankCritical(n, alpha) < 0) n++;
  return n;
}

/** All n(n+1)/2 pairwise means (d_i + d_j)/2, i ≤ j, sorted ascending (sorted as a typed array: no comparator calls). */
export function walshAverages(d: readonly number[]): number[] {
  const out = new Float64Array((d.length * (d.length + 1)) / 2);
  let k = 0;
  for (let i = 0; i < d.length; i++) for (let j = i; j < d.length; j++) out[k++] = (d[i] + d[j]) / 2;
  return Array.from(out.sort());
}

export function median(sorted: ArrayLike<number>): number {
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function medianOf(values: readonly number[]): number {
  return median([...values].sort((a, b) => a - b));
}

export interface ShiftInterval {
  /** Hodges–Lehmann estimate: the median of the Walsh averages */
  estimate: number;
  low: number;
  high: number;
  /** coverage of [low, high] under the null, in % (≥ the asked-for level; exact up to EXACT_MAX_PAIRS, then normal); NaN when unreachable */
  confidencePct: number;
  /** false when there are too few pairs to reach the asked-for confidence */
  reached: boolean;
}

/**
 * Above this many pairs the critical value comes from the normal approximation of T (mean n(n+1)/4, variance
 * n(n+1)(2n+1)/24, continuity-corrected): the exact distribution costs O(n³) and 2^n overflows past 1023 pairs,
 * while at 200 pairs the two critical values differ by at most one rank. The whole interval is then O(n² log n),
 * the sort of the Walsh averages.
 */
export const EXACT_MAX_PAIRS = 200;

/** Φ, the standard normal CDF (Abramowitz–Stegun 7.1.26 through erf; |error| < 1.5e-7). */
export function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const poly =
    t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-z * z);
  return x >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/** Φ⁻¹(p) for 0 < p < 1 (Acklam's rational approximation, relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const tail = (q: number) =>
    (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
    ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) /
    (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
  );
}

/** The normal approximation's critical value and the coverage it gives, for n > EXACT_MAX_PAIRS. */
function normalCritical(n: number, alpha: number): { c: number; coverage: number } {
  const mean = (n * (n + 1)) / 4;
  const sd = Math.sqrt((n * (n + 1) * (2 * n + 1)) / 24);
  const c = Math.max(-1, Math.floor(mean + normalQuantile(alpha / 2) * sd - 0.5));
  return { c, coverage: 1 - 2 * normalCdf((c + 0.5 - mean) / sd) };
}

/**
 * Hodges–Lehmann estimate and the exact distribution-free confidence interval for the centre of a symmetric
 * distribution of paired differences (Walsh averages ranked at the signed-rank critical value).
 */
export function signedRankInterval(d: readonly number[], confidence = 0.95): ShiftInterval {
  const n = d.length;
  const walsh = walshAverages(d);
  const estimate = median(walsh);
  if (n > EXACT_MAX_PAIRS) {
    const { c, coverage } = normalCritical(n, 1 - confidence);
    return {
      estimate,
      low: walsh[c],
      high: walsh[walsh.length - 1 - c],
      confidencePct: coverage * 100,
      reached: true,
    };
  }
  const c = signedRankCritical(n, 1 - confidence);
  if (c < 0)
    return { estimate, low: Number.NaN, high: Number.NaN, confidencePct: Number.NaN, reached: false };
  const counts = signedRankCounts(n);
  let tail = 0;
  for (let t = 0; t <= c; t++) tail += counts[t];
  return {
    estimate,
    low: walsh[c],
    high: walsh[walsh.length - 1 - c],
    confidencePct: (1 - (2 * tail) / 2 ** n) * 100,
    reached: true,
  };
}
