// Night-over-night trend per runner and cell: tonight against the median of the series' recent good nights.
import { type HistoryRecord, seriesKey } from './record.js';

export interface TrendOptions {
  /** smallest worsening, in percent of the reference median, that counts as beyond the threshold */
  thresholdPct: number;
  /** how many earlier good nights make the reference median */
  windowNights: number;
  /** how many earlier good nights estimate the spread (more than the median's, so a short run of calm nights cannot shrink it) */
  spreadNights: number;
  /** fewer reference nights than this: the cell is still warming up and never alarms */
  minReferenceNights: number;
  /** the threshold widens to this many robust standard deviations of the reference */
  spreadFactor: number;
}

export const DEFAULT_TREND: Omit<TrendOptions, 'thresholdPct'> = {
  windowNights: 14,
  spreadNights: 30,
  minReferenceNights: 7,
  spreadFactor: 4,
};

export type CellStatus = 'warming-up' | 'ok' | 'improved' | 'suspicious' | 'regressed';

export interface NightRef {
  night: string;
  vllmSha?: string;
  runUrl?: string;
}

export interface CellPoint extends NightRef {
  value: number;
  status: CellStatus;
  /** the reference this night was judged against; absent while warming up */
  reference?: { median: number; spreadPct: number; nights: number; thresholdPct: number };
  /** how much worse than the reference median, in percent (negative: better) */
  worsePct?: number;
}

export interface CellTrend {
  key: string;
  label: string;
  unit: string;
  higherIsBetter: boolean;
  points: CellPoint[];
  /** the cell's last judged night in this series */
  latest: CellPoint;
  /** for a regression: the first night of the run of bad nights, and the good night before it */
  firstBad?: NightRef;
  lastGood?: NightRef;
}

export type RunnerStatus = 'alert' | 'suspicious' | 'new-series' | 'warming-up' | 'ok';

