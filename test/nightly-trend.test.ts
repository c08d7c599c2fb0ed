import { describe, expect, it } from 'vitest';
import { ACCEPT_LABEL, acceptanceOf, decideIssueAction } from '../src/nightly/issue-action.js';
import {
  commitRange,
  githubSlug,
  ISSUE_BODY_MAX,
  issueBody,
  issueMarker,
  trendChart,
} from '../src/nightly/issue-body.js';
import {
  bundleName,
  formatHistoryLine,
  type HistoryRecord,
  historyRecordFrom,
  parseHistoryLines,
  seriesKey,
  withinRetention,
} from '../src/nightly/record.js';
import {
  DEFAULT_TREND,
  judgeCell,
  pinnedNights,
  robustSpreadPct,
  runnerTrend,
  type TrendOptions,
} from '../src/nightly/trend.js';
import { cardIdentity, parseNvidiaQuery } from '../src/pipeline/device-parse.js';
import { fakeSha, H200, nightDate, seededRandom, simulatedRunResult } from './nightly-sim.js';

const OPTIONS: TrendOptions = { ...DEFAULT_TREND, thresholdPct: 5 };
const STEP_KEY = 'kernel:bfloat16-K2048-N8192';
const inert = (t: string) => t.replace(/[<>@`|*_[\]]/g, (c) => `\\${c}`);

/** Nights of one runner; `factors[i]` scales the bf16 N=8192 cell on night i. */
function nights(
  factors: number[],
  overrides: (i: number) => Partial<Parameters<typeof simulatedRunResult>[0]> = () => ({}),
): HistoryRecord[] {
  const random = seededRandom(7);
  return factors.map((stepFactor, i) =>
    historyRecordFrom(
      simulatedRunResult({
        night: nightDate('2026-09-01', i),
        runner: 'h200-1',
        device: H200,
        vllmSha: fakeSha(i + 1),
        stepFactor,
        noise: 0.01,
        random,
        ...overrides(i),
      }),
    ),
  );
}

const flat = (n: number) => Array.from({ length: n }, () => 1);

describe('history record', () => {
  it('keeps fused kernel µs per dtype/K/N and the patched e2e median, with the device', () => {
    const [record] = nights([1]);
    expect(record.night).toBe('2026-09-01');
    expect(record.vllmSha).toBe(fakeSha(1));
    const keys = record.cells.map((c) => c.key);
    // the H200 capture: 20 fused cells (bf16, K 2048/4096/7168) and 10 e2e cells of the model backend
    expect(keys.filter((k) => k.startsWith('kernel:'))).toHaveLength(20);
    expect(keys.filter((k) => k.startsWith('e2e:'))).toHaveLength(10);
    const step = record.cells.find((c) => c.key === STEP_KEY);
    // 25.56 µs captured, 1% noise
    expect(step?.value).toBeGreaterThan(24.5);
    expect(step?.value).toBeLessThan(26.6);
    expect(step).toMatchObject({ unit: 'µs', higherIsBetter: false, label: 'fused bfloat16 K=2048 N=8192' });
    expect(
      record.cells.find((c) => c.key === 'e2e:qwen2-moe-decode-b8-c512:decode_tokens_per_s'),
    ).toMatchObject({
      unit: 'tok/s',
      higherIsBetter: true,
    });
    expect(record.device.driver).toBe('580.159.04');
    expect(record).toMatchObject({ complete: true, drift: [], correctness: [] });
  });

  it('records patch drift as file:line and failing test ids', () => {
    const [drifted] = nights([1], () => ({ drift: true, failingTest: true }));
    expect(drifted.drift).toEqual(['vllm/model_executor/models/qwen2_moe.py:118 (unmatched)']);
    expect(drifted.correctness).toEqual(['test_gate[float16-2048-7177]']);
    expect(drifted.cells).toEqual([]);
    expect(drifted.failedSteps).toEqual(['apply-bundle', 'kernel-tests']);
  });

  it('knows a bundle given as a path by its directory name', () => {
    expect(bundleName('fused_shared_expert_gate')).toBe('fused_shared_expert_gate');
    expect(bundleName('/home/runner/work/x/kernels/my_gate/')).toBe('my_gate');
    expect(bundleName('C:\\a\\my_gate')).toBe('my_gate');
  });

  it('round-trips through a JSON line and reports a bad line with its place', () => {
    const [record] = nights([1]);
    const text = `${formatHistoryLine(record)}\n{"v":1}\nnot json\n`;
    const { records, problems } = parseHistoryLines(text, 'h200-1.jsonl');
    expect(records).toEqual([record]);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^h200-1\.jsonl:2: /);
    expect(problems[1]).toBe('h200-1.jsonl:3: not JSON');
  });

  it('keeps only the retention window of nights', () => {
    const records = nights(flat(10));
    expect(withinRetention(records, '2026-09-10', 3).map((r) => r.night)).toEqual([
      '2026-09-08',
      '2026-09-09',
      '2026-09-10',
    ]);
  });

  it('puts GPU model × count, driver, torch, triton and the bundle in the series key, not the host or card', () => {
    const [night] = nights([1]);
    const key = (device: Partial<typeof H200>, more: Partial<HistoryRecord> = {}) =>
      seriesKey({ ...night, ...more, device: { ...night.device, ...device } });
    const base = key({});
    expect(key({ driver: '590.44.01' })).not.toBe(base);
    expect(key({ torch: '2.12.0' })).not.toBe(base);
    expect(key({ triton: '3.7.0' })).not.toBe(base);
    expect(key({ name: 'NVIDIA H100 80GB HBM3' })).not.toBe(base);
    expect(key({ count: 8 })).not.toBe(base);
    expect(key({}, { bundleHash: 'sha256:9a1b' })).not.toBe(base);
    expect(key({}, { kernelSource: 'tree' })).not.toBe(base);
    expect(key({ python: '3.13.1' })).toBe(base);
    // ephemeral runners and rotating cards: the same pool, the same series
    expect(key({ host: 'gh-runner-1a2b', card: 'a0a0a0a0a0a0' })).toBe(base);
    expect(key({ host: 'gh-runner-9z8y', card: 'b0b0b0b0b0b0' })).toBe(base);
  });

  it("keeps a hash of the card's UUIDs, never the UUID itself", () => {
    const uuids = ['GPU-5c0a1c6e-0d6f-4a7e-9d3b-000000000000'];
    const card = cardIdentity(uuids);
    expect(card).toMatch(/^[0-9a-f]{12}$/);
    expect(cardIdentity(['GPU-5C0A1C6E-0D6F-4A7E-9D3B-000000000000'])).toBe(card);
    expect(cardIdentity(['GPU-5c0a1c6e-0d6f-4a7e-9d3b-000000000001'])).not.toBe(card);
    expect(
      parseNvidiaQuery('0, NVIDIA H200, 580.159.04, 143771, 1, GPU-5c0a1c6e-0d6f-4a7e-9d3b-000000000000\n')
        .uuids,
    ).toEqual(uuids);
    expect(parseNvidiaQuery('0, NVIDIA H200, 580.159.04, 143771, 1\n').uuids).toBeUndefined();
  });
});

describe('trend and persistence rule', () => {
  it('estimates spread robustly (one outlier does not widen it)', () => {
    expect(robustSpreadPct([100, 101, 99, 100, 100.5, 99.5])).toBeCloseTo(0.74, 1);
    expect(robustSpreadPct([100, 101, 99, 100, 100.5, 150])).toBeLessThan(1.2);
  });

  it('warms up before judging, then calls steady nights ok', () => {
    const cell = judgeCell(nights(flat(10)), STEP_KEY, OPTIONS);
    expect(cell?.points.map((p) => p.status)).toEqual([
      ...Array(7).fill('warming-up'),
      ...Array(3).fill('ok'),
    ]);
    expect(cell?.latest.reference?.nights).toBe(9);
  });

  it('calls one bad night suspicious and the second a regression, naming the first bad night', () => {
    const records = nights([...flat(10), 1.12, 1.12]);
    const first = runnerTrend(records.slice(0, 11), OPTIONS);
    expect(first.status).toBe('suspicious');
    expect(first.suspicious.map((c) => c.key)).toEqual([STEP_KEY]);
    const second = runnerTrend(records, OPTIONS);
    expect(second.status).toBe('alert');
    const [cell] = second.regressed;
    expect(cell.key).toBe(STEP_KEY);
    expect(cell.firstBad).toMatchObject({ night: '2026-09-11', vllmSha: fakeSha(11) });
    expect(cell.lastGood).toMatchObject({ night: '2026-09-10', vllmSha: fakeSha(10) });
    expect(cell.latest.worsePct).toBeGreaterThan(9);
  });

  it('lets an outlier night pass and keeps it out of the reference', () => {
    const t = runnerTrend(nights([...flat(10), 1.3, 1, 1]), OPTIONS);
    expect(t.status).toBe('ok');
    const cell = t.cells.find((c) => c.key === STEP_KEY);
    const [outlier, ...after] = cell?.points.slice(-3).map((p) => p.status) ?? [];
    expect(outlier).toBe('suspicious');
    for (const status of after) expect(['ok', 'improved']).toContain(status);
    // 12 earlier nights, the outlier left out
    expect(cell?.latest.reference?.nights).toBe(11);
  });

  it('keeps judging a lasting regression against the good nights, then sees the recovery', () => {
    const regressed = runnerTrend(nights([...flat(8), ...Array(20).fill(1.12)]), OPTIONS);
    expect(regressed.status).toBe('alert');
    expect(regressed.regressed[0].firstBad?.night).toBe('2026-09-09');
    // hysteresis: back only after 3 nights in a row within half the threshold
    const back = (n: number) =>
      runnerTrend(nights([...flat(8), ...Array(20).fill(1.12), ...flat(n)]), OPTIONS);
    expect([1, 2, 3].map((n) => back(n).status)).toEqual(['recovering', 'recovering', 'ok']);
    expect(back(2).recovering[0].firstBad?.night).toBe('2026-09-09');
    // a night under the threshold but over half of it is still the regression's, and starts the count again
    const wavering = runnerTrend(nights([...flat(8), ...Array(6).fill(1.12), 1, 1.04, 1, 1]), OPTIONS);
    expect(wavering.status).toBe('recovering');
    expect(wavering.cells.find((c) => c.key === STEP_KEY)?.points.at(-3)?.status).toBe('regressed');
  });

  it('alerts again on the second night when a regression returns after a fix (the guard ignores its nights)', () => {
    const returned = [...flat(10), ...Array(12).fill(1.08), ...flat(12), 1.08, 1.08];
    const cell = runnerTrend(nights(returned), OPTIONS).cells.find((c) => c.key === STEP_KEY);
    expect(cell?.streakNeeded).toBe(2);
    expect(cell?.latest.status).toBe('regressed');
  });

  it('pins the anchor and the reference of a lasting regression, so retention cannot forget them', () => {
    const records = nights([...flat(30), ...Array(10).fill(1.12)]);
    const pinned = pinnedNights(records, OPTIONS);
    const pool = 'NVIDIA H200 ×1';
    // the first 7 good nights (the anchor), and the last 30 good nights before the regression (its reference)
    expect([...pinned].sort()).toEqual(records.slice(0, 30).map((r) => `${pool}|${r.night}`));
    const steady = pinnedNights(nights(flat(40)), OPTIONS);
    expect([...steady].sort()).toEqual(nights(flat(7)).map((r) => `${pool}|${r.night}`));
  });

  it('marks a regressed cell dropped from the grid stale after 7 days, and a pool without nights stale too', () => {
    const records = nights([...flat(10), ...Array(10).fill(1.12)]).map((r, i) =>
      i < 12 ? r : { ...r, cells: r.cells.filter((c) => c.key !== STEP_KEY) },
    );
    // the cell's last night is the 12th: stale from the 7th day after it
    const before = runnerTrend(records.slice(0, 18), OPTIONS, '2026-09-18');
    expect(before.status).toBe('alert');
    const after = runnerTrend(records.slice(0, 19), OPTIONS, '2026-09-19');
    expect(after.staleCells.map((c) => c.key)).toEqual([STEP_KEY]);
    expect(after.regressed).toEqual([]);
    expect(after.status).toBe('ok');
    expect(runnerTrend(records.slice(0, 12), OPTIONS, '2026-09-18').status).toBe('alert');
    expect(runnerTrend(records.slice(0, 12), OPTIONS, '2026-09-19').status).toBe('stale');
  });

  it('treats an improvement as good news', () => {
    const t = runnerTrend(nights([...flat(8), 0.85, 0.85]), OPTIONS);
    expect(t.status).toBe('ok');
    expect(t.cells.find((c) => c.key === STEP_KEY)?.latest.status).toBe('improved');
  });

  it('starts a new series on a driver change and reports a step that came with it instead of alarming', () => {
    const records = nights([...flat(8), 1.2, 1.2, 1.2], (i) =>
      i >= 8 ? { device: { ...H200, driver: '590.44.01' } } : {},
    );
    const t = runnerTrend(records.slice(0, 9), OPTIONS);
    expect(t.status).toBe('new-series');
    expect(t.previousSeries).toContain('driver 580.159.04');
    expect(t.series).toContain('driver 590.44.01');
    const later = runnerTrend(records, OPTIONS);
    // the other cells did not move: judged against the previous series from the first night on
    expect(later.status).toBe('ok');
    expect(later.change).toBe('driver 580.159.04 → 590.44.01');
    expect(later.changedWithSeries.map((c) => c.key)).toEqual([STEP_KEY]);
    expect(later.changedWithSeries[0].seriesStepPct).toBeGreaterThan(15);
    expect(issueBody([later], { bundle: 'b', night: '2026-09-11', thresholdPct: 5, inert })).toContain(
      '**Changed with the driver 580.159.04 → 590.44.01**',
    );
  });

  it('sees a regression a few nights after a driver change: the new series is judged against the old one', () => {
    const records = nights([...flat(10), 1, 1, 1, 1.12, 1.12], (i) =>
      i >= 10 ? { device: { ...H200, driver: '590.44.01' } } : {},
    );
    const t = runnerTrend(records, OPTIONS);
    expect(t.status).toBe('alert');
    expect(t.regressed.map((c) => c.key)).toEqual([STEP_KEY]);
    expect(t.changedWithSeries).toEqual([]);
  });

  it('flags a slow loss against the series anchor that no single night shows', () => {
    // 0.4% a night: never 5% beyond the rolling reference, but 6%+ below the first nights after a few weeks
    const slow = Array.from({ length: 40 }, (_, i) => 1 + 0.004 * i);
    const t = runnerTrend(nights(slow), OPTIONS);
    const cell = t.cells.find((c) => c.key === STEP_KEY);
    expect(cell?.points.some((p) => p.status === 'regressed')).toBe(false);
    expect(cell?.anchor?.lost).toBe(true);
    expect(t.slowLoss.map((c) => c.key)).toEqual([STEP_KEY]);
    expect(t.status).toBe('alert');
    expect(issueBody([t], { bundle: 'b', night: '2026-10-10', thresholdPct: 5, inert })).toContain(
      '**Slow loss**',
    );
    expect(runnerTrend(nights(flat(40)), OPTIONS).slowLoss).toEqual([]);
  });

  it('asks a cell that is often slow on its own for a longer streak (bimodal guard)', () => {
    // 30% of nights 8% slower, never two in a row: a steady machine would call the next two a regression
    const bimodal = Array.from({ length: 30 }, (_, i) => (i >= 8 && i % 3 === 0 ? 1.08 : 1));
    const guarded = runnerTrend(nights([...bimodal, 1.08, 1.08]), OPTIONS);
    const cell = guarded.cells.find((c) => c.key === STEP_KEY);
    expect(cell?.streakNeeded).toBeGreaterThan(2);
    expect(cell?.latest.status).toBe('suspicious');
    const lasting = runnerTrend(nights([...bimodal, ...Array(8).fill(1.08)]), OPTIONS);
    expect(lasting.cells.find((c) => c.key === STEP_KEY)?.latest.status).toBe('regressed');
    const steady = runnerTrend(nights([...flat(30), 1.08, 1.08]), OPTIONS);
    expect(steady.cells.find((c) => c.key === STEP_KEY)?.latest.status).toBe('regressed');
  });

  it('alerts at once on drift, naming the last clean night', () => {
    const t = runnerTrend(
      nights(flat(6), (i) => (i === 5 ? { drift: true } : {})),
      OPTIONS,
    );
    expect(t.status).toBe('alert');
    expect(t.alertSince?.night).toBe('2026-09-06');
    expect(t.lastClean?.night).toBe('2026-09-05');
  });

  it('keeps a drift alert through a night that stopped before the patch, and clears it on the next clean night', () => {
    const stages = (stopped: boolean) =>
      nights(flat(8), (i) => ({ drift: i === 5, checkoutFailed: i === 6 || (stopped && i === 7) }));
    const throughStop = runnerTrend(stages(true), OPTIONS);
    // the nights that stopped at checkout measured nothing: the trend's last night is the one before them
    expect(throughStop.latest.night).toBe('2026-09-06');
    expect(throughStop.status).toBe('alert');
    expect(throughStop.drift).toEqual(['vllm/model_executor/models/qwen2_moe.py:118 (unmatched)']);
    expect(throughStop.alertSince?.night).toBe('2026-09-06');
    expect(throughStop.lastClean?.night).toBe('2026-09-05');
    const cleared = runnerTrend(stages(false), OPTIONS);
    expect(cleared.drift).toEqual([]);
    expect(cleared.status).not.toBe('alert');
  });

  it('alerts at once on a failing kernel test', () => {
    const t = runnerTrend(
      nights(flat(2), (i) => (i === 1 ? { failingTest: true } : {})),
      OPTIONS,
    );
    expect(t.status).toBe('alert');
    expect(t.latest.correctness).toEqual(['test_gate[float16-2048-7177]']);
  });

  it('uses the last run of a night when a night ran twice', () => {
    const [a] = nights([1]);
    const b = { ...a, at: '2026-09-01T05:00:00.000Z', vllmSha: fakeSha(99) };
    expect(runnerTrend([b, a], OPTIONS).latest.vllmSha).toBe(fakeSha(99));
  });
});

describe('issue text', () => {
  const textOptions = { bundle: 'fused_shared_expert_gate', night: '2026-09-12', thresholdPct: 2, inert };

  it('shows the regression, the compare link, the runs and a mermaid line chart', () => {
    const t = runnerTrend(nights([...flat(10), 1.12, 1.12]), OPTIONS);
    const body = issueBody([t], textOptions);
    expect(body.startsWith(issueMarker('fused_shared_expert_gate'))).toBe(true);
    expect(body).toContain('**Performance regression** in 1 cell(s)');
    expect(body).toContain(`https://github.com/vllm-project/vllm/compare/${fakeSha(10)}...${fakeSha(11)}`);
    expect(body).toContain(
      '[first bad run](https://github.com/example/vllm-kernel-ci/actions/runs/20260911)',
    );
    expect(body).toMatch(
      /```mermaid\nxychart-beta\n {2}title "fused bfloat16 K=2048 N=8192 \(µs, lower is better\)"/,
    );
    const chart = trendChart(t.regressed[0]);
    const xs = /x-axis \[(.*)\]/.exec(chart)?.[1].split(', ') ?? [];
    const ys = /\n {2}line \[(.*)\]/.exec(chart)?.[1].split(', ') ?? [];
    expect(xs).toHaveLength(12);
    expect(ys).toHaveLength(12);
    expect(Number(ys[11])).toBeGreaterThan(Number(ys[9]) * 1.08);
  });

  it('escapes runner names and sites that came from a RunResult', () => {
    const records = nights(flat(2), (i) => ({ runner: '<img src=x>@team', drift: i === 1 }));
    const wrap = (t: string) => `‹${t}›`;
    const body = issueBody([runnerTrend(records, OPTIONS)], { ...textOptions, inert: wrap });
    expect(body.split('‹<img src=x>@team›').join('')).not.toMatch(/<img|@team/);
    expect(body).toContain('- ‹vllm/model_executor/models/qwen2_moe.py:118 (unmatched)›');
  });

  it('stays within the 65,536 characters GitHub allows, dropping charts first', () => {
    const many = Array.from({ length: 40 }, (_, r) =>
      runnerTrend(
        nights([...flat(10), 1.12, 1.12], () => ({ runner: `runner-${r}` })),
        OPTIONS,
      ),
    );
    const some = issueBody(many.slice(0, 20), textOptions);
    expect(some.length).toBeLessThanOrEqual(ISSUE_BODY_MAX);
    const drifting = many.map((t) => ({
      ...t,
      drift: Array.from({ length: 20 }, (_, i) => `vllm/${'x'.repeat(150)}.py:${i} (unmatched)`),
    }));
    const body = issueBody(drifting, textOptions);
    expect(body.length).toBeLessThanOrEqual(ISSUE_BODY_MAX);
    expect(body).not.toContain('```mermaid');
    expect(body).toMatch(
      /cut to fit GitHub's 65536 characters; the whole text is in the nightly job summary\.\n$/,
    );
    expect(body.startsWith(issueMarker('fused_shared_expert_gate'))).toBe(true);
  });

  it('links a commit range only for SHAs of a GitHub repository', () => {
    const good = { night: 'a', vllmSha: 'a'.repeat(40) };
    const bad = { night: 'b', vllmSha: 'b'.repeat(40) };
    expect(commitRange('https://github.com/vllm-project/vllm.git', good, bad)).toContain(
      `https://github.com/vllm-project/vllm/compare/${good.vllmSha}...${bad.vllmSha}`,
    );
    expect(commitRange('/srv/vllm', good, bad)).toBe('vLLM `aaaaaaaaaa..bbbbbbbbbb`');
    expect(commitRange('vllm-project/vllm', good, { night: 'b', vllmSha: 'main) [x](http://evil' })).toBe(
      'vLLM commit not recorded',
    );
    expect(githubSlug('pypi')).toBeUndefined();
    expect(githubSlug('../etc')).toBeUndefined();
  });

  it('opens on an alert, updates while open, closes with a note on recovery, and never opens for one night', () => {
    const alert = runnerTrend(nights([...flat(10), 1.12, 1.12]), OPTIONS);
    const suspicious = runnerTrend(nights([...flat(10), 1.12]), OPTIONS);
    const ok = runnerTrend(nights(flat(10)), OPTIONS);
    expect(decideIssueAction([alert], false, textOptions).kind).toBe('open');
    expect(decideIssueAction([alert], true, textOptions).kind).toBe('update');
    expect(decideIssueAction([suspicious], false, textOptions).kind).toBe('none');
    expect(decideIssueAction([suspicious], true, textOptions).kind).toBe('update');
    const close = decideIssueAction([ok], true, textOptions);
    expect(close.kind).toBe('close');
    if (close.kind === 'close') expect(close.note).toMatch(/^Recovered on the night of 2026-09-12/);
    expect(decideIssueAction([ok], false, textOptions).kind).toBe('none');
    // a maintainer's word on the newest issue: closed as not planned, or labelled accepted; a duplicate is neither
    const issue = { number: 4, url: 'https://github.com/o/r/issues/4', body: '', labels: [] };
    expect(acceptanceOf({ ...issue, state: 'closed', stateReason: 'not_planned' })?.how).toBe(
      'closed as not planned',
    );
    expect(acceptanceOf({ ...issue, state: 'open', labels: [ACCEPT_LABEL] })).toEqual({
      issue: 4,
      url: issue.url,
      how: 'labelled accepted',
    });
    expect(acceptanceOf({ ...issue, state: 'closed', stateReason: 'duplicate' })).toBeUndefined();
    expect(acceptanceOf({ ...issue, state: 'closed', stateReason: 'completed' })).toBeUndefined();
    // a night that measured nothing leaves the issue as it is
    expect(decideIssueAction([ok], true, textOptions, false).kind).toBe('update');
    expect(decideIssueAction([alert], false, textOptions, false).kind).toBe('none');
  });
});
