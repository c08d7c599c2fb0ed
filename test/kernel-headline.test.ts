// The kernel's headline: head against base when the base has a kernel (and its regression is the run's),
// else the shapes that serve. Read from the H200 RunResults of fixtures/gpu/validate-pr-trees-h200/.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gateConclusion } from '../src/github/check-run.js';
import { renderReport, scopeLine } from '../src/report/render.js';
import { parseRunResult, type RunResult } from '../src/results/run-result.js';
import { analyseRun, analyseRuns } from '../src/stats/analyse.js';
import { ROOT } from './helpers.js';

const DIR = join(ROOT, 'fixtures/gpu/validate-pr-trees-h200');
const load = (name: string) => parseRunResult(JSON.parse(readFileSync(join(DIR, name), 'utf8')), name);
const thresholds = (failOnRegression: boolean) => ({ minEffectPct: 2, failOnRegression });

/**
 * The follow-up run with its head made slower: each shape's head samples are the base's own samples × 1.12,
 * so every pair keeps the H200's noise and the head is 12% slower than base on every shape (a num_warps=1 head).
 */
function slowerHead(result: RunResult): RunResult {
  const ab = (result.microbench?.ab ?? []).map((c) => ({ ...c, patched: c.baseline.map((x) => x * 1.12) }));
  return { ...result, microbench: { ...(result.microbench as NonNullable<RunResult['microbench']>), ab } };
}

describe('a follow-up whose base has a kernel: head vs base leads', () => {
  const followup = load('run-result-followup-merged.json');

  it('the summary row and the runner headline give head vs base over the 20 shapes', () => {
    const runner = analyseRun(followup, thresholds(false));
    expect(runner.kernelHeadline?.kind).toBe('vs-base');
    const text = renderReport(analyseRuns([followup], thresholds(false)));
    expect(text).toContain('| head vs base: 10 of 20 faster, up to −23% |');
    expect(text).not.toContain('N=65536');
  });

  it('a head slower than base on most shapes is regressed in the summary row, the verdict and the check', () => {
    const slow = slowerHead(followup);
    const report = analyseRuns([slow], thresholds(false));
    expect(report.verdict).toEqual({ verdict: 'regressed', exitCode: 0 });
    const text = renderReport(report);
    expect(text).toContain('❌ regressed | ');
    expect(text).toContain('head vs base: ❌ 20 of 20 shapes slower, up to +12%');

    // the same fail-on-regression rule as the e2e
    const failing = analyseRuns([slow], thresholds(true));
    expect(failing.verdict).toMatchObject({ verdict: 'regressed', exitCode: 1 });
    expect(failing.verdict.failure).toBe(
      `20 of 20 kernel shapes slower than the base kernel on ${slow.identity.runner} (fail-on-regression is on)`,
    );
    expect(gateConclusion(failing.verdict)).toBe('failure');
  });

  it('a failed run stays failed', () => {
    const slow = slowerHead(followup);
    const broken: RunResult = {
      ...slow,
      tests: [{ id: 'test_conformance.py::test_sliced_rows', status: 'failed', seconds: 1 }],
    };
    expect(analyseRun(broken, thresholds(true)).verdict.verdict).toBe('failed');
  });
});

describe('no base kernel: the shapes that serve', () => {
  it('names the decode batches and one prefill size of the e2e, and the geometric mean over the grid', () => {
    const pr = load('run-result-pr.json');
    const runner = analyseRun(pr, thresholds(false));
    const h = runner.kernelHeadline;
    expect(h?.kind).toBe('serving');
    if (h?.kind !== 'serving') return;
    // the model backend's decode b1, b8, b64 and its smallest prefill, b1 × s512, at the nearest measured N
    expect(h.decode.map((r) => r.n)).toEqual([1, 7, 33]);
    expect(h.prefill?.n).toBe(1024);
    expect([h.dtype, h.k, h.shapes]).toEqual(['bfloat16', 2048, 20]);
    const text = renderReport(analyseRuns([pr], thresholds(false)));
    expect(text).toMatch(
      /decode N [\d, ]+: [\d.×, ]+ eager · prefill N \d+: [\d.]+× · geomean of \d+ shapes/,
    );
    expect(text).not.toContain('N=65536');
  });
});

describe('the scope line under each runner heading', () => {
  it('says what was measured and what needs a GPU', () => {
    const cpu = parseRunResult(
      JSON.parse(readFileSync(join(ROOT, 'docs/example-report-cpu.run-result.json'), 'utf8')),
      'cpu',
    );
    const runner = analyseRun(cpu, thresholds(false));
    expect(scopeLine(cpu, runner.verdict)).toBe(
      '✅ passed: correctness only (CPU, Triton interpreter); kernel speed and e2e need a GPU',
    );
    const gpu = load('run-result-pr.json');
    expect(scopeLine(gpu, analyseRun(gpu, thresholds(false)).verdict)).toBe(
      '✅ improved: correctness, kernel speed, e2e (NVIDIA H200)',
    );
  });
});
