// Night-over-night trend per runner and cell: tonight against the median of the series' recent good nights.
import { medianOf } from '../stats/signed-rank.js';
import { type HistoryRecord, seriesChange, seriesKey } from './record.js';

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
  /** the series' first good nights that fix its anchor, and the recent nights compared with it (slow loss) */
  anchorNights: number;
  recentNights: number;
  /**
   * Bimodal guard: on a cell whose own past nights were often beyond the threshold, a regression needs a streak
   * that those nights alone would make with at most this probability (two nights on a steady machine).
   */
  streakFalseRate: number;
}

export const DEFAULT_TREND: Omit<TrendOptions, 'thresholdPct'> = {
  windowNights: 14,
  spreadNights: 30,
  minReferenceNights: 7,
  spreadFactor: 4,
  anchorNights: 7,
  recentNights: 7,
  streakFalseRate: 0.001,
};

/** The longest streak of bad nights the guard asks for. */
const MAX_STREAK = 10;
/** Nights a slow mode needs to be seen in, and how far apart (robust standard deviations) its two clusters lie. */
const MIN_MODE_NIGHTS = 14;
const MODE_SEPARATION = 4.5;

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
  /** the good nights up to this one lost against the series' anchor (slow loss) */
  slowLoss?: boolean;
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
  /** nights in a row beyond the threshold that make a regression here (2; more on a bimodal cell) */
  streakNeeded: number;
  /** the series' anchor (its first good nights) against its recent nights: a slow loss shows here */
  anchor?: {
    median: number;
    since: string;
    recentMedian: number;
    worsePct: number;
    thresholdPct: number;
    /** the recent nights are worse than the anchor beyond the threshold */
    lost: boolean;
  };
  /** the level moved when the series started (a driver, torch, triton or card change): worse by this, % */
  seriesStepPct?: number;
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
  /** cells whose recent nights lost against the series' anchor, one night at a time too slowly to alarm */
  slowLoss: CellTrend[];
  /** what started this series (e.g. "driver 580 → 590"), and the cells whose level moved with it */
  change?: string;
  changedWithSeries: CellTrend[];
  status: RunnerStatus;
}

