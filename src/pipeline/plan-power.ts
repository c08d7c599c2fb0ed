// What a budget-fitted e2e plan can still find: the run-level power of its cells and the pairs the budget pays for,
// computed by the simulator behind `vllm-kernel-ci simulate` (the sequential rule's looks, as the e2e runs them).
// Pure.
import { simulateRuns } from '../stats/simulate.js';
import { type E2ePlan, running } from './e2e-plan.js';

/** The plan is a warning in the job log when a true 5% change is found in fewer runs than this. */
export const MIN_PLAN_POWER = 0.9;
const EFFECT_PCT = -5;
const CV_PCT = 2;
/** the patched arm's CV in the second figure: twice the baseline's, the noisiest arm the plan is sized for */
const NOISY_CV_PCT = 4;
const TRIALS = 2_000;

export interface PlanPower {
  /**
   * a true −5% change in one cell at 2% run-to-run CV: share of runs whose verdict is regressed, with the plan's
   * cells and the pairs a cell its budget pays for
   */
  power: number;
  /** the same with the patched arm at twice the baseline's CV (4%): what a noisier kernel leaves */
  noisyPower: number;
  /** the same for the grid and repeats asked for, before the budget cut anything */
  requestedPower: number;
  cells: number;
  /** pairs a cell the budget pays for; undefined: no budget (each cell up to the rule's most pairs) */
  repeats?: number;
  requestedCells: number;
  requestedRepeats?: number;
  /** the `simulate` command that gives the same number */
  command: string;
  /** every reduction the budget forced, one sentence each (the plan's own `fitted`) */
  reductions: string[];
  /** set when the power is under MIN_PLAN_POWER or the budget dropped cells: what it means and what to do */
  warning?: string;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const cellsWord = (n: number) => `${n} cell${n === 1 ? '' : 's'}`;

/** The power the plan leaves, against what the grid and repeats asked for; one simulation of each (seeded). */
export function planPower(
  plan: E2ePlan,
  requested: { repeats: number },
  o: { minEffectPct: number; trials?: number },
): PlanPower {
  const cells = running(plan).length;
  const budgeted = plan.budgetMinutes !== undefined;
  const settings = (c: number, pairs: number | undefined) => ({
    cells: c,
    pairs: pairs ?? 0,
    effectPct: EFFECT_PCT,
    cvPct: CV_PCT,
    minEffectPct: o.minEffectPct,
    trials: o.trials ?? TRIALS,
  });
  const repeats = budgeted ? plan.repeats : undefined;
  const requestedRepeats = budgeted ? requested.repeats : undefined;
  const power = cells === 0 ? 0 : (simulateRuns(settings(cells, repeats)).power ?? 0);
  const noisyPower =
    cells === 0 ? 0 : (simulateRuns({ ...settings(cells, repeats), cvPatchedPct: NOISY_CV_PCT }).power ?? 0);
  const same = cells === plan.cells.length && repeats === requestedRepeats;
  const requestedPower = same
    ? power
    : (simulateRuns(settings(plan.cells.length, requestedRepeats)).power ?? 0);
  const command = `vllm-kernel-ci simulate --cells ${cells}${repeats === undefined ? '' : ` --pairs ${repeats}`} --effect ${EFFECT_PCT} --cv ${CV_PCT} --min-effect ${o.minEffectPct}`;
  const out: PlanPower = {
    power,
    noisyPower,
    requestedPower,
    cells,
    repeats,
    requestedCells: plan.cells.length,
    requestedRepeats,
    command,
    reductions: plan.fitted,
  };
  const cuts = [
    plan.fitted.some((f) => f.startsWith('prompts per run cut')) ? 'prompts per run' : '',
    budgeted && plan.repeats < requested.repeats ? `repeats ${requested.repeats} → ${plan.repeats}` : '',
    cells < plan.cells.length ? `cells ${plan.cells.length} → ${cells}` : '',
  ].filter(Boolean);
  const raise = `The ${plan.budgetMinutes}-min budget cut ${cuts.join(', ')}: raise e2e-budget (and the job's timeout-minutes), or ask for fewer shapes or concurrencies.`;
  const weak =
    power < MIN_PLAN_POWER
      ? `in only ${pct(power)} of runs at 2% run-to-run CV (under ${pct(MIN_PLAN_POWER)}; ${pct(requestedPower)} as asked)`
      : noisyPower < MIN_PLAN_POWER
        ? `in ${pct(power)} of runs at 2% run-to-run CV, but in only ${pct(noisyPower)} when the patched arm is twice as noisy (${NOISY_CV_PCT}% CV; under ${pct(MIN_PLAN_POWER)})`
        : undefined;
  if (weak) {
    out.warning =
      `the e2e finds a true 5% change in one cell ${weak}. ` +
      (cuts.length > 0
        ? raise
        : "Raise repeats, or measure this runner's own noise with an A/A run and `simulate --from`.");
  } else if (cells < plan.cells.length) {
    // power is per cell: a dropped cell is not measured at all, whatever the power of the rest
    const dropped = plan.cells.filter((c) => c.dropped).map((c) => c.id);
    out.warning = `${dropped.length} of ${plan.cells.length} cells are not measured (${dropped.join(', ')}). ${raise}`;
  }
  return out;
}

/** The power as lines for the plan output, the job log and the report: what was cut and what is left. */
export function describePlanPower(p: PlanPower): string[] {
  const budget = (n?: number) => (n === undefined ? 'no budget' : `a budget of ${n} pairs a cell`);
  const asked =
    p.cells === p.requestedCells && p.repeats === p.requestedRepeats
      ? ''
      : ` (${pct(p.requestedPower)} with the ${cellsWord(p.requestedCells)} and ${budget(p.requestedRepeats)} asked for)`;
  return [
    `power: a true 5% change in one cell at 2% run-to-run CV is found in ${pct(p.power)} of runs with ${cellsWord(p.cells)} and ${budget(p.repeats)}${asked}, and in ${pct(p.noisyPower)} with the patched arm twice as noisy; \`${p.command}\` (\`--cv-patched ${NOISY_CV_PCT}\` for the second)`,
    ...(p.warning ? [`warning: ${p.warning}`] : []),
  ];
}
