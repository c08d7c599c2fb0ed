// Wilcoxon signed-rank machinery: the exact null distribution, Walsh averages, Hodges–Lehmann estimate and its interval. Pure.

/** Count of sign assignments of ranks 1..n whose positive-rank sum is t, for t = 0..n(n+1)/2. */
const countsCache = new Map<number, number[]>();

export function signedRankCounts(n: number): number[] {
  const cached = countsCache.get(n);
  if (cached) return cached;
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

/** All n(n+1)/2 pairwise means (d_i + d_j)/2, i ≤ j, sorted ascending. */
export function walshAverages(d: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < d.length; i++) for (let j = i; j < d.length; j++) out.push((d[i] + d[j]) / 2);
  return out.sort((a, b) => a - b);
}

export function median(sorted: readonly number[]): number {
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
  /** exact coverage of [low, high] under the null, in % (≥ the asked-for level); NaN when unreachable */
  confidencePct: number;
  /** false when there are too few pairs to reach the asked-for confidence */
  reached: boolean;
}

/**
 * Hodges–Lehmann estimate and the exact distribution-free confidence interval for the centre of a symmetric
 * distribution of paired differences (Walsh averages ranked at the signed-rank critical value).
 */
export function signedRankInterval(d: readonly number[], confidence = 0.95): ShiftInterval {
  const n = d.length;
  const walsh = walshAverages(d);
  const estimate = median(walsh);
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
