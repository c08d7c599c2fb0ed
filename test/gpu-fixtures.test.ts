// The real outputs captured on the lent H200 (fixtures/gpu/) go through the same parsers the pipeline uses.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseNvidiaCudaVersion } from '../src/pipeline/device-parse.js';
import { parseE2eModel } from '../src/results/parsers/e2e-model.js';
import { parseJunit } from '../src/results/parsers/junit.js';
import { parseMicrobench } from '../src/results/parsers/microbench.js';
import { parseRunResult } from '../src/results/run-result.js';
import { analyseRuns } from '../src/stats/analyse.js';
import { compareCell } from '../src/stats/e2e.js';
import { overallVerdict } from '../src/stats/verdict.js';
import { ROOT } from './helpers.js';

const gpu = (name: string) => readFile(join(ROOT, 'fixtures', 'gpu', name), 'utf8');

describe('fixtures captured on an H200', () => {
  it('microbench JSON parses; the fused kernel holds >= 90% of the copy ceiling at N >= 4096', async () => {
    const text = await gpu('microbench-h200.json');
    expect(JSON.parse(text).device.name).toBe('NVIDIA H200');
    const bench = parseMicrobench(text, 'microbench-h200.json');
    expect(bench.copyGbps).toBeGreaterThan(3000);
    expect(new Set(bench.cells.map((c) => c.impl))).toEqual(new Set(['eager', 'compile', 'fused']));
    const large = bench.cells.filter((c) => c.impl === 'fused' && c.n >= 4096);
    expect(new Set(large.map((c) => c.k))).toEqual(new Set([2048, 4096, 7168]));
    for (const cell of large) expect(cell.pctOfCopy).toBeGreaterThanOrEqual(90);
  });

  it('e2e A/B and A/A JSON parse into E2e with raw samples per arm', async () => {
    for (const name of ['e2e-model-ab-h200.json', 'e2e-model-aa-h200.json']) {
      const e2e = parseE2eModel(await gpu(name), name);
      expect(e2e.backend).toBe('model');
      expect(e2e.cells).toHaveLength(10);
      for (const cell of e2e.cells) {
        expect(cell.status).toBe('ok');
        expect(cell.baseline).toHaveLength(10);
        expect(cell.patched).toHaveLength(10);
      }
    }
  });

  it('pytest JUnit parses: every case passed or skipped, shapes read from the ids', async () => {
    const cases = parseJunit(await gpu('junit-h200.xml'));
    expect(cases.length).toBe(79);
    expect(cases.filter((c) => c.status === 'failed' || c.status === 'error')).toEqual([]);
    const odd = cases.find((c) => c.id.endsWith('test_matches_reference[bfloat16-K2048-N7177]'));
    expect(odd).toMatchObject({ dtype: 'bfloat16', k: 2048, n: 7177, status: 'passed' });
  });

  it("nvidia-smi's banner gives the CUDA version", async () => {
    expect(parseNvidiaCudaVersion(await gpu('tools/nvidia-smi.txt'))).toBe('13.0');
  });
});

describe('validate end to end on the H200: an A/B run and an A/A run from one machine start', () => {
  const load = async (arm: 'ab' | 'aa') => {
    const name = `validate-h200-ab-aa/run-result-${arm}.json`;
    return parseRunResult(JSON.parse(await gpu(name)), name);
  };

  it('every step ran; the A/A run is marked and judges every cell "no significant change"', async () => {
    for (const arm of ['ab', 'aa'] as const) {
      const r = await load(arm);
      expect(r.device.name).toBe('NVIDIA H200');
      expect(r.steps.filter((s) => s.status !== 'passed').map((s) => s.name)).toEqual(['install']);
      expect(r.tests?.every((t) => t.status === 'passed')).toBe(true);
    }
    const aa = await load('aa');
    expect(aa.e2e?.aa).toBe(true);
    const verdicts = aa.e2e?.cells.map((c) => compareCell(c, { minEffectPct: 2 }).verdict);
    expect(verdicts).toEqual(Array(5).fill('no-significant-change'));
    expect(overallVerdict(aa, { minEffectPct: 2, failOnRegression: true }).verdict).toBe(
      'no-significant-change',
    );
  });

  it('the A/B run shows each cell with its interval; decode at batch 1 improved', async () => {
    const ab = await load('ab');
    expect(ab.e2e?.aa).toBeUndefined();
    const byId = Object.fromEntries(
      (ab.e2e?.cells ?? []).map((c) => [c.id, compareCell(c, { minEffectPct: 2 })] as const),
    );
    expect(byId['decode-b1-c512'].verdict).toBe('improved');
    for (const c of Object.values(byId)) expect(c.ciLow).toBeLessThanOrEqual(c.ciHigh);
  });
});

describe('the model backend on the H200 re-runs a called cell, and the call stands only as the fresh pairs agree', () => {
  const THRESHOLDS = { minEffectPct: 2, failOnRegression: false };
  const load = async (arm: 'ab' | 'aa') => {
    const name = `validate-h200-rerun/run-result-${arm}.json`;
    return parseRunResult(JSON.parse(await gpu(name)), name);
  };

  it('A/B: the one called cell was re-run with its own pairs appended; the analysis confirms it', async () => {
    const run = await load('ab');
    const cells = run.e2e?.cells ?? [];
    expect(cells.filter((c) => c.reruns > 0).map((c) => c.id)).toEqual(['decode-b1-c512']);
    const cell = cells.find((c) => c.id === 'decode-b1-c512');
    expect(cell?.baseline).toHaveLength(16);
    // the re-run's own file holds the appended pairs, in order
    const rerun = parseE2eModel(await gpu('validate-h200-rerun/e2e-model-rerun-ab.json'), 'rerun');
    expect(cell?.baseline.slice(8)).toEqual(rerun.cells[0].baseline);
    const report = analyseRuns([run], THRESHOLDS);
    const judged = report.runners[0].compared.find((c) => c.cell.id === 'decode-b1-c512');
    expect(judged?.comparison).toMatchObject({ verdict: 'improved', levelPct: 97.5, pairs: 16 });
    expect(judged?.comparison.reason).toBeUndefined();
    expect(report.runners[0].verdict.verdict).toBe('improved');
  });

  it('A/A: no call, so nothing was re-run', async () => {
    const run = await load('aa');
    expect(run.e2e?.aa).toBe(true);
    expect(run.e2e?.cells.every((c) => c.reruns === 0)).toBe(true);
    expect(analyseRuns([run], THRESHOLDS).runners[0].verdict.verdict).toBe('no-significant-change');
  });
});
