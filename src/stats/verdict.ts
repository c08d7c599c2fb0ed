// One verdict and exit status per RunResult, and one across runners. Pure.
import type { RunResult, Step, StepName } from '../results/run-result.js';
import { type CellComparison, type CellVerdict, compareE2e } from './e2e.js';

export type OverallVerdict = 'passed' | 'failed' | CellVerdict | 'not-available';

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
}

export interface RunVerdict {
  verdict: OverallVerdict;
  exitCode: number;
  /** one line saying why exitCode is not 0 */
  failure?: string;
}

/** Steps after which nothing meaningful can run: their failure fails the run. */
const RUN_STOPPING: readonly StepName[] = [
  'checkout',
  'apply-bundle',
  'install',
  'detect-device',
  'kernel-tests',
  'compile',
];

const broke = (s: Step) => s.status === 'failed' || s.status === 'timed-out';

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
 * else not-available.
 */
export function overallVerdict(result: RunResult, opts: VerdictOptions): RunVerdict {
  const failedCases = (result.tests ?? []).filter((t) => t.status === 'failed' || t.status === 'error');
  if (failedCases.length > 0) {
    const first = failedCases[0];
    return {
      verdict: 'failed',
      exitCode: 1,
      failure: `${failedCases.length} correctness case${failedCases.length > 1 ? 's' : ''} failed on ${result.identity.runner}, first: ${first.id}`,
    };
  }
  const stopped = result.steps.find((s) => RUN_STOPPING.includes(s.name) && broke(s));
  if (stopped) {
    return {
      verdict: 'failed',
      exitCode: 1,
      failure: `step ${stopped.name} ${stopped.status} on ${result.identity.runner}${stopped.reason ? `: ${stopped.reason}` : ''}`,
    };
  }
  const cells = result.e2e ? compareE2e(result.e2e, opts).map((c) => c.comparison) : [];
  const e2e = e2eVerdict(cells);
  if (e2e === 'regressed') {
    const count = cells.filter((c) => c.verdict === 'regressed').length;
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
