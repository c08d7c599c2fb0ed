// Night-over-night trend per runner and cell: tonight against the median of the series' recent good nights.
import { median } from '../stats/signed-rank.js';
import { type HistoryRecord, poolKey, seriesChange, seriesKey, unmeasuredReason } from './record.js';

/** The median; a typed array sorts numbers without a comparator, and the nightly replays take many. */
const medianOf = (values: readonly number[]) => median(Float64Array.from(values).sort());

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
  /** an open regression ends only after this many good nights in a row, each within `recoveryFraction` of the threshold */
  recoveryNights: number;
  recoveryFraction: number;
  /** a card's first nights in a pool of several cards measure its offset from the pool, then are judged net of it */
  cardEffectNights: number;
  /** a pool or cell without a measured night for this many nights is stale: it no longer holds the issue open */
  staleNights: number;
}

export const DEFAULT_TREND: Omit<TrendOptions, 'thresholdPct'> = {
  windowNights: 14,
  spreadNights: 30,
  minReferenceNights: 7,
  spreadFactor: 4,
  anchorNights: 7,
  recentNights: 7,
  streakFalseRate: 0.001,
  recoveryNights: 3,
  recoveryFraction: 0.5,
  cardEffectNights: 2,
  staleNights: 7,
};

/** The longest streak of bad nights the guard asks for. */
const MAX_STREAK = 10;
/** Nights a slow mode needs to be seen in, and how far apart (robust standard deviations) its two clusters lie. */
const MIN_MODE_NIGHTS = 14;
const MODE_SEPARATION = 4.5;

export type CellStatus = 'warming-up' | 'ok' | 'improved' | 'suspicious' | 'regressed' | 'recovering';

export interface NightRef {
  night: string;
  vllmSha?: string;
  runUrl?: string;
}

export interface CellPoint extends NightRef {
  /** the value judged: the measured one net of its card's offset from the pool */
  value: number;
  /** the measured value, when a card offset was taken out */
  raw?: number;
  card?: string;
  status: CellStatus;
  /** the night was one of a regression's (its streak included): no reference or guard learns from it */
  inRegression?: boolean;
  /** the night measured its card's offset from the pool and was not judged */
  learningCard?: boolean;
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
  /** the level moved when the series started (a driver, torch, triton, kernel source or bundle change): worse by this, % */
  seriesStepPct?: number;
  /** each card's offset from the pool, as a ratio of its measured to the pool's level (1.06: 6% worse) */
  cardEffects: Map<string, number>;
  /** the first card of the series, the one the others are measured against */
  baseCard?: string;
  /** nights kept beyond retention for this cell: its anchor, and the reference of a regression it is in */
  pinned: string[];
}

export type RunnerStatus =
  | 'alert'
  | 'recovering'
  | 'suspicious'
  | 'new-series'
  | 'warming-up'
  | 'stale'
  | 'ok';

export interface CardEffect {
  card: string;
  /** the host it ran on last */
  host?: string;
  /** how much worse than its pool, % (negative: faster) */
  worsePct: number;
}

export interface Acceptance {
  issue: number;
  url?: string;
  how: string;
  night: string;
}

/** One pool: a GPU model × count, whichever runners, hosts and cards of it measured. */
export interface RunnerTrend {
  /** the name shown: the runner when one runner measured the pool, else the pool */
  runner: string;
  pool: string;
  series: string;
  /** the series before this one, when tonight's software stack started a new one */
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
  /** cells past a regression, not yet back for enough nights in a row */
  recovering: CellTrend[];
  suspicious: CellTrend[];
  /** cells whose recent nights lost against the series' anchor, one night at a time too slowly to alarm */
  slowLoss: CellTrend[];
  /** cells without a measured night for `staleNights` (dropped from the grid): they hold no alert */
  staleCells: CellTrend[];
  /** what started this series (e.g. "driver 580 → 590"), and the cells whose level moved with it */
  change?: string;
  changedWithSeries: CellTrend[];
  /** cards that run slower or faster than their pool by at least half the threshold */
  cardEffects: CardEffect[];
  /** the last level a maintainer accepted in this pool */
  accepted?: Acceptance;
  /** the pool had no measured night for `staleNights`: it holds no alert */
  stale: boolean;
  status: RunnerStatus;
}

/** A night that measured nothing (its checkout, install or device detection failed): listed, never judged. */
export interface UnmeasuredNight extends NightRef {
  runner: string;
  reason: string;
}

