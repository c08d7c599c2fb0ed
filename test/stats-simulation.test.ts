// Validates the e2e method by simulation: seeded log-normal noise at 1–5% CV with slow drift across interleaved
// repeats, 1000 trials per setting, at the default `repeats`. The README quotes the rates measured here.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inputSpec } from '../src/inputs.js';
import { compareCell } from '../src/stats/e2e.js';
import { ROOT } from './helpers.js';
import { type NoiseModel, prng, REALISTIC_DRIFT, simulateCell } from './stats-noise.js';

const TRIALS = 1000;
const REPEATS = Number(inputSpec('repeats').default);
const MIN_EFFECT = Number(inputSpec('min-effect').default);
const CVS = [0.01, 0.02, 0.03, 0.05];

interface Rates {
  improved: number;
  regressed: number;
  tooNoisy: number;
}

/**
 * Verdict rates over `trials` cells. With `rerun`, as validate does: a borderline cell runs `repeats` more pairs
 * (later, under its own drift), appended to its samples, and is judged again.
 */
function rates(
  seed: number,
  repeats: number,
  change: number,
  noise: NoiseModel,
  { trials = TRIALS, rerun = false } = {},
): Rates {
  const rand = prng(seed);
  const r = { improved: 0, regressed: 0, tooNoisy: 0 };
  for (let t = 0; t < trials; t++) {
    const cell = simulateCell(rand, repeats, change, noise);
    let c = compareCell(cell, { minEffectPct: MIN_EFFECT });
    if (rerun && c.borderline) {
      const more = simulateCell(rand, repeats, change, noise);
      const merged = {
        ...cell,
        reruns: 1,
        baseline: [...cell.baseline, ...more.baseline],
        patched: [...cell.patched, ...more.patched],
      };
      c = compareCell(merged, { minEffectPct: MIN_EFFECT });
    }
    if (c.verdict === 'improved') r.improved++;
    if (c.verdict === 'regressed') r.regressed++;
    if (c.verdict === 'too-noisy') r.tooNoisy++;
  }
  return { improved: r.improved / trials, regressed: r.regressed / trials, tooNoisy: r.tooNoisy / trials };
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

describe(`e2e verdicts at the default ${REPEATS} repeats, min effect ${MIN_EFFECT}%, ${TRIALS} trials`, () => {
  const aa = CVS.map((cv, i) => ({ cv, ...rates(100 + i, REPEATS, 0, { cv, ...REALISTIC_DRIFT }) }));
  const aaRerun = CVS.map((cv, i) => ({
    cv,
    ...rates(110 + i, REPEATS, 0, { cv, ...REALISTIC_DRIFT }, { rerun: true }),
  }));
  const gain = rates(200, REPEATS, 0.05, { cv: 0.02, ...REALISTIC_DRIFT });
  const loss = rates(201, REPEATS, -0.05, { cv: 0.02, ...REALISTIC_DRIFT });
  const gainRerun = rates(210, REPEATS, 0.05, { cv: 0.02, ...REALISTIC_DRIFT }, { rerun: true });
  it.each(aa)(
    'A/A at $cv CV: a false improved or regressed in at most 5% of trials',
    ({ improved, regressed }) => {
      expect(improved + regressed).toBeLessThanOrEqual(0.05);
    },
  );

  it.each(aaRerun)('A/A at $cv CV with the re-run of borderline cells: still at most 5%', (r) => {
    expect(r.improved + r.regressed).toBeLessThanOrEqual(0.05);
  });

  it('detects a true 5% change at 2% CV in at least 90% of trials, in either direction', () => {
    expect(gain.improved).toBeGreaterThanOrEqual(0.9);
    expect(loss.regressed).toBeGreaterThanOrEqual(0.9);
    expect(gain.regressed + loss.improved).toBe(0);
    expect(gainRerun.improved).toBeGreaterThanOrEqual(gain.improved);
  });

  it('needs the default: 6 repeats (the fewest that reach a 95% rank interval) miss 90% detection', () => {
    const six = rates(300, 6, 0.05, { cv: 0.02, ...REALISTIC_DRIFT }).improved;
    expect(six).toBeLessThan(0.9);
    expect(readme).toContain(`${percent(six)} at 6 repeats`);
  });

  it('needs the default: at 7 repeats the A/A rate at 5% CV sits just under the 5% bound', () => {
    const seven = rates(301, 7, 0, { cv: 0.05, ...REALISTIC_DRIFT }, { trials: 20_000 });
    expect(seven.improved + seven.regressed).toBeGreaterThan(0.045);
    expect(readme).toContain(`${percent(seven.improved + seven.regressed)} at 7 repeats`);
  });

  it('beats a percentile bootstrap, which calls too many A/A changes at this sample size', () => {
    const rankBased = aa[aa.length - 1];
    const bootstrap = bootstrapFalseRate(400, REPEATS, { cv: 0.05, ...REALISTIC_DRIFT });
    expect(bootstrap).toBeGreaterThan(0.05);
    expect(bootstrap).toBeGreaterThan(rankBased.improved + rankBased.regressed);
    expect(readme).toContain(
      `${percent(bootstrap)} of A/A trials at 5% noise and ${REPEATS} repeats; the rank interval in ${percent(rankBased.improved + rankBased.regressed)}`,
    );
  });

  it('is what the README says', () => {
    const section = readme.split('\n## How verdicts are decided\n')[1]?.split('\n## ')[0] ?? '';
    aa.forEach((r, i) => {
      const after = aaRerun[i];
      expect(section).toContain(
        `| ${r.cv * 100}% | ${percent(r.improved + r.regressed)} | ${percent(r.tooNoisy)} | ${percent(after.improved + after.regressed)} | ${percent(after.tooNoisy)} |`,
      );
    });
    expect(section).toContain(`${percent(gainRerun.improved)} after the re-run`);
    expect(section).toContain(`detected in ${percent(gain.improved)}`);
    expect(section).toContain(`(${percent(loss.regressed)} for a 5% loss)`);
    expect(section).toContain(`\`repeats\` default of ${REPEATS}`);
  });
});
