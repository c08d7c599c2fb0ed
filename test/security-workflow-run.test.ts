import { describe, expect, it } from 'vitest';
import { checkPullRequestMatchesRun, workflowRunIdentity } from '../src/security/workflow-run.js';

const SHA = '3f2a9c1d7e5b4a6f8c0d2e4f6a8b0c2d4e6f8a0b';
// The fields GitHub's workflow_run payload documents; a fork's run lists no pull request.
const forkRun = {
  action: 'completed',
  repository: { full_name: 'acme/vllm' },
  workflow_run: {
    id: 9001,
    event: 'pull_request',
    head_sha: SHA,
    head_branch: 'fast-gate',
    head_repository: { full_name: 'mallory/vllm' },
    pull_requests: [],
  },
};
const pull = {
  number: 42,
  head: { sha: SHA, repo: { full_name: 'mallory/vllm' } },
  base: { repo: { full_name: 'acme/vllm' } },
};

describe('workflowRunIdentity', () => {
  it('reads head SHA, repositories and branch; no PR number for a fork', () => {
    expect(workflowRunIdentity(forkRun)).toEqual({
      runId: 9001,
      headSha: SHA,
      headRepository: 'mallory/vllm',
      headBranch: 'fast-gate',
      repository: 'acme/vllm',
      pr: undefined,
    });
  });

  it('takes the PR number GitHub lists for the same head SHA', () => {
    const run = { ...forkRun.workflow_run, pull_requests: [{ number: 7, head: { sha: SHA } }] };
    expect(workflowRunIdentity({ ...forkRun, workflow_run: run }).pr).toBe(7);
    const stale = { ...run, pull_requests: [{ number: 7, head: { sha: 'f'.repeat(40) } }] };
    expect(workflowRunIdentity({ ...forkRun, workflow_run: stale }).pr).toBeUndefined();
  });

  it('refuses a payload that is not a workflow_run', () => {
    expect(() => workflowRunIdentity({ pull_request: {} })).toThrow(/triggered by `workflow_run`/);
  });
});

describe('checkPullRequestMatchesRun', () => {
  const run = workflowRunIdentity(forkRun);
  it('accepts the pull request the run validated', () => {
    expect(() => checkPullRequestMatchesRun(pull, run)).not.toThrow();
  });
  it('refuses one whose head moved, came from elsewhere, or targets another repository', () => {
    expect(() =>
      checkPullRequestMatchesRun({ ...pull, head: { ...pull.head, sha: 'a'.repeat(40) } }, run),
    ).toThrow(/Pull request #42 is not the one workflow run 9001 validated: its head is a{40}/);
    expect(() => checkPullRequestMatchesRun({ ...pull, head: { sha: SHA, repo: null } }, run)).toThrow(
      /its head repository is \(deleted\)/,
    );
    expect(() =>
      checkPullRequestMatchesRun({ ...pull, base: { repo: { full_name: 'other/vllm' } } }, run),
    ).toThrow(/it targets other\/vllm, not acme\/vllm/);
  });
});
