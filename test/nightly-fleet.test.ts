// A nightly left running for months on a real fleet: each series replays the mode's decisions night by night
// (history line, retention, acceptance, trends, issue action) with the issue kept as GitHub keeps it.
// CI runs FLEET_SERIES (20) series a scenario; the README's rows come from
// `FLEET_SERIES=200 npx vitest run test/nightly-fleet.test.ts`, which prints them.
import { afterAll, describe, expect, it } from 'vitest';
import type { Device } from '../src/results/run-result.js';
import { type FleetNight, H200, type IssueNight, replayIssue } from './nightly-sim.js';

const SERIES = Number(process.env.FLEET_SERIES ?? 20);
const TIMEOUT = 60_000 + SERIES * 3_000;
const UNKNOWN: Device = { vendor: 'unknown', name: 'unknown', count: 0 };
const MI355X: Device = {
  vendor: 'amd',
  name: 'AMD Instinct MI355X',
  count: 1,
  driver: '6.14.14',
  torch: '2.11.0',
  triton: '3.6.0',
};
const steady = (stepFactor = 1, more: Partial<FleetNight> = {}): FleetNight[] => [
  { runner: 'h200-1', device: { ...H200, host: 'h200-1', card: 'c0c0c0c0c0c0' }, stepFactor, ...more },
];

const series = (run: (seed: number) => IssueNight[]) => Array.from({ length: SERIES }, (_, k) => run(k + 1));
const pct = (hits: number, of = SERIES) => Number(((hits / of) * 100).toFixed(1));
const openedOn = (nights: IssueNight[], i: number) => nights[i].opened && nights[i - 1].open === undefined;

