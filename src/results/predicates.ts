// Predicates on a RunResult's parts, next to its schema: one definition of a failed case, a drifted site, a
// broken step and a step whose failure stops the run. Pure.
import type { PatchSite, Step, StepName, TestCase } from './run-result.js';

const statusFailed = (t: Pick<TestCase, 'status'>) => t.status === 'failed' || t.status === 'error';

/** A case that fails the run: failed or errored, and inside the op's contract. */
export const caseFailed = (t: Pick<TestCase, 'status' | 'beyondContract'>) =>
  statusFailed(t) && t.beyondContract === undefined;

/** A failed case beyond the op's contract (no call site passes what it passes): advisory, never fails the run. */
export const caseAdvisory = (t: Pick<TestCase, 'status' | 'beyondContract'>) =>
  statusFailed(t) && t.beyondContract !== undefined;

/** A patch site the bundle no longer matches. */
export const siteDrifted = (s: Pick<PatchSite, 'status'>) =>
  s.status === 'unmatched' || s.status === 'missing-file';

export const stepBroke = (s: Pick<Step, 'status'>) => s.status === 'failed' || s.status === 'timed-out';

/** Steps whose failure fails the run: nothing after them is meaningful, or (compile) the kernel is broken on a target. */
export const RUN_STOPPING_STEPS: readonly StepName[] = [
  'checkout',
  'apply-bundle',
  'install',
  'detect-device',
  'compile',
  'kernel-tests',
];

export const stopsRun = (name: string) => (RUN_STOPPING_STEPS as readonly string[]).includes(name);
