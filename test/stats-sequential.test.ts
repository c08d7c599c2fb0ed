// The sequential rule: the order effect fitted per cell, the scale pooled over cells, stalls named and left
// out, the look decision, and the committed H200 fixtures re-judged by it.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderReport } from '../src/report/render.js';
import { E2eCell, type RunResult } from '../src/results/run-result.js';
import { analyseRuns } from '../src/stats/analyse.js';
import { pairSigns } from '../src/stats/order-fit.js';
import {
  armsSpread,
  judgeSequential,
  nextLook,
  sequentialMethod,
  withFits,
} from '../src/stats/sequential.js';
import { estimateNoise, simulateRuns } from '../src/stats/simulate.js';
import { studentQuantile } from '../src/stats/student.js';
import { ROOT } from './helpers.js';
import { prng, simulatePairs } from './stats-noise.js';

const METHOD = sequentialMethod(2);
const NOISE = { cv: 0.02, trend: 0.04, wave: 0.02, order: 'counterbalanced' as const };

function cell(id: string, pairs: { baseline: number[]; patched: number[] }): E2eCell {
  return {
    id,
    params: {},
    metric: 'output_throughput',
    unit: 'tok/s',
    higherIsBetter: true,
    status: 'ok',
    reruns: 0,
    ...pairs,
  };
}

const fixture = async (path: string): Promise<RunResult> =>
  JSON.parse(await readFile(join(ROOT, 'fixtures/gpu', path), 'utf8'));

