// Validates the e2e method by simulation. Per cell: the rank interval against a percentile bootstrap (1000 seeded
// trials, a comparison far from its bound). Per run: `vllm-kernel-ci simulate`, the verdict path of validate and
// report, on a small seeded run, and the README's run-level table against a regenerated row at full size.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: the script is plain JavaScript, its rate() is what printed the README's numbers
import { rate } from '../scripts/simulation-tables.mjs';
import type { CliIo } from '../src/cli/io.js';
import { runCli } from '../src/cli/main.js';
import { inputSpec } from '../src/inputs.js';
import { parseSimulateArgs } from '../src/modes/simulate.js';
import { compareCell } from '../src/stats/e2e.js';
import { simulateRuns } from '../src/stats/simulate.js';
import { ROOT } from './helpers.js';
import { type NoiseModel, prng, REALISTIC_DRIFT, simulateCell } from './stats-noise.js';

const TRIALS = 1000;
/** pairs of one round of the per-cell and confirmed rules, where the rank interval was chosen */
const REPEATS = 8;
const MIN_EFFECT = Number(inputSpec('min-effect').default);

/** False calls of one cell over `trials` A/A cells, first look only. */
function rankFalseRate(seed: number, repeats: number, noise: NoiseModel): number {
  const rand = prng(seed);
  let wrong = 0;
  for (let t = 0; t < TRIALS; t++) {
    const v = compareCell(simulateCell(rand, repeats, 0, noise), { minEffectPct: MIN_EFFECT }).verdict;
    if (v === 'improved' || v === 'regressed') wrong++;
  }
  return wrong / TRIALS;
}

/** The alternative not taken: a percentile bootstrap of the mean paired log ratio, same decision rule. */
function bootstrapFalseRate(seed: number, repeats: number, noise: NoiseModel): number {
  const rand = prng(seed);
  let wrong = 0;
  for (let t = 0; t < TRIALS; t++) {
    const cell = simulateCell(rand, repeats, 0, noise);
    const d = cell.baseline.map((b, i) => Math.log(cell.patched[i] / b));
    const means: number[] = [];
    for (let b = 0; b < 1000; b++) {
      let sum = 0;
      for (let i = 0; i < d.length; i++) sum += d[Math.floor(rand() * d.length)];
      means.push(sum / d.length);
    }
    means.sort((a, b) => a - b);
    const low = (Math.exp(means[24]) - 1) * 100;
    const high = (Math.exp(means[974]) - 1) * 100;
    const delta = (Math.exp(d.reduce((a, b) => a + b, 0) / d.length) - 1) * 100;
    if ((low > 0 || high < 0) && Math.abs(delta) >= MIN_EFFECT) wrong++;
  }
  return wrong / TRIALS;
}

const percent = (x: number) => `${(x * 100).toFixed(1)}%`;
const readme = await readFile(join(ROOT, 'README.md'), 'utf8');

function capture(): CliIo & { out: (t: string) => void; text: () => string; errors: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    text: () => out.join('\n'),
    errors: () => err.join('\n'),
  };
}

async function simulate(args: string[]) {
  const io = capture();
  const code = await runCli(['simulate', ...args], io);
  return { code, text: io.text(), errors: io.errors() };
}

describe(`one cell at a round of ${REPEATS} repeats, min effect ${MIN_EFFECT}%, ${TRIALS} trials`, () => {
  it('beats a percentile bootstrap, which calls too many A/A changes at this sample size', () => {
    const noise = { cv: 0.05, ...REALISTIC_DRIFT };
    const rankBased = rankFalseRate(103, REPEATS, noise);
    const bootstrap = bootstrapFalseRate(400, REPEATS, noise);
    expect(bootstrap).toBeGreaterThan(2 * rankBased);
    expect(readme).toContain(
      `${percent(bootstrap)} of A/A trials at 5% noise and ${REPEATS} repeats; the rank interval in ${percent(rankBased)}`,
    );
  });
});

describe('vllm-kernel-ci simulate', () => {
  it('prints run-level rates as JSON, the same for the same seed', async () => {
    const args = ['--cells', '9', '--cv', '2', '--trials', '300', '--seed', '5', '--effect', '-5', '--json'];
    const a = await simulate(args);
    expect(a.code).toBe(0);
    const outcome = JSON.parse(a.text);
    expect(Object.keys(outcome)).toEqual(
      expect.arrayContaining(['falseCall', 'tooNoisy', 'power', 'verdicts', 'cells', 'roundsPerCell']),
    );
    expect(outcome.settings).toMatchObject({ cells: 9, cvPct: 2, trials: 300, seed: 5, effectPct: -5 });
    // a −5% change at 2% noise: 97.9% of 20,000 runs; 300 runs cannot fall to 90% but by a broken path
    expect(outcome.power).toBeGreaterThanOrEqual(0.9);
    expect(outcome.cells.detected).toBeGreaterThanOrEqual(outcome.power);
    expect(outcome.roundsPerCell).toBeGreaterThan(1);
    expect((await simulate(args)).text).toBe(a.text);
  });

  it('confirms calls: the run-level false-call rate falls well below the per-cell rule', () => {
    // 2,000 runs each; the README has them at 20,000: 0.6% against 6.2%
    const confirmed = simulateRuns({ cvPct: 2, trials: 2000, seed: 1, rule: 'confirmed' });
    const perCell = simulateRuns({ cvPct: 2, trials: 2000, seed: 1, rule: 'per-cell' });
    expect(perCell.falseCall).toBeGreaterThan(3 * confirmed.falseCall + 0.01);
  });

  it('reads its flags: a negative effect, the order, and a clear message for a bad value', async () => {
    expect(
      parseSimulateArgs(['--effect', '-5', '--order', 'alternating', '--ar1', '-0.5']).settings,
    ).toMatchObject({
      effectPct: -5,
      order: 'alternating',
      ar1: -0.5,
    });
    const bad = await simulate(['--cv', 'two']);
    expect(bad.code).toBe(2);
    expect(bad.errors).toContain("Invalid --cv 'two'");
  });

  it("estimates a runner's noise from an A/A RunResult and gives its false-call rate and power", async () => {
    const r = await simulate([
      '--from',
      join(ROOT, 'docs/example-report-validate-h200.2-aa.json'),
      '--trials',
      '200',
    ]);
    expect(r.code).toBe(0);
    expect(r.text).toMatch(
      /Noise of the A\/A RunResult: \d+\.\d\d% per sample after the order effect, the worst of 5 cells/,
    );
    expect(r.text).toContain('no change (A/A)');
    expect(r.text).toMatch(/a -5% change in one cell[\s\S]*power \d+\.\d%/);
  });

  it('generated the README table: one row regenerated at 20,000 runs matches, intervals included', () => {
    const o = simulateRuns({ cvPct: 2, runners: 1, trials: 20_000, seed: 1 });
    expect(readme).toContain(`| 2% | 1 (9 cells) | ${rate(o.falseCall)} | ${rate(o.tooNoisy)} |`);
  }, 120_000);
});
