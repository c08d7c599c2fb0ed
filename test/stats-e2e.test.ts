import { describe, expect, it } from 'vitest';
import type { E2eCell } from '../src/results/run-result.js';
import {
  compareCell,
  confirmedMethod,
  type defaultMethod,
  judgeCell,
  MIN_PAIRS,
  needsRerun,
} from '../src/stats/e2e.js';
import {
  signedRankCounts,
  signedRankCritical,
  signedRankInterval,
  walshAverages,
} from '../src/stats/signed-rank.js';
import { perCellMethod } from '../src/stats/verdict.js';

function cell(baseline: number[], patched: number[], extra: Partial<E2eCell> = {}): E2eCell {
  return {
    id: 'in1024-out1024-c16',
    params: { input_len: 1024, output_len: 1024, concurrency: 16 },
    metric: 'output_throughput',
    unit: 'tok/s',
    higherIsBetter: true,
    baseline,
    patched,
    status: 'ok',
    reruns: 0,
    ...extra,
  };
}

const opts = { minEffectPct: 2 };
const scaled = (xs: number[], f: number) => xs.map((x) => x * f);
const BASE = [1000, 1012, 995, 1003, 990, 1008, 1001, 997];
/** ±0.3% scatter around a factor, so the interval is tight */
const JITTER = [1.0, 1.003, 0.998, 1.002, 0.997, 1.001, 0.999, 1.002];
const around = (f: number) => BASE.map((b, i) => b * f * JITTER[i]);