/** Median absolute deviation scaled to a standard deviation under normal noise, in percent of the median. */
export function robustSpreadPct(values: readonly number[]): number {
  const m = medianOf(values);
  const mad = medianOf(values.map((v) => Math.abs(v - m)));
  return m === 0 ? 0 : ((1.4826 * mad) / Math.abs(m)) * 100;
}

const nightRef = (r: NightRef): NightRef => ({ night: r.night, vllmSha: r.vllmSha, runUrl: r.runUrl });

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

/** What a series hands the next one (after a software change): its good levels and its cards' offsets. */
export interface Carried {
  values: readonly number[];
  cardEffects?: ReadonlyMap<string, number>;
  baseCard?: string;
}

const isGood = (p: CellPoint) =>
  !p.learningCard &&
  !p.inRegression &&
  (p.status === 'ok' || p.status === 'improved' || p.status === 'warming-up' || p.status === 'recovering');

/**
 * Replays one cell over the nights of a series, judging each night against the good nights before it.
 * `carried`: the previous series' last good values, so a new series is judged from its first night; when its
 * first two nights moved together by more than half the threshold against them, the move came with the series'
 * change: it is reported as such and the series builds its own reference.
 * A night is judged net of its card's offset from the pool; a regression holds until `recoveryNights` good
 * nights in a row; a night that records an accepted level makes the regression's level the reference.
 */
