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
    // the 250-minute default drops the two costliest cells rather than cut a cell below 10 pairs
    expect(plan.repeats).toBe(10);
    expect(p.command).toBe('vllm-kernel-ci simulate --cells 7 --pairs 10 --effect -5 --cv 2 --min-effect 2');
    const args = p.command.split(' ').slice(2);
    expect(p.power).toBe(simulateRuns(parseSimulateArgs(args).settings).power);
    expect(p.noisyPower).toBe(simulateRuns(parseSimulateArgs([...args, '--cv-patched', '4']).settings).power);
    expect(p.requestedPower).toBe(simulateRuns({ cells: 9, pairs: 10, effectPct: -5 }).power);
    expect(p.cells).toBe(7);
    // its minutes are the sequential rule's expected pairs (an A/A run at 2% CV), under the budget's most
    expect(plan.expectedPairs).toBe(
      Number(simulateRuns({ cells: 7, pairs: 10, cvPct: 2 }).meanPairsPerCell.toFixed(2)),
    );
    expect(plan.estimatedMinutes).toBeLessThan(plan.mostMinutes);
    expect(plan.mostMinutes).toBeLessThanOrEqual(250);
  });

  it('the default plan (250 min) keeps 90% power with a noisier arm, and warns: a dropped cell is not measured at all', () => {
    expect(p.power).toBeGreaterThanOrEqual(MIN_PLAN_POWER);
    expect(p.noisyPower).toBeGreaterThanOrEqual(MIN_PLAN_POWER);
    expect(p.reductions).toEqual([
      expect.stringMatching(/^prompts per run cut to /),
      expect.stringMatching(
        /^dropped 2 of 9 cells, the most expensive first: in1024-out8192-c64, in1024-out8192-c16$/,
      ),
    ]);
    expect(p.warning).toBe(
      "2 of 9 cells are not measured (in1024-out8192-c16, in1024-out8192-c64). The 250-min budget cut prompts per run, cells 9 → 7: raise e2e-budget (and the job's timeout-minutes), or ask for fewer shapes or concurrencies.",
    );
    const text = renderPlan(c, false).split('\n');
    expect(text.at(-2)).toMatch(
      /^power: .* found in 9\d\.\d% of runs with 7 cells and a budget of 10 pairs a cell \(9\d\.\d% with .*\), and in 9\d\.\d% with the patched arm twice as noisy; /,
    );
    expect(text.at(-1)).toBe(`warning: ${p.warning}`);
  });

  it('repeats cut under the power floor: the power warning comes first, naming every cut', () => {
    const cut = { ...plan, repeats: 4, fitted: [...plan.fitted, 'repeats cut to 4 (from 10)'] };
    const q = planPower(cut, c.e2e, c.thresholds);
    expect(q.power).toBeLessThan(MIN_PLAN_POWER);
    expect(q.warning).toMatch(
      /^the e2e finds a true 5% change in one cell in only \d+\.\d% of runs .* The 250-min budget cut prompts per run, repeats 10 → 4, cells 9 → 7: raise e2e-budget/,
    );
  });

  it('8 pairs a cell: 90% at 2% CV, but not with the patched arm twice as noisy, and the warning says so', () => {
    const eight = { ...plan, repeats: 8, fitted: [...plan.fitted, 'repeats cut to 8 (from 10)'] };
    const q = planPower(eight, c.e2e, c.thresholds);
    expect(q.power).toBeGreaterThanOrEqual(MIN_PLAN_POWER);
    expect(q.noisyPower).toBeLessThan(MIN_PLAN_POWER);
    expect(q.warning).toMatch(
      /^the e2e finds a true 5% change in one cell in 9\d\.\d% of runs at 2% run-to-run CV, but in only 8\d\.\d% when the patched arm is twice as noisy \(4% CV; under 90\.0%\)\. The 250-min budget cut/,
    );
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
