// How often the persistence rule raises a false regression on steady nights, and how fast it sees a real one,
// measured on seeded simulations of the H200 capture's 30 cells.
import { afterAll, describe, expect, it } from 'vitest';
import { historyRecordFrom, seriesKey } from '../src/nightly/record.js';
import { DEFAULT_TREND, runnerTrend } from '../src/nightly/trend.js';
import { fakeSha, H200, nightDate, seededRandom, simulatedRunResult } from './nightly-sim.js';

const NIGHTS = 60;
const SERIES = 50;

/** Night-by-night statuses of every cell over one simulated series. */
function simulate(seed: number, noise: number, stepFrom = Number.POSITIVE_INFINITY, step = 1) {
  const random = seededRandom(seed);
  const records = Array.from({ length: NIGHTS }, (_, i) =>
    historyRecordFrom(
      simulatedRunResult({
        night: nightDate('2026-01-01', i),
        runner: 'h200-1',
        device: H200,
        vllmSha: fakeSha(i + 1),
        noise,
        random,
        stepFactor: i >= stepFrom ? step : 1,
      }),
    ),
  );
  return runnerTrend(records, { ...DEFAULT_TREND, thresholdPct: 5 }).cells;
}

function rates(noise: number) {
  let falseNights = 0;
  let suspiciousNights = 0;
  let nights = 0;
  for (let seed = 1; seed <= SERIES; seed++) {
    const cells = simulate(seed, noise);
    for (let i = 0; i < NIGHTS; i++) {
      nights++;
      if (cells.some((c) => c.points[i]?.status === 'regressed')) falseNights++;
      if (cells.some((c) => c.points[i]?.status === 'suspicious')) suspiciousNights++;
    }
  }
  if (process.env.NIGHTLY_RATES) console.info({ noise, falseNights, suspiciousNights, nights });
  return { falsePct: (falseNights / nights) * 100, suspiciousPct: (suspiciousNights / nights) * 100 };
}

function detection(noise: number, step: number) {
  let onSecondNight = 0;
  for (let seed = 1; seed <= SERIES; seed++) {
    const cell = simulate(seed, noise, 30, step).find((c) => c.key === 'kernel:bfloat16-K2048-N8192');
    if (cell?.points[31]?.status === 'regressed') onSecondNight++;
  }
  if (process.env.NIGHTLY_RATES) console.info({ noise, step, onSecondNight });
  return (onSecondNight / SERIES) * 100;
}

describe('persistence rule on 50 simulated series of 60 nights × 30 cells', () => {
  it('raises no false regression at 1–2% night-to-night noise, and rarely at 3%', () => {
    const measured = [1, 2, 3].map((cv) => ({ cv, ...rates(cv / 100) }));
    // measured: 0, 0 and 18 of 3000 nights (0.6%) with a false regression in one of the 30 cells (a false
    // regression now lasts until 3 nights are back within half the threshold); 2.5% suspicious at 2%
    expect(measured[0].falsePct).toBe(0);
    expect(measured[1].falsePct).toBe(0);
    expect(measured[2].falsePct).toBeLessThan(1);
    expect(measured[1].suspiciousPct).toBeLessThan(5);
  });

  it('sees a 10% step on its second night when the night-to-night noise is 1%, most of the time at 2%', () => {
    const measured = [1, 2].map((cv) => ({
      cv,
      step10: detection(cv / 100, 1.1),
      step20: detection(cv / 100, 1.2),
    }));
    // measured: at 1% noise 50/50 and 50/50; at 2% noise 34/50 (68%) and 50/50
    expect(measured[0]).toEqual({ cv: 1, step10: 100, step20: 100 });
    expect(measured[1].step10).toBeGreaterThanOrEqual(50);
    expect(measured[1].step20).toBe(100);
  });
});

// Nightly scenarios: slow loss, a card swap, a driver update before a regression, a bimodal machine. CI runs 50
// series each; the README's rates come from `NIGHTLY_SERIES=500 npx vitest run test/nightly-rates.test.ts`,
// which prints them.
const SCENARIO_SERIES = Number(process.env.NIGHTLY_SERIES ?? 50);
const NOISE = 0.01;
/** 500 series take minutes on a small machine */
const SCENARIO_TIMEOUT = 60_000 + SCENARIO_SERIES * 2_000;

interface Story {
  nights: number;
  /** every kernel cell's factor on night i (1.06 = 6% slower) */
  kernel?: (i: number, random: () => number) => number;
  /** the device on night i */
  device?: (i: number) => typeof H200;
}

/** Per night: any cell regressed or lost against the anchor (an alarm), and the runner's last trend. */
function replay(seed: number, story: Story) {
  const random = seededRandom(seed);
  const mode = seededRandom(seed + 100_000);
  const records = Array.from({ length: story.nights }, (_, i) =>
    historyRecordFrom(
      simulatedRunResult({
        night: nightDate('2026-01-01', i),
        runner: 'h200-1',
        device: story.device?.(i) ?? H200,
        vllmSha: fakeSha(i + 1),
        noise: NOISE,
        random,
        kernelFactor: story.kernel?.(i, mode) ?? 1,
      }),
    ),
  );
  // one pass per series start: a night's statuses depend only on the nights before it
  const alarms = new Array<boolean>(story.nights).fill(false);
  const trends = [];
  for (let i = 1; i <= story.nights; i++) {
    const last = i === story.nights || seriesKey(records[i]) !== seriesKey(records[i - 1]);
    if (!last) continue;
    const t = runnerTrend(records.slice(0, i), { ...DEFAULT_TREND, thresholdPct: 5 });
    const offset = i - t.nights.length;
    for (const c of t.cells)
      c.points.forEach((p, k) => {
        if (p.status === 'regressed' || p.slowLoss) alarms[offset + k] = true;
      });
    trends.push(t);
  }
  return { alarms, trends };
}