export function judgeCell(
  nights: readonly HistoryRecord[],
  key: string,
  options: TrendOptions,
  carried: Carried = { values: [] },
): CellTrend | undefined {
  const own = nights.flatMap((r) => r.cells.filter((c) => c.key === key));
  if (own.length === 0) return undefined;
  let seriesStepPct: number | undefined;
  // too few nights of the previous series left (retention): this series builds its own reference
  let start = carried.values.length >= options.minReferenceNights ? [...carried.values] : [];
  if (start.length > 0 && own.length >= 2) {
    const m = medianOf(carried.values.slice(-options.windowNights));
    const spread = robustSpreadPct(carried.values.slice(-options.spreadNights));
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
  let good: number[] = [...start];
  const values: number[] = [];
  let meta: Pick<CellTrend, 'label' | 'unit' | 'higherIsBetter'> | undefined;
  let streakStart = -1;
  let streak = 0;
  let streakNeeded = 2;
  let regressed = false;
  let recovered = 0;
  let anchor: AnchorNights = { first: [], recent: [] };
  // the bimodal guard looks at the nights since the last accepted level: the old level is no slow mode
  let guardFrom = 0;
  const accepted = new Set<number>();
  const learned = new Map<string, number[]>();
  const cardEffects = new Map(carried.cardEffects ?? []);
  let baseCard = carried.baseCard;
  const cards = new Set<string>(cardEffects.keys());
  for (const record of nights) {
    const cell = record.cells.find((c) => c.key === key);
    if (!cell) continue;
    meta = { label: cell.label, unit: cell.unit, higherIsBetter: cell.higherIsBetter };
    const card = record.device.card;
    if (card) {
      cards.add(card);
      baseCard ??= card;
    }
    // a maintainer accepted the level: the regression's nights become the reference, the anchor starts anew
    if (record.accepted && !accepted.has(record.accepted.issue)) {
      accepted.add(record.accepted.issue);
      guardFrom = regressed || streak > 0 ? streakStart : points.length;
      if (regressed || streak > 0) {
        good = points
          .slice(streakStart)
          .filter((p) => !p.learningCard)
          .map((p) => p.value);
        for (const p of points.slice(streakStart)) p.inRegression = false;
      }
      regressed = false;
      streak = 0;
      anchor = { first: [], recent: [] };
    }
    const reference = good.slice(-options.windowNights);
    // a card of a pool of several: its first nights measure its offset, the later ones are judged net of it
    let effect = 1;
    if (card && cards.size > 1 && card !== baseCard) {
      const known = cardEffects.get(card);
      if (known === undefined) {
        const base =
          reference.length > 0 ? medianOf(reference) : good.length > 0 ? medianOf(good) : undefined;
        const ratios = [...(learned.get(card) ?? []), ...(base ? [cell.value / base] : [])];
        learned.set(card, ratios);
        if (ratios.length >= options.cardEffectNights) cardEffects.set(card, medianOf(ratios));
        points.push({
          ...nightRef(record),
          value: cell.value,
          card,
          status: 'warming-up',
          learningCard: true,
        });
        continue;
      }
      effect = known;
    }
    const value = cell.value / effect;
    values.push(value);
    const point: CellPoint = {
      ...nightRef(record),
      value,
      ...(effect !== 1 ? { raw: cell.value } : {}),
      ...(card ? { card } : {}),
      status: 'warming-up',
    };
    if (reference.length >= options.minReferenceNights) {
      const m = medianOf(reference);
      const spreadPct = robustSpreadPct(good.slice(-options.spreadNights));
      const thresholdPct = Math.max(options.thresholdPct, options.spreadFactor * spreadPct);
      const worsePct = worseBy(cell.higherIsBetter, m, value);
      point.reference = { median: m, spreadPct, nights: reference.length, thresholdPct };
      point.worsePct = worsePct;
      if (regressed) {
        // hysteresis: back only after enough nights in a row well under the threshold
        if (worsePct <= thresholdPct * options.recoveryFraction) {
          recovered++;
          point.status = recovered >= options.recoveryNights ? 'ok' : 'recovering';
          if (recovered >= options.recoveryNights) regressed = false;
        } else {
          recovered = 0;
          point.status = 'regressed';
          point.inRegression = true;
        }
      } else if (worsePct > thresholdPct) {
        if (streak === 0) {
          streakStart = points.length;
          streakNeeded = requiredStreak(points.slice(guardFrom), cell.higherIsBetter, options);
        }
        streak++;
        point.status = streak >= streakNeeded ? 'regressed' : 'suspicious';
        if (point.status === 'regressed') {
          regressed = true;
          recovered = 0;
          point.inRegression = true;
          for (const p of points.slice(streakStart)) if (!p.learningCard) p.inRegression = true;
        }
      } else {
        streak = 0;
        point.status = worsePct < -thresholdPct ? 'improved' : 'ok';
      }
    }
    if (regressed) streak = 0;
    if (isGood(point)) {
      good.push(value);
      // a card's good nights refine its offset: two first nights alone leave it about a night's noise off
      if (card && effect !== 1 && point.reference) {
        const ratios = [...(learned.get(card) ?? []), cell.value / point.reference.median];
        learned.set(card, ratios.slice(-options.spreadNights));
        cardEffects.set(card, medianOf(ratios.slice(-options.spreadNights)));
      }
    }
    points.push(point);
    addToAnchor(anchor, point, options);
    // a bimodal cell's good nights mix both modes: its anchor cannot tell a slow loss from its slow mode
    if (
      anchorCheck(anchor, values, cell.higherIsBetter, options)?.lost &&
      requiredStreak(points.slice(guardFrom), cell.higherIsBetter, options) === 2
    )
      point.slowLoss = true;
  }
  const judged = points.filter((p) => !p.learningCard);
  const latest = judged.at(-1) ?? points.at(-1);
  if (!meta || !latest) return undefined;
  let firstBad: NightRef | undefined;
  let lastGood: NightRef | undefined;
  if (['regressed', 'suspicious', 'recovering'].includes(latest.status) && streakStart >= 0) {
    firstBad = nightRef(points[streakStart]);
    const before = points
      .slice(0, streakStart)
      .filter((p) => !p.learningCard)
      .at(-1);
    if (before) lastGood = nightRef(before);
  }
  const anchorTrend = anchorCheck(anchor, values, meta.higherIsBetter, options);
  const reference =
    regressed || streak > 0
      ? points
          .slice(0, streakStart)
          .filter(isGood)
          .slice(-options.spreadNights)
          .map((p) => p.night)
      : [];
  return {
    key,
    ...meta,
    points,
    latest,
    firstBad,
    lastGood,
    streakNeeded:
      streak > 0 ? streakNeeded : requiredStreak(points.slice(guardFrom), meta.higherIsBetter, options),
    anchor: anchorTrend,
    seriesStepPct,
    cardEffects,
    baseCard,
    pinned: [...anchor.first.map((p) => p.night), ...reference],
  };
}

const sortedMedian = (xs: readonly number[]) =>
  xs.length % 2 ? xs[(xs.length - 1) / 2] : (xs[xs.length / 2 - 1] + xs[xs.length / 2]) / 2;

/**
 * The share of nights in a slow mode when the cell's recent nights split into two clusters (a machine that is
 * slower on some nights), else 0: the split whose medians lie furthest apart in robust standard deviations.
 */
export function slowModeShare(points: readonly CellPoint[], higherIsBetter: boolean, nights: number): number {
  // a regression's nights are not a slow mode: a regression that returns after a fix needs two nights again
  const worse = points
    .filter((p) => !p.inRegression && !p.learningCard)
    .slice(-nights)
    .map((p) => (higherIsBetter ? -p.value : p.value));
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
    const separation = sd > 0 ? (sortedMedian(slow) - sortedMedian(fast)) / sd : 0;
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
  anchor: AnchorNights,
  values: readonly number[],
  higherIsBetter: boolean,
  options: TrendOptions,
): CellTrend['anchor'] {
  if (anchor.first.length < options.anchorNights || anchor.recent.length < options.recentNights)
    return undefined;
  const anchorMedian = medianOf(anchor.first.map((p) => p.value));
  const recentMedian = medianOf(anchor.recent);
  const worsePct = worseBy(higherIsBetter, anchorMedian, recentMedian);
  // a median of n nights has a standard error of about 1.25 σ / √n
  const se =
    1.25 *
    successiveSpreadPct(values.slice(-2 * options.spreadNights), anchorMedian) *
    Math.sqrt(1 / options.anchorNights + 1 / options.recentNights);
  const thresholdPct = Math.max(options.thresholdPct, options.spreadFactor * se);
  return {
    median: anchorMedian,
    since: anchor.first[0].night,
    recentMedian,
    worsePct,
    thresholdPct,
    lost: worsePct > thresholdPct,
  };
}

/**
 * The series' first good nights (its anchor) and the last good nights after them; nights the step rule
 * flagged are its to report, so a slow loss is what it never flags.
 */
interface AnchorNights {
  first: CellPoint[];
  recent: number[];
}

function addToAnchor(anchor: AnchorNights, point: CellPoint, options: TrendOptions): void {
  if (!isGood(point)) return;
  if (anchor.first.length < options.anchorNights) anchor.first.push(point);
  else anchor.recent = [...anchor.recent, point.value].slice(-options.recentNights);
}

const DAY_MS = 86_400_000;
const daysBetween = (from: string, to: string) =>
  Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS);

