// `validate --plan [--json]`: the vllm-serve e2e plan for a Config, printed without running anything.
import type { Config } from '../config.js';
import {
  chooseSwap,
  describePlan,
  type E2ePlan,
  planServeAb,
  ratesFor,
  type ThroughputRates,
} from '../pipeline/e2e-plan.js';
import { describePlanPower, planPower } from '../pipeline/plan-power.js';

type PlanRates = { rates: ThroughputRates; assumed: boolean };

/**
 * The plan validate would start from. With swap auto: how the run the rates come from swapped on the runner, or
 * else the card of the rate table standing in for the runner's.
 */
export function e2ePlanFor(config: Config, planRates: PlanRates = ratesFor(config.e2e.model)): E2ePlan {
  const { rates, assumed } = planRates;
  const swap =
    config.e2e.swap !== 'auto'
      ? { method: config.e2e.swap, why: 'asked for' }
      : rates.swapUsed
        ? { method: rates.swapUsed, why: `as the run the rates come from swapped on ${rates.card}` }
        : (() => {
            const chosen = chooseSwap({
              cardMemoryGiB: rates.cardMemoryGiB,
              weightsGiB: assumed ? undefined : rates.weightsGiB,
              tensorParallelSize: config.e2e.tensorParallelSize,
            });
            return {
              ...chosen,
              why: `${chosen.why}, on a ${rates.card}; the runner decides from its own card`,
            };
          })();
  return planServeAb({
    model: config.e2e.model,
    shapes: config.e2e.shapes,
    concurrencies: config.e2e.concurrencies,
    repeats: config.e2e.repeats,
    swap,
    rates,
    ratesAssumed: assumed,
    runSeconds: config.e2e.runSeconds,
    warmup: true,
    budgetMinutes: config.e2e.budgetMinutes,
    minEffectPct: config.thresholds.minEffectPct,
  });
}

/** `rates`: what e2e-rates gave (src/pipeline/e2e-rates.ts planRates); the published table when absent. */
export function renderPlan(config: Config, json: boolean, rates?: PlanRates): string {
  if (config.e2e.backend === 'model' || config.e2e.backend === 'none')
    throw new Error(
      `--plan describes the vllm-serve e2e, and e2e-backend is ${config.e2e.backend}. Pass --e2e-backend vllm-serve (or auto).`,
    );
  const plan = e2ePlanFor(config, rates);
  const power = planPower(plan, config.e2e, config.thresholds);
  return json
    ? JSON.stringify({ backend: 'vllm-serve', ...plan, power }, null, 2)
    : [...describePlan(plan), ...describePlanPower(power)].join('\n');
}