const share = (hits: number) => Number(((hits / SCENARIO_SERIES) * 100).toFixed(1));

describe(`nightly scenarios on ${SCENARIO_SERIES} simulated series of the H200 capture's 30 cells at 1% noise`, () => {
  const table: string[] = [];
  afterAll(() => {
    if (process.env.NIGHTLY_SERIES) console.info(`\n${table.join('\n')}\n`);
  }, SCENARIO_TIMEOUT);

  it(
    'flags a slow loss of 0.2% a night before 10% cumulative loss',
    () => {
      const start = 10;
      let flagged = 0;
      const losses: number[] = [];
      for (let seed = 1; seed <= SCENARIO_SERIES; seed++) {
        const { alarms } = replay(seed, { nights: 80, kernel: (i) => 1 + 0.002 * Math.max(0, i - start) });
        const first = alarms.findIndex((a, i) => a && i >= start);
        const loss = first < 0 ? Number.POSITIVE_INFINITY : 0.2 * (first - start);
        if (loss < 10) flagged++;
        losses.push(loss);
      }
      losses.sort((a, b) => a - b);
      const medianLoss = losses[Math.floor(losses.length / 2)];
      table.push(
        `| slow loss, 0.2% a night | flagged before 10% cumulative loss | ${share(flagged)}% | median loss when flagged: ${medianLoss.toFixed(1)}% |`,
      );
      expect(share(flagged)).toBeGreaterThanOrEqual(95);
    },
    SCENARIO_TIMEOUT,
  );

  it(
    'blames no regression on vLLM when a same-model card 6% slower replaces the card, and says so',
    () => {
      const swap = 30;
      let blamed = 0;
      let reported = 0;
      for (let seed = 1; seed <= SCENARIO_SERIES; seed++) {
        const { alarms, trends } = replay(seed, {
          nights: 60,
          device: (i) => (i >= swap ? { ...H200, card: 'b0b0b0b0b0b0' } : { ...H200, card: 'a0a0a0a0a0a0' }),
          kernel: (i) => (i >= swap ? 1.06 : 1),
        });
        if (alarms.some((a, i) => a && i >= swap)) blamed++;
        const effect = trends.at(-1)?.cardEffects.find((e) => e.card === 'b0b0b0b0b0b0');
        if (effect && Math.abs(effect.worsePct - 6) < 1.5) reported++;
      }
      table.push(
        `| card swap, same model 6% slower | series with a regression blamed on vLLM | ${share(blamed)}% | card reported 6% slower than its pool: ${share(reported)}% |`,
      );
      // 1 of 500 series at the README's run
      expect(share(blamed)).toBeLessThanOrEqual(2);
      expect(share(reported)).toBeGreaterThanOrEqual(95);
    },
    SCENARIO_TIMEOUT,
  );

  it(
    'sees a 10% regression 3 nights after a driver update',
    () => {
      const update = 30;
      const regression = update + 3;
      let seen = 0;
      let late = 0;
      for (let seed = 1; seed <= SCENARIO_SERIES; seed++) {
        const { alarms } = replay(seed, {
          nights: 45,
          device: (i) => (i >= update ? { ...H200, driver: '590.44.01' } : H200),
          kernel: (i) => (i >= regression ? 1.1 : 1),
        });
        if (alarms[regression + 1]) seen++;
        if (alarms.slice(regression).some(Boolean)) late++;
      }
      table.push(
        `| driver update 3 nights before a 10% regression | regression flagged on its second night | ${share(seen)}% | flagged at all: ${share(late)}% |`,
      );
      expect(share(late)).toBeGreaterThanOrEqual(95);
    },
    SCENARIO_TIMEOUT,
  );

  it(
    'keeps false regressions rare on a bimodal machine (6% slower on 30% of nights)',
    () => {
      const nights = 90;
      let falseNights = 0;
      let steadyFalse = 0;
      let detected = 0;
      for (let seed = 1; seed <= SCENARIO_SERIES; seed++) {
        const slowNight = (_i: number, mode: () => number) => (mode() < 0.3 ? 1.06 : 1);
        falseNights += replay(seed, { nights, kernel: slowNight }).alarms.filter(Boolean).length;
        steadyFalse += replay(seed, { nights }).alarms.filter(Boolean).length;
        // a real 10% regression from night 60 on the same machine
        const { alarms } = replay(seed, {
          nights: 75,
          kernel: (i, mode) => slowNight(i, mode) * (i >= 60 ? 1.1 : 1),
        });
        if (alarms.slice(60).some(Boolean)) detected++;
      }
      const pct = (n: number) => ((n / (SCENARIO_SERIES * nights)) * 100).toFixed(2);
      table.push(
        `| bimodal machine, 6% slower on 30% of nights | nights with a false regression | ${pct(falseNights)}% | a 10% regression on it flagged within 15 nights: ${share(detected)}% |`,
        `| steady machine | nights with a false regression or slow loss | ${pct(steadyFalse)}% | |`,
      );
      // without the guard: 6.2% of nights at 50 series; the nights left are mostly before 14 nights show the slow
      // mode, and last until 3 fast nights in a row (hysteresis): 4.3% at 50 series
      expect(falseNights / (SCENARIO_SERIES * nights)).toBeLessThan(0.05);
      expect(steadyFalse).toBe(0);
      expect(share(detected)).toBeGreaterThanOrEqual(90);
    },
    SCENARIO_TIMEOUT,
  );
});