/** One record per runner and night: a re-run on the same night replaces the earlier one. */
function lastPerRunnerNight(records: readonly HistoryRecord[]): HistoryRecord[] {
  const byKey = new Map<string, HistoryRecord>();
  for (const r of records) {
    const key = `${r.night} ${r.runner}`;
    const seen = byKey.get(key);
    if (!seen || seen.at <= r.at) byKey.set(key, r);
  }
  return [...byKey.values()].sort((a, b) => a.night.localeCompare(b.night) || a.at.localeCompare(b.at));
}

/**
 * The trend of one pool (its measured nights, any runner): its current series (nights since the last software
 * change), judged against the previous series' good nights. `today`: the night rendered, for staleness.
 */
export function runnerTrend(
  records: readonly HistoryRecord[],
  options: TrendOptions,
  today?: string,
): RunnerTrend {
  const nights = lastPerRunnerNight(records.filter((r) => unmeasuredReason(r) === undefined));
  const latest = nights.at(-1);
  if (!latest) throw new Error('runnerTrend needs at least one measured night of history');
  const series = seriesKey(latest);
  let start = nights.length - 1;
  while (start > 0 && seriesKey(nights[start - 1]) === series) start--;
  const segment = nights.slice(start);
  const previousSeries = start > 0 ? seriesKey(nights[start - 1]) : undefined;
  // the series before this one: its last good nights carry over, so a change of driver cannot hide a regression
  let before = start;
  while (before > 0 && seriesKey(nights[before - 1]) === previousSeries) before--;
  const previous = nights.slice(before, start);
  const change = previous.length ? seriesChange(previous[previous.length - 1], latest) : undefined;
  const isStale = (night: string) => today !== undefined && daysBetween(night, today) >= options.staleNights;

  const keys = [...new Set(segment.flatMap((r) => r.cells.map((c) => c.key)))];
  const cells = keys
    .map((key) => {
      const last = previous.length ? judgeCell(previous, key, options) : undefined;
      const carried: Carried = {
        values: (last?.points ?? [])
          .filter(isGood)
          .map((p) => p.value)
          .slice(-options.spreadNights),
        cardEffects: last?.cardEffects,
        baseCard: last?.baseCard,
      };
      return judgeCell(segment, key, options, carried);
    })
    .filter((c): c is CellTrend => c !== undefined);
  const stale = isStale(latest.night);
  // a cell dropped from the grid holds no alert once it has been missing for staleNights
  const staleCells = stale ? [] : cells.filter((c) => isStale(c.latest.night));
  const live = stale ? [] : cells.filter((c) => !staleCells.includes(c));
  const regressed = live.filter((c) => c.latest.status === 'regressed');
  const recovering = live.filter((c) => c.latest.status === 'recovering');
  const suspicious = live.filter((c) => c.latest.status === 'suspicious');
  const slowLoss = live.filter((c) => c.latest.slowLoss && c.latest.status !== 'regressed');
  const changedWithSeries = cells.filter((c) => c.seriesStepPct !== undefined);

  // a night that stopped before the patch or the tests neither clears nor raises their alert
  const checkedPatch = (r: HistoryRecord) => r.checked?.patch ?? true;
  const checkedTests = (r: HistoryRecord) => r.checked?.tests ?? true;
  const drift = stale ? [] : (nights.filter(checkedPatch).at(-1)?.drift ?? []);
  const correctness = stale ? [] : (nights.filter(checkedTests).at(-1)?.correctness ?? []);
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

  // each card's offset, told where it is at least half the threshold ("card 3fa2 runs 6% slower than its pool")
  const effects = new Map<string, number[]>();
  for (const c of cells)
    for (const [card, ratio] of c.cardEffects)
      effects.set(card, [...(effects.get(card) ?? []), c.higherIsBetter ? 1 / ratio : ratio]);
  const hostOf = (card: string) => nights.filter((r) => r.device.card === card).at(-1)?.device.host;
  const cardEffects = [...effects]
    .map(([card, ratios]) => ({ card, host: hostOf(card), worsePct: (medianOf(ratios) - 1) * 100 }))
    .filter((e) => Math.abs(e.worsePct) >= options.thresholdPct / 2);

  // the night the last accepted issue was first recorded: later lines repeat it until a new issue opens
  const lastAccepted = nights.filter((r) => r.accepted).at(-1)?.accepted?.issue;
  const acceptedAt = nights.find((r) => r.accepted && r.accepted.issue === lastAccepted);
  const accepted = acceptedAt?.accepted ? { ...acceptedAt.accepted, night: acceptedAt.night } : undefined;

  let status: RunnerStatus;
  if (stale) status = 'stale';
  else if (drift.length > 0 || correctness.length > 0 || regressed.length > 0 || slowLoss.length > 0)
    status = 'alert';
  else if (recovering.length > 0) status = 'recovering';
  // one night of a new series cannot yet tell a step with the update from an outlier
  else if (segment.length === 1 && previousSeries !== undefined) status = 'new-series';
  else if (suspicious.length > 0) status = 'suspicious';
  else if (live.length === 0 || live.every((c) => c.latest.status === 'warming-up')) status = 'warming-up';
  else status = 'ok';

  const runners = new Set(nights.map((r) => r.runner));
  return {
    runner: runners.size === 1 ? latest.runner : poolKey(latest.device),
    pool: poolKey(latest.device),
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
    recovering,
    suspicious,
    slowLoss,
    staleCells,
    change,
    changedWithSeries,
    cardEffects,
    accepted,
    stale,
    status,
  };
}