/** Median absolute deviation scaled to a standard deviation under normal noise, in percent of the median. */
export function robustSpreadPct(values: readonly number[]): number {
  const m = medianOf(values);
  const mad = medianOf(values.map((v) => Math.abs(v - m)));
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

/** Night-to-night noise from successive differences, robust to a slow trend, in percent of `level`. */
function successiveSpreadPct(values: readonly number[], level: number): number {
  if (values.length < 3 || level === 0) return 0;
  const diffs = values.slice(1).map((v, i) => v - values[i]);
  const m = medianOf(diffs);
  return ((1.4826 * medianOf(diffs.map((d) => Math.abs(d - m)))) / Math.SQRT2 / Math.abs(level)) * 100;
}

const worseBy = (higherIsBetter: boolean, reference: number, value: number) =>
  ((higherIsBetter ? reference - value : value - reference) / reference) * 100;

/**
 * Replays one cell over the nights of a series, judging each night against the good nights before it.
 * `carried`: the previous series' last good values, so a new series is judged from its first night; when its
 * first two nights moved together by more than half the threshold against them, the move came with the series'
 * change: it is reported as such and the series builds its own reference.
 */
export function judgeCell(
  nights: readonly HistoryRecord[],
  key: string,
  options: TrendOptions,
  carried: readonly number[] = [],
): CellTrend | undefined {
  const own = nights.flatMap((r) => r.cells.filter((c) => c.key === key));
  if (own.length === 0) return undefined;
  let seriesStepPct: number | undefined;
  // too few nights of the previous series left (retention): this series builds its own reference
  let start = carried.length >= options.minReferenceNights ? [...carried] : [];
  if (start.length > 0 && own.length >= 2) {
    const m = medianOf(carried.slice(-options.windowNights));
    const spread = robustSpreadPct(carried.slice(-options.spreadNights));
    // the mean of two nights: half the threshold, or the spread factor over its standard error
    const threshold = Math.max(options.thresholdPct / 2, (options.spreadFactor * spread) / Math.SQRT2);
    const moved =
      (worseBy(own[0].higherIsBetter, m, own[0].value) + worseBy(own[1].higherIsBetter, m, own[1].value)) / 2;
    if (Math.abs(moved) > threshold) {
      seriesStepPct = moved;
      start = [];
    }
  }
  const points: CellPoint[] = [];
  const good: number[] = [...start];
  const values: number[] = [];
  let meta: Pick<CellTrend, 'label' | 'unit' | 'higherIsBetter'> | undefined;
  let streakStart = -1;
  let streak = 0;
  let streakNeeded = 2;
  let firstBad: NightRef | undefined;
  let lastGood: NightRef | undefined;
  for (const record of nights) {
    const cell = record.cells.find((c) => c.key === key);
    if (!cell) continue;
    meta = { label: cell.label, unit: cell.unit, higherIsBetter: cell.higherIsBetter };
    values.push(cell.value);
    const reference = good.slice(-options.windowNights);
    const point: CellPoint = { ...nightRef(record), value: cell.value, status: 'warming-up' };
    if (reference.length >= options.minReferenceNights) {
      const m = medianOf(reference);
      const spreadPct = robustSpreadPct(good.slice(-options.spreadNights));
      const thresholdPct = Math.max(options.thresholdPct, options.spreadFactor * spreadPct);
      const worsePct = worseBy(cell.higherIsBetter, m, cell.value);
      point.reference = { median: m, spreadPct, nights: reference.length, thresholdPct };
      point.worsePct = worsePct;
      if (worsePct > thresholdPct) {
        if (streak === 0) {
          streakStart = points.length;
          streakNeeded = requiredStreak(points, cell.higherIsBetter, options);
        }
        streak++;
        point.status = streak >= streakNeeded ? 'regressed' : 'suspicious';
      } else {
        streak = 0;
        point.status = worsePct < -thresholdPct ? 'improved' : 'ok';
      }
    }
    if (point.status !== 'suspicious' && point.status !== 'regressed') good.push(cell.value);
    points.push(point);
    // a bimodal cell's good nights mix both modes: its anchor cannot tell a slow loss from its slow mode
    if (
      anchorCheck(points, values, cell.higherIsBetter, options)?.lost &&
      requiredStreak(points, cell.higherIsBetter, options) === 2
    )
      point.slowLoss = true;
  }
  const latest = points.at(-1);
  if (!meta || !latest) return undefined;
  if (latest.status === 'regressed' || latest.status === 'suspicious') {
    firstBad = points[streakStart];
    const before = points[streakStart - 1];
    if (before) lastGood = { night: before.night, vllmSha: before.vllmSha, runUrl: before.runUrl };
    firstBad = { night: firstBad.night, vllmSha: firstBad.vllmSha, runUrl: firstBad.runUrl };
  }
  const anchor = anchorCheck(points, values, meta.higherIsBetter, options);
  return {
    key,
    ...meta,
    points,
    latest,
    firstBad,
    lastGood,
    streakNeeded: streak > 0 ? streakNeeded : requiredStreak(points, meta.higherIsBetter, options),
    anchor,
    seriesStepPct,
  };
}

/**
 * The share of nights in a slow mode when the cell's recent nights split into two clusters (a machine that is
 * slower on some nights), else 0: the split whose medians lie furthest apart in robust standard deviations.
 */
export function slowModeShare(points: readonly CellPoint[], higherIsBetter: boolean, nights: number): number {
  const worse = points.slice(-nights).map((p) => (higherIsBetter ? -p.value : p.value));
  if (worse.length < MIN_MODE_NIGHTS) return 0;
  const sorted = [...worse].sort((x, y) => x - y);
  let best = { separation: 0, share: 0 };
  const mean = (xs: readonly number[]) => xs.reduce((t, x) => t + x, 0) / xs.length;
  for (let k = Math.ceil(sorted.length / 2); k <= Math.floor(sorted.length * 0.9); k++) {
    const fast = sorted.slice(0, k);
    const slow = sorted.slice(k);
    const [mu1, mu2] = [mean(fast), mean(slow)];
    // the pooled within-cluster standard deviation: a unimodal sample split this way stays under 4.5 (99.9%)
    const ss = fast.reduce((t, v) => t + (v - mu1) ** 2, 0) + slow.reduce((t, v) => t + (v - mu2) ** 2, 0);
    const sd = Math.sqrt(ss / (sorted.length - 2));
    const separation = sd > 0 ? (medianOf(slow) - medianOf(fast)) / sd : 0;
    if (separation > best.separation) best = { separation, share: slow.length / sorted.length };
  }
  return best.separation >= MODE_SEPARATION ? best.share : 0;
}

/**
 * Bad nights in a row a regression needs: 2, or on a cell with a slow mode, enough that its own slow nights
 * make such a streak with at most `streakFalseRate` probability.
 */
function requiredStreak(
  points: readonly CellPoint[],
  higherIsBetter: boolean,
  options: TrendOptions,
): number {
  const share = slowModeShare(points, higherIsBetter, options.spreadNights);
  if (share === 0) return 2;
  return Math.min(MAX_STREAK, Math.max(2, Math.ceil(Math.log(options.streakFalseRate) / Math.log(share))));
}

/**
 * Slow loss: the median of the recent nights against the anchor (the median of the series' first good nights),
 * beyond the threshold or `spreadFactor` standard errors of that difference, whichever is larger.
 */
function anchorCheck(
  points: readonly CellPoint[],
  values: readonly number[],
  higherIsBetter: boolean,
  options: TrendOptions,
): CellTrend['anchor'] {
  const goodAt = points
    .map((p, i) => ({ p, i }))
    .filter(({ p }) => p.status === 'ok' || p.status === 'improved' || p.status === 'warming-up');
  const anchorPoints = goodAt.slice(0, options.anchorNights);
  if (anchorPoints.length < options.anchorNights) return undefined;
  // nights the step rule already flagged are its to report; a slow loss is what it never flags
  const after = anchorPoints.at(-1)?.i ?? 0;
  const recent = goodAt
    .filter(({ i }) => i > after)
    .map(({ p }) => p.value)
    .slice(-options.recentNights);
  if (recent.length < options.recentNights) return undefined;
  const anchorMedian = medianOf(anchorPoints.map(({ p }) => p.value));
  const recentMedian = medianOf(recent);
  const worsePct = worseBy(higherIsBetter, anchorMedian, recentMedian);
  // a median of n nights has a standard error of about 1.25 σ / √n
  const se =
    1.25 *
    successiveSpreadPct(values, anchorMedian) *
    Math.sqrt(1 / options.anchorNights + 1 / options.recentNights);
  const thresholdPct = Math.max(options.thresholdPct, options.spreadFactor * se);
  return {
    median: anchorMedian,
    since: anchorPoints[0].p.night,
    recentMedian,
    worsePct,
    thresholdPct,
    lost: worsePct > thresholdPct,
  };
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
  // the series before this one: its last good nights carry over, so a change of driver cannot hide a regression
  let before = start;
  while (
    before > 0 &&
    seriesKey(nights[before - 1].device, nights[before - 1].kernelSource) === previousSeries
  )
    before--;
  const previous = nights.slice(before, start);
  const change = previous.length
    ? seriesChange(previous[previous.length - 1].device, latest.device)
    : undefined;

  const keys = [...new Set(segment.flatMap((r) => r.cells.map((c) => c.key)))];
  const cells = keys
    .map((key) => {
      const last = previous.length ? judgeCell(previous, key, options) : undefined;
      const carried = (last?.points ?? [])
        .filter((p) => p.status !== 'suspicious' && p.status !== 'regressed')
        .map((p) => p.value)
        .slice(-options.spreadNights);
      return judgeCell(segment, key, options, carried);
    })
    .filter((c): c is CellTrend => c !== undefined);
  const regressed = cells.filter((c) => c.latest.status === 'regressed');
  const suspicious = cells.filter((c) => c.latest.status === 'suspicious');
  const slowLoss = cells.filter((c) => c.latest.slowLoss && c.latest.status !== 'regressed');
  const changedWithSeries = cells.filter((c) => c.seriesStepPct !== undefined);

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
  if (drift.length > 0 || correctness.length > 0 || regressed.length > 0 || slowLoss.length > 0)
    status = 'alert';
  // one night of a new series cannot yet tell a step with the update from an outlier
  else if (segment.length === 1 && previousSeries !== undefined) status = 'new-series';
  else if (suspicious.length > 0) status = 'suspicious';
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
    slowLoss,
    change,
    changedWithSeries,
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