describe('signed-rank machinery', () => {
  it('has the exact null distribution of the positive-rank sum', () => {
    expect(signedRankCounts(3)).toEqual([1, 1, 1, 2, 1, 1, 1]);
    expect(signedRankCounts(10).reduce((a, b) => a + b, 0)).toBe(1024);
  });

  it('matches the published two-sided 5% critical values', () => {
    // Wilcoxon tables: n=6 → 0, n=8 → 3, n=10 → 8, n=20 → 52; n ≤ 5 cannot reach 5%
    expect([5, 6, 8, 10, 20].map((n) => signedRankCritical(n, 0.05))).toEqual([-1, 0, 3, 8, 52]);
    expect(MIN_PAIRS).toBe(6);
  });

  it('estimates the centre by Hodges–Lehmann and brackets it with Walsh averages', () => {
    expect(walshAverages([1, 2, 3])).toEqual([1, 1.5, 2, 2, 2.5, 3]);
    const r = signedRankInterval([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(r.estimate).toBe(4.5);
    // 36 Walsh averages, c = 3: the 4th smallest and the 4th largest
    expect([r.low, r.high]).toEqual([2, 7]);
    expect(r.confidencePct).toBeCloseTo((1 - 10 / 256) * 100, 6);
  });
});

describe('compareCell', () => {
  it('calls a clear 5% gain improved, with Δ and its interval in % of the baseline', () => {
    const c = compareCell(cell(BASE, around(1.05)), opts);
    expect(c.verdict).toBe('improved');
    expect(c.deltaPct).toBeCloseTo(5, 0);
    expect(c.ciLow).toBeGreaterThan(4);
    expect(c.ciHigh).toBeLessThan(6);
    expect(c.pairs).toBe(8);
    expect(c.borderline).toBe(false);
  });

  it('keeps the raw sign and lets higherIsBetter decide: a latency that drops is an improvement', () => {
    const throughput = compareCell(cell(BASE, around(0.95)), opts);
    expect(throughput.verdict).toBe('regressed');
    expect(throughput.deltaPct).toBeLessThan(0);
    const latency = compareCell(
      cell(BASE, around(0.95), { higherIsBetter: false, metric: 'median_tpot_ms' }),
      opts,
    );
    expect(latency.verdict).toBe('improved');
    expect(latency.deltaPct).toBeCloseTo(throughput.deltaPct, 10);
  });

  it('does not call a real change smaller than the minimum effect', () => {
    const c = compareCell(cell(BASE, around(1.01)), opts);
    expect(c.ciLow).toBeGreaterThan(0);
    expect(c.verdict).toBe('no-significant-change');
    expect(compareCell(cell(BASE, around(1.01)), { minEffectPct: 0.5 }).verdict).toBe('improved');
  });

  it('calls an interval that reaches past the minimum effect on both sides too noisy', () => {
    const noisy = [1.0, 1.12, 0.9, 1.1, 0.88, 1.09, 0.93, 1.06];
    const c = compareCell(
      cell(
        BASE,
        BASE.map((b, i) => b * noisy[i]),
      ),
      opts,
    );
    expect(c.ciLow).toBeLessThan(-2);
    expect(c.ciHigh).toBeGreaterThan(2);
    expect(c.verdict).toBe('too-noisy');
    expect(c.borderline).toBe(true);
  });

  it('calls a tight interval around zero no significant change', () => {
    const c = compareCell(cell(BASE, around(1)), opts);
    expect(c.verdict).toBe('no-significant-change');
    expect(Math.abs(c.deltaPct)).toBeLessThan(0.5);
    expect(c.borderline).toBe(false);
  });

  it('pairs by repeat, so drift shared by both arms cancels', () => {
    // a 20% warm-up ramp in both arms, +5% patched: unpaired it would be hopeless
    const ramp = BASE.map((b, i) => b * (1 + 0.025 * i));
    const c = compareCell(
      cell(
        ramp,
        ramp.map((b, i) => b * 1.05 * JITTER[i]),
      ),
      opts,
    );
    expect(c.verdict).toBe('improved');
    expect(c.deltaPct).toBeCloseTo(5, 0);
  });

  it('keeps its estimate through one hiccup repeat, and asks for a re-run instead of a verdict', () => {
    const patched = around(1.05);
    patched[3] = patched[3] * 0.5;
    const c = compareCell(cell(BASE, patched), opts);
    expect(c.deltaPct).toBeGreaterThan(4);
    expect(c.verdict).toBe('too-noisy');
    expect(c.borderline).toBe(true);
  });

  it('needs at least 3 samples an arm', () => {
    const c = compareCell(cell([1000, 1001], [1050, 1051]), opts);
    expect(c.verdict).toBe('insufficient-data');
    expect(c.reason).toContain('at least 3');
    expect(c.deltaPct).toBeNaN();
  });

  it('says that fewer than 6 pairs cannot reach a 95% rank interval, but still gives the estimate', () => {
    const c = compareCell(cell(BASE.slice(0, 5), around(1.05).slice(0, 5)), opts);
    expect(c.verdict).toBe('insufficient-data');
    expect(c.reason).toMatch(/5 pairs .* at least 6 repeats/);
    expect(c.deltaPct).toBeCloseTo(5, 0);
    expect(c.ciLow).toBeNaN();
  });

  it('treats a failed cell and unusable samples as insufficient data, with the reason', () => {
    expect(compareCell(cell([], [], { status: 'failed', reason: 'server never ready' }), opts)).toMatchObject(
      {
        verdict: 'insufficient-data',
        reason: 'the cell failed: server never ready',
      },
    );
    const zeros = compareCell(cell([0, 0, 0, 1000], [0, 0, 1, 1000]), opts);
    expect(zeros.verdict).toBe('insufficient-data');
    expect(zeros.pairs).toBe(1);
  });

  it('pairs only up to the shorter arm', () => {
    const c = compareCell(cell([...BASE, 5000, 5000], around(1.05)), opts);
    expect(c.pairs).toBe(8);
    expect(c.verdict).toBe('improved');
  });

  it('names borderline cells for one re-run, and not again once re-run', () => {
    // the estimate clears 2% but the interval touches zero
    const edge = [1.0, 1.05, 0.99, 1.045, 1.0, 1.04, 1.03, 1.035];
    const borderline = cell(
      BASE,
      BASE.map((b, i) => b * edge[i]),
      { id: 'edge' },
    );
    const clear = cell(BASE, around(1.05), { id: 'clear' });
    const c = compareCell(borderline, opts);
    expect(c.borderline).toBe(true);
    const named = (method: ReturnType<typeof defaultMethod>, cells: E2eCell[]) =>
      cells.filter((x) => needsRerun(x, method)).map((x) => x.id);
    expect(named(perCellMethod(2), [borderline, clear])).toEqual(['edge']);
    // confirmed: every call is re-run too
    expect(named(confirmedMethod(2), [borderline, clear])).toEqual(['edge', 'clear']);
    expect(
      named(confirmedMethod(2), [
        { ...borderline, reruns: 1 },
        { ...clear, reruns: 1 },
      ]),
    ).toEqual([]);
  });

  it('keeps a call only when the re-run round alone agrees with it', () => {
    const confirmed = confirmedMethod(2);
    const agreeing = cell([...BASE, ...BASE], [...around(1.05), ...around(1.02)], { reruns: 1 });
    expect(judgeCell(agreeing, confirmed, 8).verdict).toBe('improved');
    // the first round's +5% carries the pooled interval, but the fresh pairs alone say +0.5%
    const disagreeing = cell([...BASE, ...BASE], [...around(1.08), ...around(1.005)], { reruns: 1 });
    expect(compareCell(disagreeing, confirmed).verdict).toBe('improved');
    const judged = judgeCell(disagreeing, confirmed, 8);
    expect(judged.verdict).toBe('no-significant-change');
    expect(judged.reason).toMatch(/not confirmed: the re-run's 8 fresh pairs alone gave \+0\.5%/);
    expect(judgeCell(disagreeing, perCellMethod(2), 8).verdict).toBe('improved');
    // a call without its re-run stays a call, marked borderline
    expect(judgeCell(cell(BASE, around(1.05)), confirmed)).toMatchObject({
      verdict: 'improved',
      borderline: true,
    });
  });

  it('judges a re-run cell, looked at twice, with a 97.5% interval', () => {
    const once = compareCell(cell(BASE, around(1.05)), opts);
    const rerun = compareCell(
      cell([...BASE, ...BASE], [...around(1.05), ...around(1.05)], { reruns: 1 }),
      opts,
    );
    const same16 = compareCell(cell([...BASE, ...BASE], [...around(1.05), ...around(1.05)]), opts);
    expect([once.levelPct, rerun.levelPct]).toEqual([95, 97.5]);
    expect(rerun.confidencePct).toBeGreaterThanOrEqual(97.5);
    expect(rerun.ciHigh - rerun.ciLow).toBeGreaterThan(same16.ciHigh - same16.ciLow);
    expect(rerun.verdict).toBe('improved');
  });

  it('scales: the same relative change at any throughput level gives the same Δ', () => {
    const a = compareCell(cell(BASE, around(1.05)), opts);
    const b = compareCell(cell(scaled(BASE, 37), scaled(around(1.05), 37)), opts);
    expect(b.deltaPct).toBeCloseTo(a.deltaPct, 9);
    expect(b.ciLow).toBeCloseTo(a.ciLow, 9);
  });
});