export interface NightlyTrends {
  /** every pool of the bundle, ordered by name */
  pools: RunnerTrend[];
  /** recent nights that measured nothing, newest first */
  unmeasured: UnmeasuredNight[];
}

/** Every pool of one bundle (a GPU model × count), and the recent nights that measured nothing. */
export function nightlyTrends(
  records: readonly HistoryRecord[],
  options: TrendOptions,
  today?: string,
): NightlyTrends {
  const byPool = new Map<string, HistoryRecord[]>();
  const unmeasured: UnmeasuredNight[] = [];
  for (const r of records) {
    const reason = unmeasuredReason(r);
    if (reason) {
      if (today === undefined || daysBetween(r.night, today) < options.staleNights)
        unmeasured.push({ ...nightRef(r), runner: r.runner, reason });
      continue;
    }
    const pool = poolKey(r.device);
    byPool.set(pool, [...(byPool.get(pool) ?? []), r]);
  }
  unmeasured.sort((a, b) => b.night.localeCompare(a.night) || a.runner.localeCompare(b.runner));
  const pools = [...byPool.keys()].sort().map((pool) => runnerTrend(byPool.get(pool) ?? [], options, today));
  return { pools, unmeasured };
}

/** An alert that holds the issue open: a pool alerting, or a regression not yet back for enough nights. */
export const isAlerting = (trends: readonly RunnerTrend[]): boolean =>
  trends.some((t) => t.status === 'alert');

/** The nights retention must keep, as pinKey()s: each pool's current series' anchors and regressions' references. */
export function pinnedNights(records: readonly HistoryRecord[], options: TrendOptions): Set<string> {
  const pinned = new Set<string>();
  for (const pool of nightlyTrends(records, options).pools)
    for (const cell of pool.cells) for (const night of cell.pinned) pinned.add(`${pool.pool}|${night}`);
  return pinned;
}