describe(`a nightly left running, ${SERIES} simulated series a scenario (the regressed cell, 1% noise)`, () => {
  const table: string[] = [];
  afterAll(() => {
    if (process.env.FLEET_SERIES) console.info(`\n${table.join('\n')}\n`);
  });

  it(
    'keeps one issue open through a persisting 7% regression (0 early closes), a failed checkout night inside it too',
    () => {
      // 65 nights of regression: longer than the 60 days of history kept
      const from = 20;
      const nights = 85;
      const failedNight = 30;
      const run = (seed: number, failed: boolean) =>
        replayIssue(seed, {
          nights: failed ? failedNight + 10 : nights,
          stepCellOnly: true,
          runs: (i) =>
            failed && i === failedNight
              ? steady(1, { device: UNKNOWN, checkoutFailed: true })
              : steady(i >= from ? 1.07 : 1),
        });
      let early = 0;
      let extra = 0;
      let onSecond = 0;
      let changed = 0;
      let hidden = 0;
      for (let seed = 1; seed <= SERIES; seed++) {
        const plain = run(seed, false);
        const first = plain.findIndex((n) => n.opened);
        if (plain.slice(first).some((n) => n.closed)) early++;
        if (plain.filter((n) => n.opened).length > 1) extra++;
        if (openedOn(plain, from + 1)) onSecond++;
        // the same nights (a failed run draws the same noise) with the checkout failing on one of them
        const failed = run(seed, true);
        if (failed[failedNight].open !== failed[failedNight - 1].open) changed++;
        const shown = (s: IssueNight[]) => (s[failedNight + 1].pools[0]?.regressed.length ?? 0) > 0;
        if (shown(plain) && !shown(failed)) hidden++;
      }
      table.push(
        `| persisting 7% regression in one cell, 65 nights (60 days of history kept) | series whose issue closed before the regression ended | ${pct(early)}% | more than one issue: ${pct(extra)}%; opened on its 2nd night: ${pct(onSecond)}% |`,
        `| the same with a failed checkout night inside it | series whose issue the failed night opened or closed, or whose regression it hid the night after | ${pct(changed + hidden)}% | |`,
      );
      expect({ early, extra, changed, hidden }).toEqual({ early: 0, extra: 0, changed: 0, hidden: 0 });
    },
    TIMEOUT,
  );

  it(
    'opens an issue on the 2nd night of a 20% regression with ephemeral hosts and with 8 rotating GPUs',
    () => {
      // a pool that has run for two months: every card has had the 2 nights that measure its offset
      const from = 60;
      const nights = from + 3;
      // the 8 cards' own speeds, within 4% of each other: taken out per card after its first 2 nights
      const cards = [1, 0.99, 1.01, 1.02, 0.98, 1.03, 0.995, 1.04];
      const ephemeral = series((seed) =>
        replayIssue(seed, {
          nights,
          stepCellOnly: true,
          runs: (i) => [
            {
              runner: `gh-${seed}-${i}`,
              device: { ...H200, host: `gh-${seed}-${i}` },
              stepFactor: i >= from ? 1.2 : 1,
            },
          ],
        }),
      );
      const rotating = series((seed) =>
        replayIssue(seed, {
          nights,
          stepCellOnly: true,
          runs: (i, random) => {
            const k = Math.floor(random() * cards.length);
            return [
              {
                runner: `gh-${seed}-${i}`,
                device: { ...H200, host: `gpu-box-${k}`, card: `card${k}`.padEnd(12, '0') },
                kernelFactor: cards[k],
                stepFactor: i >= from ? 1.2 : 1,
              },
            ];
          },
        }),
      );
      const onSecond = (all: IssueNight[][]) => pct(all.filter((s) => openedOn(s, from + 1)).length);
      const falseBefore = (all: IssueNight[][]) =>
        pct(all.filter((s) => s.slice(0, from).some((n) => n.opened)).length);
      table.push(
        `| ephemeral hosts (a new runner name every night), 20% regression | issue opened on the regression's 2nd night | ${onSecond(ephemeral)}% | an issue before it: ${falseBefore(ephemeral)}% |`,
        `| 8 rotating GPUs (within 4% of each other), 20% regression | issue opened on the regression's 2nd night | ${onSecond(rotating)}% | an issue before it: ${falseBefore(rotating)}% |`,
      );
      expect(onSecond(ephemeral)).toBeGreaterThanOrEqual(95);
      expect(onSecond(rotating)).toBeGreaterThanOrEqual(95);
      expect(falseBefore(ephemeral)).toBe(0);
      expect(falseBefore(rotating)).toBeLessThanOrEqual(5);
    },
    TIMEOUT,
  );

  it(
    'never blames a 10% slower bundle on vLLM',
    () => {
      const update = 30;
      const all = series((seed) =>
        replayIssue(seed, {
          nights: update + 20,
          stepCellOnly: true,
          runs: (i) => steady(1, i >= update ? { bundleHash: 'sha256:9a1b', kernelFactor: 1.1 } : {}),
        }),
      );
      const blamed = all.filter((s) => s.some((n) => n.opened)).length;
      const told = all.filter((s) => s.at(-1)?.pools[0]?.changedWithSeries.length).length;
      table.push(
        `| bundle update, kernel 10% slower | series with an issue blaming vLLM | ${pct(blamed)}% | step reported with the bundle change: ${pct(told)}% |`,
      );
      expect(blamed).toBe(0);
      expect(pct(told)).toBeGreaterThanOrEqual(95);
    },
    TIMEOUT,
  );

  it(
    'opens no new issue for a level a maintainer closed as not planned, and alerts on a further regression',
    () => {
      const from = 20;
      const closedOn = from + 3;
      const further = 45;
      let reopened = 0;
      let seenFurther = 0;
      for (const s of series((seed) =>
        replayIssue(seed, {
          nights: further + 2,
          stepCellOnly: true,
          runs: (i) => steady(i >= further ? 1.1 * 1.1 : i >= from ? 1.1 : 1),
          closeNotPlanned: (i) => i === closedOn,
        }),
      )) {
        if (s.slice(closedOn + 1, further).some((n) => n.opened)) reopened++;
        if (openedOn(s, further + 1)) seenFurther++;
      }
      table.push(
        `| 10% regression closed as not planned on its 4th night | series with a new issue for that level (25 nights) | ${pct(reopened)}% | a further 10% opens one on its 2nd night: ${pct(seenFurther)}% |`,
      );
      expect(reopened).toBe(0);
      expect(pct(seenFurther)).toBeGreaterThanOrEqual(95);
    },
    TIMEOUT,
  );

  it(
    'closes the issue once a retired runner is stale and every other pool is back',
    () => {
      const from = 20;
      const retired = 25;
      const nights = 40;
      const closedAfter: number[] = [];
      for (const s of series((seed) =>
        replayIssue(seed, {
          nights,
          stepCellOnly: true,
          runs: (i) => [
            ...(i <= retired ? steady(i >= from ? 1.1 : 1) : []),
            { runner: 'mi355x-1', device: { ...MI355X, host: 'mi355x-1', card: 'a1a1a1a1a1a1' } },
          ],
        }),
      )) {
        const closed = s.findIndex((n, i) => i > retired && n.closed && /stale/.test(n.note ?? ''));
        closedAfter.push(closed < 0 ? Number.POSITIVE_INFINITY : closed - retired);
      }
      const inWeek = closedAfter.filter((d) => d <= 8).length;
      table.push(
        `| runner retired during a 10% regression, another pool steady | issue closed as stale within 8 nights | ${pct(inWeek)}% | nights to close: ${Math.min(...closedAfter)}–${Math.max(...closedAfter)} |`,
      );
      expect(pct(inWeek)).toBe(100);
    },
    TIMEOUT,
  );

  it(
    'flags a slow drift of 0.1% a night within 90 nights, over 140 nights with the default 60 days of history',
    () => {
      const start = 10;
      // the README's run scans slower drifts too; CI checks the one the README states
      const rates = process.env.FLEET_SERIES ? [0.05, 0.07, 0.1] : [0.1];
      const drifts = process.env.FLEET_SERIES ? SERIES : Math.max(5, SERIES / 4);
      const caught = rates.map((rate) => {
        let within = 0;
        let lost = 0;
        for (let seed = 1; seed <= drifts; seed++) {
          const s = replayIssue(seed, {
            nights: 140,
            stepCellOnly: true,
            runs: (i) => steady(1 + (rate / 100) * Math.max(0, i - start)),
          });
          const first = s.findIndex((n) => n.opened);
          if (first >= 0 && first - start <= 90) within++;
          if (first >= 0) lost += (rate * (first - start)) / drifts;
        }
        return { rate, share: pct(within, drifts), lost };
      });
      const slowest = caught.filter((c) => c.share >= 95).at(0);
      table.push(
        `| slow drift over 140 nights, 60 days of history kept | slowest drift flagged within 90 nights in ≥ 95% | ${slowest ? `${slowest.rate}% a night` : 'none'} | ${caught.map((c) => `${c.rate}%: ${c.share}%`).join(', ')} |`,
      );
      expect(caught.find((c) => c.rate === 0.1)?.share).toBe(100);
    },
    // 140 nights a series, 3 drifts in the README's run
    60_000 + SERIES * 6_000,
  );
});
