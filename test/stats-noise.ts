// A seeded model of e2e throughput noise: log-normal samples with slow drift across interleaved A B A B repeats.
import type { E2eCell } from '../src/results/run-result.js';

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

export interface NoiseModel {
  /** coefficient of variation of one sample, e.g. 0.02 */
  cv: number;
  /** total relative change over the whole cell from a linear trend drawn in ±trend (e.g. 0.04) */
  trend: number;
  /** amplitude of a slow wave (at most one cycle per cell), e.g. 0.02 */
  wave: number;
}

export const REALISTIC_DRIFT = { trend: 0.04, wave: 0.02 };

/**
 * One cell of `repeats` interleaved pairs: the baseline runs at positions 0, 2, 4 … and the patched arm right
 * after it; the patched arm's true level is `1 + change` times the baseline's.
 */
export function simulateCell(
  rand: () => number,
  repeats: number,
  change: number,
  noise: NoiseModel,
  level = 1000,
): E2eCell {
  const sigma = Math.sqrt(Math.log(1 + noise.cv ** 2));
  const positions = 2 * repeats;
  const slope = (2 * rand() - 1) * noise.trend;
  const cycles = 0.25 + 0.75 * rand();
  const phase = 2 * Math.PI * rand();
  const drift = (t: number) =>
    Math.exp(
      (slope * t) / (positions - 1) + noise.wave * Math.sin((2 * Math.PI * cycles * t) / positions + phase),
    );
  const sample = (t: number, truth: number) =>
    truth * drift(t) * Math.exp(sigma * normal(rand) - sigma ** 2 / 2);
  const baseline: number[] = [];
  const patched: number[] = [];
  for (let i = 0; i < repeats; i++) {
    baseline.push(sample(2 * i, level));
    patched.push(sample(2 * i + 1, level * (1 + change)));
  }
  return {
    id: 'sim',
    params: {},
    metric: 'output_throughput',
    unit: 'tok/s',
    higherIsBetter: true,
    baseline,
    patched,
    status: 'ok',
    reruns: 0,
  };
}
