import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { e2ePlanFor, renderPlan } from '../src/modes/plan.js';
import { parseSimulateArgs } from '../src/modes/simulate.js';
import { MIN_PLAN_POWER, planPower } from '../src/pipeline/plan-power.js';
import { simulateRuns } from '../src/stats/simulate.js';

const config = (inputs: Record<string, string>) =>
  parseConfig((n) => ({ 'e2e-backend': 'vllm-serve', ...inputs })[n]);

// the default plan, once: each power is a 2,000-run simulation
const c = config({});
const plan = e2ePlanFor(c);
const p = planPower(plan, c.e2e, c.thresholds);

describe('the power a budget-fitted e2e plan leaves', () => {
  it('is what the simulate command it names prints, for the plan and for what was asked', () => {
    expect(plan.repeats).toBe(6);
    const args = p.command.split(' ').slice(2);
    expect(p.power).toBe(simulateRuns(parseSimulateArgs(args).settings).power);
    expect(p.requestedPower).toBe(simulateRuns({ cells: 9, repeats: 8, effectPct: -5 }).power);
    expect(p.power).toBeLessThan(p.requestedPower);
  });

  it('the default plan (250 min) warns: it names the cuts and the power left under 90%', () => {
    expect(p.power).toBeLessThan(MIN_PLAN_POWER);
    expect(p.reductions).toEqual([
      expect.stringMatching(/^prompts per run cut to /),
      expect.stringMatching(/^repeats cut to 6 \(from 8\)/),
    ]);
    expect(p.warning).toMatch(
      /^the e2e finds a true 5% change in one cell in only 7\d\.\d% of runs .* The 250-min budget cut prompts per run, repeats 8 → 6: raise e2e-budget/,
    );
    const text = renderPlan(c, false).split('\n');
    expect(text.at(-2)).toMatch(
      /^power: .* found in 7\d\.\d% of runs with 9 cells × 6 repeats \(9\d\.\d% with/,
    );
    expect(text.at(-1)).toBe(`warning: ${p.warning}`);
  });

  it('a 30-minute budget that drops cells names them too', () => {
    // through --plan --json, as a script reads it
    const p = JSON.parse(renderPlan(config({ 'e2e-budget': '30' }), true)).power;
    expect(p.cells).toBeLessThan(9);
    expect(p.reductions.at(-1)).toMatch(/^dropped \d of 9 cells/);
    expect(p.warning).toContain(`cells 9 → ${p.cells}`);
  });

  it('no budget: nothing cut, no warning', () => {
    const c = config({ 'e2e-budget': 'none' });
    const p = planPower(e2ePlanFor(c), c.e2e, c.thresholds);
    expect(p.reductions).toEqual([]);
    expect(p.power).toBe(p.requestedPower);
    expect(p.power).toBeGreaterThanOrEqual(MIN_PLAN_POWER);
    expect(p.warning).toBeUndefined();
    expect(renderPlan(c, false)).not.toContain('warning:');
  });
});
