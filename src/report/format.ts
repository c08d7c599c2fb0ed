// Numbers and verdict marks as the report prints them. Pure.
import type { CellVerdict, OverallVerdict } from './model.js';

export const DASH = '—';

const finite = (x: number) => typeof x === 'number' && Number.isFinite(x);

/** +3.1%, −0.4% */
export function pct(x: number, digits = 1): string {
  if (!finite(x)) return DASH;
  const s = Math.abs(x).toFixed(digits);
  if (Number(s) === 0) return `${(0).toFixed(digits)}%`;
  return `${x > 0 ? '+' : '−'}${s}%`;
}

/** [+1.2, +4.5] */
export function interval(low: number, high: number): string {
  if (!finite(low) || !finite(high)) return DASH;
  return `[${pct(low).slice(0, -1)}, ${pct(high).slice(0, -1)}]`;
}

export function micros(x: number): string {
  if (!finite(x)) return DASH;
  return x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0);
}

export function times(x: number): string {
  return finite(x) ? `${x.toFixed(2)}×` : DASH;
}

export function plain(x: number): string {
  if (!finite(x)) return DASH;
  return Math.abs(x) >= 1000 ? Math.round(x).toString() : Number(x.toPrecision(4)).toString();
}

export function seconds(s: number): string {
  if (!finite(s)) return DASH;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

export const VERDICT_MARK: Record<OverallVerdict, string> = {
  passed: '✅',
  improved: '✅',
  failed: '❌',
  regressed: '❌',
  'no-significant-change': '➖',
  'too-noisy': '〰️',
  'insufficient-data': '❔',
  'not-available': '⏸️',
};

export const VERDICT_WORDS: Record<OverallVerdict, string> = {
  passed: 'passed',
  improved: 'improved',
  failed: 'failed',
  regressed: 'regressed',
  'no-significant-change': 'no significant change',
  'too-noisy': 'too noisy',
  'insufficient-data': 'insufficient data',
  'not-available': 'not available',
};

export function cellMark(v: CellVerdict): string {
  return VERDICT_MARK[v];
}
