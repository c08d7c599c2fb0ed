// What a workflow_run event says about the run whose artifacts the report job reads. Pure.
//
// GitHub leaves workflow_run.pull_requests empty when the PR comes from a fork, so the PR number then comes
// from the artifact (untrusted): fetch that pull request through the API and check it with
// checkPullRequestMatchesRun before commenting on it or passing its number as expectedPr.

export interface WorkflowRunIdentity {
  runId: number;
  headSha: string;
  /** owner/name the triggering run's code came from */
  headRepository: string;
  headBranch: string;
  /** owner/name of the repository this workflow runs in */
  repository: string;
  /** set only when GitHub lists exactly one PR for the head SHA (same-repository PRs) */
  pr?: number;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Reads the identity of the triggering run from a workflow_run payload, or says what is missing. */
export function workflowRunIdentity(event: unknown): WorkflowRunIdentity {
  const e = obj(event);
  const run = obj(e.workflow_run);
  const headSha = str(run.head_sha).toLowerCase();
  if (!/^[0-9a-f]{40}$/.test(headSha)) {
    throw new Error(
      'The event is not a workflow_run with a head SHA: run report mode from a workflow triggered by `workflow_run` (docs/workflows/pr-report.yml).',
    );
  }
  const prs = (Array.isArray(run.pull_requests) ? run.pull_requests : [])
    .map(obj)
    .filter((p) => str(obj(p.head).sha).toLowerCase() === headSha && Number.isSafeInteger(p.number));
  return {
    runId: Number(run.id),
    headSha,
    headRepository: str(obj(run.head_repository).full_name),
    headBranch: str(run.head_branch),
    repository: str(obj(e.repository).full_name),
    pr: prs.length === 1 ? (prs[0].number as number) : undefined,
  };
}

export interface PullRequestHead {
  number: number;
  head: { sha: string; repo: { full_name: string } | null };
  base: { repo: { full_name: string } };
}

/**
 * Throws unless this pull request (as the API returned it) is the one the triggering run validated: its head, or
 * (a run that a newer push superseded) one of its commits, `commits` as the API listed them.
 */
export function checkPullRequestMatchesRun(
  pull: PullRequestHead,
  run: WorkflowRunIdentity,
  commits: readonly string[] = [],
): void {
  const same = (a: string | undefined, b: string) => (a ?? '').toLowerCase() === b.toLowerCase();
  const problems: string[] = [];
  if (!same(pull.head.sha, run.headSha) && !commits.some((c) => same(c, run.headSha)))
    problems.push(`its head is ${pull.head.sha}, the run's is ${run.headSha}, not one of its commits`);
  if (!same(pull.head.repo?.full_name, run.headRepository)) {
    problems.push(
      `its head repository is ${pull.head.repo?.full_name ?? '(deleted)'}, the run's is ${run.headRepository}`,
    );
  }
  if (!same(pull.base.repo.full_name, run.repository)) {
    problems.push(`it targets ${pull.base.repo.full_name}, not ${run.repository}`);
  }
  if (problems.length > 0) {
    throw new Error(
      `Pull request #${pull.number} is not the one workflow run ${run.runId} validated: ${problems.join('; ')}. ` +
        'Nothing is published for it; the artifact named the wrong pull request, or the PR moved on (a newer run will report).',
    );
  }
}
