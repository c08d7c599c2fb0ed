// Per cell: the paired log ratios fitted as d = μ + γ·s + ε (s = +1 when the patched arm ran second), a robust
// scale pooled over the run's cells, stalled runs found against it, and the arms' spreads. Pure.
import type { E2eCell } from '../results/run-result.js';
import { blocksUsed, counterbalancedOrder } from './arm-order.js';
import { median } from './signed-rank.js';

/** Consistency of the MAD with the standard deviation of normal noise. */
const MAD_SD = 1.4826;
/** A residual this many pooled scales from its cell's fit is a stalled (or spiking) run: named and left out. */
export const STALL_SCALES = 5;
/** Huber's tuning constant: 95% efficiency under normal noise, bounded influence under heavy tails. */
const HUBER_K = 1.345;

/**
 * Which arm ran second in each pair, +1 patched / −1 baseline. `firstRound` pairs follow the counterbalanced
 * order (A B B A, B A A B), later pairs continue it at the next block, as both e2e backends run them; `legacy`:
 * RunResults recorded before that order (no `verdicts`) alternated the pairs (A B, B A, A B, …).
 */
export function pairSigns(n: number, firstRound = n, legacy = false): number[] {
  if (legacy) return Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 1 : -1));
  const first = Math.min(n, firstRound);
  const opens = [
    ...counterbalancedOrder(first).filter((_, k) => k % 2 === 0),
    ...counterbalancedOrder(n - first, blocksUsed(first)).filter((_, k) => k % 2 === 0),
  ];
  return opens.map((arm) => (arm === 'baseline' ? 1 : -1));
}

export interface PairData {
  /** ln(patched / baseline) of the usable pairs */
  d: number[];
  s: number[];
  /** index of each usable pair in the cell */
  index: number[];
}

const usable = (v: number) => Number.isFinite(v) && v > 0;

export function pairData(cell: E2eCell, firstRound?: number, legacy = false): PairData {
  const n = Math.min(cell.baseline.length, cell.patched.length);
  const signs = pairSigns(n, firstRound ?? n, legacy);
  const out: PairData = { d: [], s: [], index: [] };
  for (let i = 0; i < n; i++) {
    if (!usable(cell.baseline[i]) || !usable(cell.patched[i])) continue;
    out.d.push(Math.log(cell.patched[i] / cell.baseline[i]));
    out.s.push(signs[i]);
    out.index.push(i);
  }
  return out;
}

const sortedMedian = (xs: number[]) => median(Float64Array.from(xs).sort());

/** True when both arms ran second at least once, so γ is estimable apart from μ. */
const balancedEnough = (s: readonly number[]) => s.includes(1) && s.includes(-1);

export interface Fit {
  mu: number;
  gamma: number;
  residuals: number[];
  /** parameters fitted: 2 with γ, 1 without */
  params: number;
}

/** Start of the robust fit: half sum and half difference of the two groups' medians (exact in balanced designs). */
export function medianFit(d: readonly number[], s: readonly number[]): Fit {
  if (!balancedEnough(s)) {
    const mu = sortedMedian([...d]);
    return { mu, gamma: 0, residuals: d.map((x) => x - mu), params: 1 };
  }
  const plus = sortedMedian(d.filter((_, i) => s[i] > 0));
  const minus = sortedMedian(d.filter((_, i) => s[i] < 0));
  const mu = (plus + minus) / 2;
  const gamma = (plus - minus) / 2;
  return { mu, gamma, residuals: d.map((x, i) => x - mu - gamma * s[i]), params: 2 };
}

/** Huber M-estimate of (μ, γ) at a fixed scale by iteratively reweighted least squares, from the median fit. */
export function huberFit(d: readonly number[], s: readonly number[], scale: number): Fit {
  let fit = medianFit(d, s);
  if (!(scale > 0)) return fit;
  for (let iter = 0; iter < 20; iter++) {
    let sw = 0;
    let sws = 0;
    let swss = 0;
    let swd = 0;
    let swsd = 0;
    for (let i = 0; i < d.length; i++) {
      const u = Math.abs(fit.residuals[i]) / scale;
      const w = u <= HUBER_K ? 1 : HUBER_K / u;
      sw += w;
      sws += w * s[i];
      swss += w * s[i] * s[i];
      swd += w * d[i];
      swsd += w * s[i] * d[i];
    }
    let mu: number;
    let gamma: number;
    const det = sw * swss - sws * sws;
    if (fit.params === 2 && det > 1e-12) {
      mu = (swss * swd - sws * swsd) / det;
      gamma = (sw * swsd - sws * swd) / det;
    } else {
      mu = swd / sw;
      gamma = 0;
    }
    const moved = Math.abs(mu - fit.mu) + Math.abs(gamma - fit.gamma);
    fit = { mu, gamma, residuals: d.map((x, i) => x - mu - gamma * s[i]), params: fit.params };
    if (moved < 1e-10) break;
  }
  return fit;
}

/** |residuals| scaled up for the parameters fitted, so cells of few pairs pool on equal terms. */
export function scaledAbs(fit: Fit): number[] {
  const n = fit.residuals.length;
  const f = n > fit.params ? Math.sqrt(n / (n - fit.params)) : Number.NaN;
  return fit.residuals.map((r) => Math.abs(r) * f);
}

/** MAD-based scale (one pair's residual SD) of a set of scaled |residuals|. */
export function madScale(abs: readonly number[]): number {
  const finite = abs.filter(Number.isFinite);
  return finite.length ? MAD_SD * sortedMedian(finite) : Number.NaN;
}

/** ψ'(u) and ψ(u)² of Huber's function, for the sandwich variance of the M-estimate. */
export function huberMoments(u: number): { dpsi: number; psi2: number } {
  const a = Math.abs(u);
  return a <= HUBER_K ? { dpsi: 1, psi2: u * u } : { dpsi: 0, psi2: HUBER_K * HUBER_K };
}

/**
 * Each arm's noise of one sample, from successive differences within the arm (slow drift cancels), after the
 * order effect is taken out of the arm's runs that were second: MAD-based, in log units.
 */
export function armDiffs(
  cell: E2eCell,
  data: PairData,
  gamma: number,
): { baseline: number[]; patched: number[] } {
  const out = { baseline: [] as number[], patched: [] as number[] };
  for (let k = 1; k < data.index.length; k++) {
    const i = data.index[k];
    const j = data.index[k - 1];
    const b = (x: number, s: number) => Math.log(cell.baseline[x]) - (s < 0 ? gamma : 0);
    const p = (x: number, s: number) => Math.log(cell.patched[x]) - (s > 0 ? gamma : 0);
    out.baseline.push(Math.abs(b(i, data.s[k]) - b(j, data.s[k - 1])));
    out.patched.push(Math.abs(p(i, data.s[k]) - p(j, data.s[k - 1])));
  }
  return out;
}

/** One sample's CV from |successive differences| of an arm: MAD scale / √2, in %. */
export function armCvPct(absDiffs: readonly number[]): number {
  return (madScale(absDiffs) / Math.SQRT2) * 100;
}