describe('the sequential rule', () => {
  it("reads the arms' order as the e2e backends run it: A B B A, then B A A B, a re-run going on", () => {
    expect(pairSigns(8)).toEqual([1, -1, -1, 1, 1, -1, -1, 1]);
    // 5 pairs use three blocks, so the re-run starts at the fourth: B A A B
    expect(pairSigns(7, 5).slice(5)).toEqual([-1, 1]);
    expect(studentQuantile(0.975, 10)).toBeCloseTo(2.228, 3);
    expect(studentQuantile(0.999, 5)).toBeCloseTo(5.893, 3);
  });

  it('fits and removes an order effect that a plain paired interval would call too noisy', () => {
    const rand = prng(11);
    const cells = Array.from({ length: 9 }, (_, c) =>
      cell(
        `c${c}`,
        simulatePairs(rand, 8, 0, { ...NOISE, trend: 0, wave: 0, cv: 0.002, orderEffect: 0.015 }),
      ),
    );
    const judged = judgeSequential(cells, METHOD);
    for (const j of judged) {
      expect(j.verdict).toBe('no-significant-change');
      // the second run 1.5% slower: γ ≈ −1.5%, the residual noise far below it
      expect(j.orderEffectPct).toBeCloseTo(-1.5, 0);
      expect(j.residualPct ?? 1).toBeLessThan(0.5);
    }
  });

  it('a cell that drifted beyond its noise is too noisy, not a call, and says why', () => {
    const rand = prng(5);
    const cells = Array.from({ length: 9 }, (_, c) =>
      cell(`c${c}`, simulatePairs(rand, 8, c === 0 ? -0.05 : 0, NOISE)),
    );
    expect(judgeSequential(cells, METHOD)[0].verdict).toBe('regressed');
    cells[0].drift = { pct: 6, noisePct: 0.5 };
    const judged = judgeSequential(cells, METHOD)[0];
    expect(judged.verdict).toBe('too-noisy');
    expect(judged.reason).toMatch(/^drifted \+6\.0% across the cell/);
  });

  it('names a stalled run, leaves its pair out, and still calls a real change', () => {
    const rand = prng(5);
    const cells = Array.from({ length: 9 }, (_, c) =>
      cell(`c${c}`, simulatePairs(rand, 8, c === 0 ? -0.05 : 0, NOISE)),
    );
    cells[0].patched[3] *= 0.7;
    const judged = judgeSequential(cells, METHOD);
    expect(judged[0].stalled).toEqual([{ pair: 3, arm: 'patched' }]);
    expect(judged[0]).toMatchObject({ verdict: 'regressed', pairs: 7 });
    expect(judged.slice(1).every((j) => j.stalled === undefined)).toBe(true);
    // what validate writes into the RunResult, and a RunResult that carries it still parses
    const fitted = withFits(cells, METHOD)[0];
    expect(fitted.fit).toMatchObject({ pairsUsed: 7, stalled: [{ pair: 3, arm: 'patched' }] });
    expect(E2eCell.parse(fitted).fit?.pairsUsed).toBe(7);
  });

  it('stops a called or clear cell at a look and continues an undecided one up to its maximum', () => {
    const rand = prng(3);
    const cells = [
      cell('called', simulatePairs(rand, 8, -0.1, { ...NOISE, cv: 0.005 })),
      cell('clean', simulatePairs(rand, 8, 0, { ...NOISE, cv: 0.005 })),
      cell('noisy', simulatePairs(rand, 4, 0, { ...NOISE, cv: 0.08 })),
    ];
    expect(nextLook(cells, METHOD)).toEqual(['stop-called', 'stop-clean', 'continue']);
    // the same cells where a cell may run 4 pairs: the noisy one is at its maximum
    expect(nextLook(cells, { ...METHOD, maxPairs: 4 })[2]).toBe('stop-undecided');
  });

  it('says when the patched arm is noisier than the baseline', () => {
    const rand = prng(8);
    const cells = Array.from({ length: 9 }, (_, c) =>
      cell(`c${c}`, simulatePairs(rand, 16, 0, { ...NOISE, trend: 0, wave: 0, cvPatched: 0.04 })),
    );
    const spread = armsSpread(cells);
    expect(spread?.patchedNoisier).toBe(true);
    expect(spread?.ratio).toBeGreaterThan(1.5);
  });

  it('keeps the H200 verdicts: the A/B improvement called, the A/A clean', async () => {
    for (const run of ['validate-h200-rerun/run-result-ab.json', 'validate-h200-rerun/run-result-aa.json']) {
      const r = await fixture(run);
      const judged = judgeSequential(r.e2e?.cells ?? [], METHOD, r.verdicts?.repeats);
      const byId = Object.fromEntries((r.e2e?.cells ?? []).map((c, i) => [c.id, judged[i].verdict]));
      const expected = run.endsWith('ab.json') ? 'improved' : 'no-significant-change';
      expect(byId['decode-b1-c512']).toBe(expected);
      expect(judged.filter((j) => j.verdict !== 'no-significant-change').length).toBe(
        run.endsWith('ab.json') ? 1 : 0,
      );
    }
  });

  it('is judged by analyseRuns from the recorded method, and the report names the fitted order effect', async () => {
    const r = await fixture('validate-h200-rerun/run-result-aa.json');
    const recorded: RunResult = { ...r, verdicts: { ...METHOD, repeats: r.verdicts?.repeats ?? 8 } };
    const report = analyseRuns([recorded], { minEffectPct: 2, failOnRegression: false });
    expect(report.verdict.verdict).toBe('no-significant-change');
    const b1 = report.runners[0].compared.find(({ cell }) => cell.id === 'decode-b1-c512');
    expect(b1?.comparison.orderEffectPct).toBeCloseTo(-1.0, 0);
    const text = renderReport(report);
    expect(text).toMatch(/Order effect fitted and removed[^\n]*decode-b1-c512 −1\.0%/);
    // the prefill cells' γ stays under their residual noise or is named; decode-b64's 0.00% is not
    expect(text).not.toMatch(/Order effect[^\n]*decode-b64-c512/);
    expect(text).toContain('Sequential rule: the order effect fitted per cell');
  });

  it('estimates γ ≈ 1% in decode b1 from the A/A fixtures, with a residual CV of 0.1–0.2%', async () => {
    for (const run of ['validate-h200-ab-aa/run-result-aa.json', 'validate-h200-rerun/run-result-aa.json']) {
      const noise = estimateNoise(await fixture(run));
      const b1 = noise.perCell.find((c) => c.id === 'decode-b1-c512');
      expect(Math.abs(b1?.orderEffectPct ?? 0)).toBeGreaterThan(0.9);
      expect(Math.abs(b1?.orderEffectPct ?? 0)).toBeLessThan(1.2);
      expect(b1?.residualCvPct).toBeGreaterThan(0.05);
      expect(b1?.residualCvPct).toBeLessThan(0.25);
      expect(noise.cvPct).toBe(Math.max(...noise.perCell.map((c) => c.residualCvPct)));
    }
  });

  it('simulates the defaults with fewer pairs than the confirmed rule and no more false calls', () => {
    const sequential = simulateRuns({ trials: 1000, seed: 2 });
    const confirmed = simulateRuns({ trials: 1000, seed: 2, rule: 'confirmed' });
    expect(sequential.meanPairsPerCell).toBeLessThan(0.6 * confirmed.meanPairsPerCell);
    expect(sequential.falseCall).toBeLessThan(0.05);
    const stalls = simulateRuns({ trials: 1000, seed: 3, effectPct: -5, stallRatePct: 5 });
    expect(stalls.power).toBeGreaterThan(0.9);
  });
});
