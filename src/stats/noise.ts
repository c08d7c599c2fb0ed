// A seeded model of e2e throughput noise for simulations: log-normal samples, slow drift across a cell's runs,
// an optional penalty on whichever arm runs second in a pair, AR(1) correlation between consecutive runs, stalled
// runs, a noisier patched arm, heavy (Student-t) tails, and the arms' order (A B A B, or counterbalanced A B B A, B A A B). Pure given the generator.
import type { E2eCell } from '../results/run-result.js';
import { counterbalancedOrder } from './arm-order.js';

/** sfc32: small, fast, good enough for simulation, and the same sequence on every machine. */
export function prng(seed: number): () => number {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 15; i++) next();
  return next;
}

export function normal(rand: () => number): number {
  const u = 1 - rand();
  const v = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

export type ArmOrder = 'alternating' | 'counterbalanced';

export interface NoiseModel {
  /** coefficient of variation of one sample, e.g. 0.02 */
  cv: number;
  /** total relative change over the whole cell from a linear trend drawn in ±trend (e.g. 0.04) */
  trend: number;
  /** amplitude of a slow wave (at most one cycle per cell), e.g. 0.02 */
  wave: number;
  /** whichever arm runs second in a pair is slower by this fraction (warm caches, clocks), e.g. 0.015 */
  orderEffect?: number;
  /** lag-1 autocorrelation of the noise of consecutive runs */
  ar1?: number;
  /** alternating: the baseline always runs first in a pair; counterbalanced: A B, B A, B A, A B, … */
  order?: ArmOrder;
  /** the patched arm's own CV when it differs from the baseline's (`cv`) */
  cvPatched?: number;
  /** fraction of runs that stall, and the throughput they keep (e.g. 0.05 and 0.7) */
  stallRate?: number;
  stallFactor?: number;
  /** degrees of freedom of Student-t noise (heavy tails, scaled to the CV); normal when absent */
  tailDf?: number;
}

/** A Student-t variate with `df` > 2 degrees of freedom, scaled to unit variance. */
export function studentT(rand: () => number, df: number): number {
  let chi2 = 0;
  for (let k = 0; k < df; k++) chi2 += normal(rand) ** 2;
  return (normal(rand) * Math.sqrt((df - 2) / df)) / Math.sqrt(chi2 / df);
}

export const REALISTIC_DRIFT = { trend: 0.04, wave: 0.02 };

/**
 * `repeats` pairs of one round: pair i runs at positions 2i and 2i + 1; the patched arm's true level is
 * `1 + change` times the baseline's.
 */
export function simulatePairs(
  rand: () => number,
  repeats: number,
  change: number,
  noise: NoiseModel,
  level = 1000,
): { baseline: number[]; patched: number[] } {
  const sigma = Math.sqrt(Math.log(1 + noise.cv ** 2));
  const sigmaPatched = Math.sqrt(Math.log(1 + (noise.cvPatched ?? noise.cv) ** 2));
  const stallRate = noise.stallRate ?? 0;
  const stallFactor = noise.stallFactor ?? 1;
  const draw = noise.tailDf ? () => studentT(rand, noise.tailDf ?? 0) : () => normal(rand);
  const positions = 2 * repeats;
  const slope = (2 * rand() - 1) * noise.trend;
  const cycles = 0.25 + 0.75 * rand();
  const phase = 2 * Math.PI * rand();
  const drift = (t: number) =>
    Math.exp(
      (slope * t) / (positions - 1) + noise.wave * Math.sin((2 * Math.PI * cycles * t) / positions + phase),
    );
  const rho = noise.ar1 ?? 0;
  const innovation = Math.sqrt(1 - rho ** 2);
  let previous: number | undefined;
  const shock = () => {
    const z = draw();
    previous = previous === undefined ? z : rho * previous + innovation * z;
    return previous;
  };
  const order = noise.order ?? 'alternating';
  const second = 1 - (noise.orderEffect ?? 0);
  // the e2e backends' own order: the patched arm runs second in pair i when the baseline opens it
  const opens = order === 'alternating' ? undefined : counterbalancedOrder(repeats);
  const baseline: number[] = [];
  const patched: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const late = opens === undefined || opens[2 * i] === 'baseline';
    const sample = (t: number, truth: number, isSecond: boolean, sd: number) =>
      truth *
      (isSecond ? second : 1) *
      drift(t) *
      Math.exp(sd * shock() - sd ** 2 / 2) *
      (stallRate > 0 && rand() < stallRate ? stallFactor : 1);
    // shocks are drawn in run order, so AR(1) links consecutive runs whichever arm they belong to
    if (late) {
      baseline.push(sample(2 * i, level, false, sigma));
      patched.push(sample(2 * i + 1, level * (1 + change), true, sigmaPatched));
    } else {
      patched.push(sample(2 * i, level * (1 + change), false, sigmaPatched));
      baseline.push(sample(2 * i + 1, level, true, sigma));
    }
  }
  return { baseline, patched };
}

/** One cell of one round (see simulatePairs), as the e2e step records it. */
export function simulateCell(
  rand: () => number,
  repeats: number,
  change: number,
  noise: NoiseModel,
  level = 1000,
): E2eCell {
  return {
    id: 'sim',
    params: {},
    metric: 'output_throughput',
    unit: 'tok/s',
    higherIsBetter: true,
    ...simulatePairs(rand, repeats, change, noise, level),
    status: 'ok',
    reruns: 0,
  };
}