export interface RunnerTrend {
  runner: string;
  series: string;
  /** the series before this one, when tonight's device or software started a new one */
  previousSeries?: string;
  seriesSince: string;
  latest: HistoryRecord;
  /** patch sites that no longer match and failing test ids, from the last night that checked them */
  drift: string[];
  correctness: string[];
  /** for drift or correctness failures: the first failing night in a row, and the clean night before it */
  alertSince?: NightRef;
  lastClean?: NightRef;
  nights: HistoryRecord[];
  cells: CellTrend[];
  regressed: CellTrend[];
  suspicious: CellTrend[];
  status: RunnerStatus;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Median absolute deviation scaled to a standard deviation under normal noise, in percent of the median. */
export function robustSpreadPct(values: readonly number[]): number {
  const m = median(values);
  const mad = median(values.map((v) => Math.abs(v - m)));
  return m === 0 ? 0 : ((1.4826 * mad) / Math.abs(m)) * 100;
}

const nightRef = (r: HistoryRecord): NightRef => ({ night: r.night, vllmSha: r.vllmSha, runUrl: r.runUrl });

/** One record per night: a re-run on the same night replaces the earlier one. */
export function lastPerNight(records: readonly HistoryRecord[]): HistoryRecord[] {
  const byNight = new Map<string, HistoryRecord>();
  for (const r of records) {
    const seen = byNight.get(r.night);
    if (!seen || seen.at <= r.at) byNight.set(r.night, r);
  }
  return [...byNight.values()].sort((a, b) => a.night.localeCompare(b.night));
}

/** Replays one cell over the nights of a series, judging each night against the good nights before it. */
export function judgeCell(
  nights: readonly HistoryRecord[],
  key: string,
  options: TrendOptions,
): CellTrend | undefined {
  const points: CellPoint[] = [];
  const good: number[] = [];
  let meta: Pick<CellTrend, 'label' | 'unit' | 'higherIsBetter'> | undefined;
  let streakStart = -1;
  let firstBad: NightRef | undefined;
  let lastGood: NightRef | undefined;
  for (const record of nights) {
    const cell = record.cells.find((c) => c.key === key);
    if (!cell) continue;
    meta = { label: cell.label, unit: cell.unit, higherIsBetter: cell.higherIsBetter };
    const reference = good.slice(-options.windowNights);
    const point: CellPoint = { ...nightRef(record), value: cell.value, status: 'warming-up' };
    if (reference.length >= options.minReferenceNights) {
      const m = median(reference);
      const spreadPct = robustSpreadPct(good.slice(-options.spreadNights));
      const thresholdPct = Math.max(options.thresholdPct, options.spreadFactor * spreadPct);
      const worsePct = ((cell.higherIsBetter ? m - cell.value : cell.value - m) / m) * 100;
      point.reference = { median: m, spreadPct, nights: reference.length, thresholdPct };
      point.worsePct = worsePct;
      if (worsePct > thresholdPct) {
        const previous = points.at(-1);
        const beyondBefore = previous?.status === 'suspicious' || previous?.status === 'regressed';
        point.status = beyondBefore ? 'regressed' : 'suspicious';
        if (!beyondBefore) streakStart = points.length;
      } else {
        point.status = worsePct < -thresholdPct ? 'improved' : 'ok';
      }
    }
    if (point.status !== 'suspicious' && point.status !== 'regressed') good.push(cell.value);
    points.push(point);
  }
  const latest = points.at(-1);
  if (!meta || !latest) return undefined;
  if (latest.status === 'regressed' || latest.status === 'suspicious') {
    firstBad = points[streakStart];
    const before = points[streakStart - 1];
    if (before) lastGood = { night: before.night, vllmSha: before.vllmSha, runUrl: before.runUrl };
    firstBad = { night: firstBad.night, vllmSha: firstBad.vllmSha, runUrl: firstBad.runUrl };
  }
  return { key, ...meta, points, latest, firstBad, lastGood };
}

/** The trend of one runner: its current series (nights since the last device or software change). */
export function runnerTrend(records: readonly HistoryRecord[], options: TrendOptions): RunnerTrend {
  const nights = lastPerNight(records);
  const latest = nights.at(-1);
  if (!latest) throw new Error('runnerTrend needs at least one night of history');
  const series = seriesKey(latest.device, latest.kernelSource);
  let start = nights.length - 1;
  while (start > 0 && seriesKey(nights[start - 1].device, nights[start - 1].kernelSource) === series) start--;
  const segment = nights.slice(start);
  const previousSeries =
    start > 0 ? seriesKey(nights[start - 1].device, nights[start - 1].kernelSource) : undefined;

  const keys = [...new Set(segment.flatMap((r) => r.cells.map((c) => c.key)))];
  const cells = keys
    .map((key) => judgeCell(segment, key, options))
    .filter((c): c is CellTrend => c !== undefined);
  const regressed = cells.filter((c) => c.latest.status === 'regressed');
  const suspicious = cells.filter((c) => c.latest.status === 'suspicious');

  // a night that stopped before the patch or the tests neither clears nor raises their alert
  const checkedPatch = (r: HistoryRecord) => r.checked?.patch ?? true;
  const checkedTests = (r: HistoryRecord) => r.checked?.tests ?? true;
  const drift = nights.filter(checkedPatch).at(-1)?.drift ?? [];
  const correctness = nights.filter(checkedTests).at(-1)?.correctness ?? [];
  const checkedNights = nights.filter((r) => checkedPatch(r) || checkedTests(r));
  const failing = (r: HistoryRecord) => r.drift.length > 0 || r.correctness.length > 0;
  let alertSince: NightRef | undefined;
  let lastClean: NightRef | undefined;
  if (drift.length > 0 || correctness.length > 0) {
    let first = checkedNights.length - 1;
    while (first > 0 && !failing(checkedNights[first])) first--;
    while (first > 0 && failing(checkedNights[first - 1])) first--;
    alertSince = nightRef(checkedNights[first]);
    if (first > 0) lastClean = nightRef(checkedNights[first - 1]);
  }

  let status: RunnerStatus;
  if (drift.length > 0 || correctness.length > 0 || regressed.length > 0) status = 'alert';
  else if (suspicious.length > 0) status = 'suspicious';
  else if (segment.length === 1 && previousSeries !== undefined) status = 'new-series';
  else if (cells.length === 0 || cells.every((c) => c.latest.status === 'warming-up')) status = 'warming-up';
  else status = 'ok';

  return {
    runner: latest.runner,
    series,
    previousSeries: segment.length === 1 ? previousSeries : undefined,
    seriesSince: segment[0].night,
    latest,
    drift,
    correctness,
    alertSince,
    lastClean,
    nights: segment,
    cells,
    regressed,
    suspicious,
    status,
  };
}

/** Every runner of one bundle, ordered by runner name. */
export function trendsByRunner(records: readonly HistoryRecord[], options: TrendOptions): RunnerTrend[] {
  const byRunner = new Map<string, HistoryRecord[]>();
  for (const r of records) byRunner.set(r.runner, [...(byRunner.get(r.runner) ?? []), r]);
  return [...byRunner.keys()].sort().map((runner) => runnerTrend(byRunner.get(runner) ?? [], options));
}

export const isAlerting = (trends: readonly RunnerTrend[]): boolean =>
  trends.some((t) => t.status === 'alert');
