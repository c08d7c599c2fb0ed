// Drift across a cell's runs: both arms over their own medians, in run order, with a robust (Theil–Sen) trend. Pure.
import type { E2eCell } from '../results/run-result.js';
import { medianOf } from './signed-rank.js';

export interface Drift {
  /** the trend's change from the first pair to the last, % */
  pct: number;
  /** the spread around the trend (1.4826 × MAD of the residuals), % */
  noisePct: number;
}

/** A drift this many times its noise is no chance trend (about 3 standard errors of the slope at 8 pairs). */
export const DRIFT_NOISE_FACTOR = 3;
/** Under this much across a cell a counterbalanced drift cannot move a call at the default 2% minimum effect. */
export const DRIFT_FLOOR_PCT = 1;

/** Theil–Sen trend of both arms' runs against the pair index; undefined with fewer than 3 pairs. */
export function cellDrift(baseline: readonly number[], patched: readonly number[]): Drift | undefined {
  const n = Math.min(baseline.length, patched.length);
  if (n < 3) return undefined;
  const points: [number, number][] = [];
  for (const arm of [baseline, patched]) {
    const usable = arm.slice(0, n).filter((v) => v > 0 && Number.isFinite(v));
    if (usable.length < n) return undefined;
    const mid = medianOf(usable);
    arm.slice(0, n).forEach((v, i) => {
      points.push([i, Math.log(v / mid)]);
    });
  }
  const slopes: number[] = [];
  for (let a = 0; a < points.length; a++)
    for (let b = a + 1; b < points.length; b++)
      if (points[b][0] !== points[a][0])
        slopes.push((points[b][1] - points[a][1]) / (points[b][0] - points[a][0]));
  const slope = medianOf(slopes);
  const intercept = medianOf(points.map(([i, y]) => y - slope * i));
  const residuals = points.map(([i, y]) => y - intercept - slope * i);
  const mad = medianOf(residuals.map((r) => Math.abs(r - medianOf(residuals))));
  return { pct: (Math.exp(slope * (n - 1)) - 1) * 100, noisePct: 1.4826 * mad * 100 };
}

/** Whether a cell drifted more than its noise allows: then its pairs are no steady-state sample. */
export function driftExceeds(drift: Drift | undefined): boolean {
  if (!drift) return false;
  return Math.abs(drift.pct) > Math.max(DRIFT_FLOOR_PCT, DRIFT_NOISE_FACTOR * drift.noisePct);
}

/** The drift to record for a finished vllm-serve cell. */
export function driftOf(cell: Pick<E2eCell, 'baseline' | 'patched'>): Drift | undefined {
  const d = cellDrift(cell.baseline, cell.patched);
  return d && { pct: Math.round(d.pct * 100) / 100, noisePct: Math.round(d.noisePct * 100) / 100 };
}
