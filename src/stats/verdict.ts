// One verdict and exit status per RunResult, and one across runners. Pure.
import type {
  CellComparison,
  CellVerdict,
  OverallVerdict,
  RunVerdict,
  VerdictMethod,
} from '../report/model.js';
import { caseFailed, stepBroke, stopsRun } from '../results/predicates.js';
import type { RunResult } from '../results/run-result.js';
import { judgeE2e } from './e2e.js';

export type { OverallVerdict, RunVerdict } from '../report/model.js';

export const VERDICTS: readonly OverallVerdict[] = [
  'passed',
  'failed',
  'improved',
  'regressed',
  'no-significant-change',
  'too-noisy',
  'insufficient-data',
  'not-available',
];

export interface VerdictOptions {
  minEffectPct: number;
  failOnRegression: boolean;
  /** how cells are judged; per-cell at minEffectPct when not given */
  method?: VerdictMethod;
  /** pairs of each cell's first round (the recorded `repeats`) */
  firstRound?: number;
}

/** The e2e verdict across cells: a regression anywhere outweighs an improvement elsewhere. */
export function e2eVerdict(comparisons: readonly CellComparison[]): CellVerdict | undefined {
  const order: CellVerdict[] = [
    'regressed',
    'improved',
    'too-noisy',
    'no-significant-change',
    'insufficient-data',
  ];
  return order.find((v) => comparisons.some((c) => c.verdict === v));
}

/**
 * failed: a correctness case failed or a step that stops the run failed (exit 1). Otherwise the e2e verdict
 * when there are cells (regressed exits 1 only with failOnRegression), else passed when the kernel tests ran,
 * else not-available. `cells` are the runner's judged cells when the caller has them already.
 */
export function overallVerdict(
  result: RunResult,
  opts: VerdictOptions,
  cells?: readonly CellComparison[],
): RunVerdict {
  const failedCases = (result.tests ?? []).filter(caseFailed);
  if (failedCases.length > 0) {
    const first = failedCases[0];
    return {
      verdict: 'failed',
      exitCode: 1,
      failure: `${failedCases.length} correctness case${failedCases.length > 1 ? 's' : ''} failed on ${result.identity.runner}, first: ${first.id}`,
    };
  }
  const stopped = result.steps.find((s) => stopsRun(s.name) && stepBroke(s));
  if (stopped) {
    return {
      verdict: 'failed',
      exitCode: 1,
      failure: `step ${stopped.name} ${stopped.status} on ${result.identity.runner}${stopped.reason ? `: ${stopped.reason}` : ''}`,
    };
  }
  const method = opts.method ?? perCellMethod(opts.minEffectPct);
  const judged =
    cells ?? (result.e2e ? judgeE2e(result.e2e, method, opts.firstRound).map((c) => c.comparison) : []);
  const e2e = e2eVerdict(judged);
  if (e2e === 'regressed') {
    const count = judged.filter((c) => c.verdict === 'regressed').length;
    return opts.failOnRegression
      ? {
          verdict: e2e,
          exitCode: 1,
          failure: `${count} e2e cell${count > 1 ? 's' : ''} regressed on ${result.identity.runner} (fail-on-regression is on)`,
        }
      : { verdict: e2e, exitCode: 0 };
  }
  if (e2e) return { verdict: e2e, exitCode: 0 };
  const testsRan = (result.tests ?? []).some((t) => t.status === 'passed');
  return { verdict: testsRan ? 'passed' : 'not-available', exitCode: 0 };
}

/** The method of a RunResult that recorded none: it was re-run under the per-cell rule. */
export function perCellMethod(minEffectPct: number): VerdictMethod {
  return { minEffectPct, confidencePct: 95, rerunConfidencePct: 97.5, rule: 'per-cell' };
}

/** Across runners: the worst verdict wins, and the run fails when any runner's does. */
export function combineVerdicts(verdicts: readonly RunVerdict[]): RunVerdict {
  const order: OverallVerdict[] = [
    'failed',
    'regressed',
    'improved',
    'too-noisy',
    'no-significant-change',
    'insufficient-data',
    'passed',
    'not-available',
  ];
  const verdict = order.find((v) => verdicts.some((r) => r.verdict === v)) ?? 'not-available';
  const failures = verdicts.filter((v) => v.exitCode !== 0);
  return failures.length > 0
    ? { verdict, exitCode: 1, failure: failures.map((f) => f.failure).join('; ') }
    : { verdict, exitCode: 0 };
}
