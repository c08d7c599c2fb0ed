import { describe, expect, it } from 'vitest';
import type { RunResult } from '../src/results/run-result.js';
import { kernelRows } from '../src/stats/microbench.js';
import { combineVerdicts, overallVerdict } from '../src/stats/verdict.js';
import { fullRun } from './report-fixtures.js';

const opts = { minEffectPct: 2, failOnRegression: false };

function withStep(
  result: RunResult,
  name: RunResult['steps'][number]['name'],
  status: RunResult['steps'][number]['status'],
) {
  return {
    ...result,
    steps: result.steps.map((s) => (s.name === name ? { ...s, status, reason: `${name} ${status}` } : s)),
  };
}

describe('overallVerdict', () => {
  it('improved with exit 0 when every cell gains 5% at 2% noise and every case passes', () => {
    expect(overallVerdict(fullRun({ change: 0.05 }), opts)).toEqual({ verdict: 'improved', exitCode: 0 });
  });

  it('failed with exit 1 on a correctness failure, naming the first case, whatever the e2e says', () => {
    const v = overallVerdict(fullRun({ failCases: 2 }), opts);
    expect(v.verdict).toBe('failed');
    expect(v.exitCode).toBe(1);
    expect(v.failure).toContain('2 correctness cases failed on h100-1, first: tests/kernels/moe/');
  });

  it.each(['checkout', 'apply-bundle', 'install', 'detect-device', 'kernel-tests'] as const)(
    'failed with exit 1 when %s fails (the run stopped there)',
    (step) => {
      const v = overallVerdict(withStep(fullRun(), step, 'timed-out'), opts);
      expect(v).toMatchObject({ verdict: 'failed', exitCode: 1 });
      expect(v.failure).toContain(`step ${step} timed-out`);
    },
  );

  it('keeps the e2e verdict when only the microbenchmark failed', () => {
    expect(overallVerdict(withStep(fullRun(), 'microbench', 'failed'), opts).verdict).toBe('improved');
  });

  it('regressed exits non-zero only with fail-on-regression', () => {
    const run = fullRun({ change: -0.05 });
    expect(overallVerdict(run, opts)).toEqual({ verdict: 'regressed', exitCode: 0 });
    const strict = overallVerdict(run, { ...opts, failOnRegression: true });
    expect(strict).toMatchObject({ verdict: 'regressed', exitCode: 1 });
    expect(strict.failure).toContain('9 e2e cells regressed on h100-1');
  });

  it('one regressed cell outweighs improvements elsewhere', () => {
    const run = fullRun({ change: 0.05 });
    const e2e = run.e2e as NonNullable<RunResult['e2e']>;
    const first = e2e.cells[0];
    e2e.cells[0] = { ...first, patched: first.baseline.map((b) => b * 0.9) };
    expect(overallVerdict(run, opts).verdict).toBe('regressed');
  });

  it('no significant change for an A/A at low noise; too noisy at high noise', () => {
    expect(overallVerdict(fullRun({ change: 0, cv: 0.005 }), opts).verdict).toBe('no-significant-change');
    expect(overallVerdict(fullRun({ change: 0, cv: 0.08, seed: 3 }), opts).verdict).toBe('too-noisy');
  });

  it('insufficient data when the cells have too few repeats', () => {
    expect(overallVerdict(fullRun({ repeats: 4 }), opts).verdict).toBe('insufficient-data');
  });

  it('passed without e2e when the tests ran; not available when nothing ran', () => {
    const run = { ...fullRun(), e2e: undefined };
    expect(overallVerdict(run, opts)).toEqual({ verdict: 'passed', exitCode: 0 });
    const bare = { ...run, tests: undefined, microbench: undefined };
    expect(overallVerdict(withStep(bare, 'kernel-tests', 'not-available'), opts).verdict).toBe(
      'not-available',
    );
  });

  it('combines runners: the worst wins and any failure fails the whole', () => {
    const a = overallVerdict(fullRun(), opts);
    const b = overallVerdict(fullRun({ runner: 'mi355x', failCases: 1 }), opts);
    expect(combineVerdicts([a, b])).toMatchObject({ verdict: 'failed', exitCode: 1 });
    expect(combineVerdicts([a, b]).failure).toContain('mi355x');
    expect(combineVerdicts([a, { verdict: 'passed', exitCode: 0 }])).toEqual({
      verdict: 'improved',
      exitCode: 0,
    });
    expect(combineVerdicts([])).toEqual({ verdict: 'not-available', exitCode: 0 });
  });
});

describe('kernelRows', () => {
  const mb = {
    copyGbps: 3000,
    cells: (['eager', 'compile', 'fused'] as const).map((impl, i) => ({
      dtype: 'bfloat16',
      k: 2048,
      n: 8192,
      impl,
      graphUs: { median: [60, 40, 35][i], p20: 0, p80: 0 },
      eventUs: { median: 70, p20: 0, p80: 0 },
      bytes: 3 * 8192 * 2048 * 2,
      gbps: (3 * 8192 * 2048 * 2) / ([60, 40, 35][i] * 1e3),
      pctOfCopy: [55, 84, 96][i],
    })),
  };

  it('gives the speedup of fused over eager and over compile, its % of copy and the floor', () => {
    const [row] = kernelRows(mb);
    expect(row.speedupVsEager).toBeCloseTo(60 / 35, 10);
    expect(row.speedupVsCompile).toBeCloseTo(40 / 35, 10);
    expect(row.fusedPctOfCopy).toBe(96);
    // 100.7 MB at 3000 GB/s
    expect(row.floorUs).toBeCloseTo(33.55, 2);
  });

  it('leaves a missing implementation as NaN instead of inventing a ratio', () => {
    const [row] = kernelRows({ ...mb, cells: mb.cells.filter((c) => c.impl !== 'compile') });
    expect(row.speedupVsCompile).toBeNaN();
    expect(row.speedupVsEager).toBeCloseTo(60 / 35, 10);
  });

  it('orders rows by dtype, K, N', () => {
    const rows = kernelRows(fullRun().microbench as NonNullable<RunResult['microbench']>);
    expect(rows).toHaveLength(20);
    expect(rows.map((r) => `${r.dtype}-${r.k}-${r.n}`).slice(0, 3)).toEqual([
      'bfloat16-2048-1',
      'bfloat16-2048-128',
      'bfloat16-2048-1024',
    ]);
  });
});
