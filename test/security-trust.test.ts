import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { assertSafeToRunGpuSteps, decideTrust, type TrustContext } from '../src/security/trust.js';
import { gpuTrustContext } from '../src/security/trust-context.js';
import { ROOT, runNode, runnerEnv } from './helpers.js';

// Payloads carry the fields GitHub's webhook documentation gives these events; the rule reads only these.
const BASE = { full_name: 'acme/vllm' };
const FORK = { full_name: 'mallory/vllm' };
const pr = (head: unknown) => ({
  number: 42,
  head: { sha: 'a'.repeat(40), repo: head },
  base: { repo: BASE },
});
const EVENTS = {
  pullRequestFork: { action: 'synchronize', repository: BASE, pull_request: pr(FORK) },
  pullRequestSame: { action: 'opened', repository: BASE, pull_request: pr(BASE) },
  pullRequestDeletedFork: { action: 'opened', repository: BASE, pull_request: pr(null) },
  workflowRunFork: {
    action: 'completed',
    repository: BASE,
    workflow_run: { event: 'pull_request', head_sha: 'a'.repeat(40), head_repository: FORK },
  },
  workflowRunSame: {
    action: 'completed',
    repository: BASE,
    workflow_run: { event: 'push', head_sha: 'b'.repeat(40), head_repository: BASE },
  },
  push: { ref: 'refs/heads/main', repository: BASE },
  schedule: { schedule: '17 3 * * *', repository: BASE },
  workflowDispatch: { ref: 'refs/heads/main', inputs: {}, repository: BASE },
  commentOnPr: {
    action: 'created',
    repository: BASE,
    issue: { number: 42, pull_request: { url: 'https://api.github.com/repos/acme/vllm/pulls/42' } },
    comment: { body: '/benchmark' },
  },
  commentOnIssue: { action: 'created', repository: BASE, issue: { number: 7 }, comment: { body: 'hi' } },
};

const withUpstream = (upstream: string) => ({
  ...EVENTS.workflowRunSame,
  workflow_run: { ...EVENTS.workflowRunSame.workflow_run, event: upstream },
});

function ctx(eventName: string, event: unknown, extra: Partial<TrustContext> = {}): TrustContext {
  return { eventName, event, hasWriteToken: false, allowUnsafe: false, ...extra };
}

describe('assertSafeToRunGpuSteps: the refusal rule per event', () => {
  const cases: [string, string, unknown, Partial<TrustContext>, 'runs' | 'refused'][] = [
    ['pull_request from a fork, no token', 'pull_request', EVENTS.pullRequestFork, {}, 'runs'],
    [
      'pull_request from a fork, a token handed in',
      'pull_request',
      EVENTS.pullRequestFork,
      { hasWriteToken: true },
      'refused',
    ],
    [
      'pull_request from a deleted fork with a token',
      'pull_request',
      EVENTS.pullRequestDeletedFork,
      { hasWriteToken: true },
      'refused',
    ],
    [
      'pull_request from the same repository with a token',
      'pull_request',
      EVENTS.pullRequestSame,
      { hasWriteToken: true },
      'runs',
    ],
    ['pull_request_review from a fork, no token', 'pull_request_review', EVENTS.pullRequestFork, {}, 'runs'],
    [
      'pull_request_review_comment from a fork with a token',
      'pull_request_review_comment',
      EVENTS.pullRequestFork,
      { hasWriteToken: true },
      'refused',
    ],
    ['workflow_run of a fork PR', 'workflow_run', EVENTS.workflowRunFork, {}, 'refused'],
    ['workflow_run of the repository itself', 'workflow_run', EVENTS.workflowRunSame, {}, 'runs'],
    [
      'workflow_run whose upstream event was pull_request_target',
      'workflow_run',
      withUpstream('pull_request_target'),
      {},
      'refused',
    ],
    [
      'workflow_run whose upstream event was issue_comment',
      'workflow_run',
      withUpstream('issue_comment'),
      {},
      'refused',
    ],
    [
      'workflow_run with the same full_name but another repository id',
      'workflow_run',
      {
        ...EVENTS.workflowRunSame,
        repository: { ...BASE, id: 1 },
        workflow_run: { ...EVENTS.workflowRunSame.workflow_run, head_repository: { ...BASE, id: 666 } },
      },
      {},
      'refused',
    ],
    ['push', 'push', EVENTS.push, { hasWriteToken: true }, 'runs'],
    ['push checking out a pull request ref', 'push', EVENTS.push, { checkoutIsForkCode: true }, 'refused'],
    [
      'a push to refs/heads/refs/pull/5/head',
      'push',
      { ...EVENTS.push, ref: 'refs/heads/refs/pull/5/head' },
      { refs: ['refs/heads/refs/pull/5/head'] },
      'refused',
    ],
    ['schedule', 'schedule', EVENTS.schedule, { hasWriteToken: true }, 'runs'],
    ['schedule with vllm-ref pull/5/head', 'schedule', EVENTS.schedule, { refs: ['pull/5/head'] }, 'refused'],
    ['workflow_dispatch', 'workflow_dispatch', EVENTS.workflowDispatch, {}, 'runs'],
    [
      'workflow_dispatch on a pull request ref',
      'workflow_dispatch',
      EVENTS.workflowDispatch,
      { refs: ['refs/pull/42/head'] },
      'refused',
    ],
    // not on the allowlist: refused whatever the payload says
    ['pull_request_target from a fork', 'pull_request_target', EVENTS.pullRequestFork, {}, 'refused'],
    [
      'pull_request_target from the same repository',
      'pull_request_target',
      EVENTS.pullRequestSame,
      {},
      'refused',
    ],
    ['PULL_REQUEST_TARGET in upper case', 'PULL_REQUEST_TARGET', EVENTS.pullRequestSame, {}, 'refused'],
    [
      'repository_dispatch with vllm-ref pull/5/head',
      'repository_dispatch',
      { action: 'x', repository: BASE },
      { refs: ['pull/5/head'] },
      'refused',
    ],
    ['repository_dispatch', 'repository_dispatch', { action: 'x', repository: BASE }, {}, 'refused'],
    [
      'merge_group',
      'merge_group',
      { merge_group: { head_sha: 'c'.repeat(40) }, repository: BASE },
      {},
      'refused',
    ],
    [
      'check_suite naming a fork PR',
      'check_suite',
      { check_suite: { pull_requests: [{ number: 42, head: { repo: FORK } }] }, repository: BASE },
      {},
      'refused',
    ],
    ['issue_comment on a pull request', 'issue_comment', EVENTS.commentOnPr, {}, 'refused'],
    [
      'issue_comment with pull_request: null',
      'issue_comment',
      { ...EVENTS.commentOnPr, issue: { number: 42, pull_request: null } },
      {},
      'refused',
    ],
    ['issue_comment on an issue', 'issue_comment', EVENTS.commentOnIssue, {}, 'refused'],
  ];
  for (const [title, eventName, event, extra, expected] of cases) {
    it(`${title}: ${expected}`, () => {
      const run = () => assertSafeToRunGpuSteps(ctx(eventName, event, extra));
      if (expected === 'runs') expect(run).not.toThrow();
      else expect(run).toThrow(/Refusing to run GPU steps/);
    });
    if (expected === 'refused') {
      it(`${title}: runs when the user accepts it explicitly`, () => {
        expect(() =>
          assertSafeToRunGpuSteps(ctx(eventName, event, { ...extra, allowUnsafe: true })),
        ).not.toThrow();
      });
    }
  }

  it('tells a pull_request_target user which events run GPU steps and names the input', () => {
    expect(() => assertSafeToRunGpuSteps(ctx('pull_request_target', EVENTS.pullRequestFork))).toThrow(
      /pull_request_target is not an event GPU steps run on \(pull_request, .*Trigger validate from pull_request .*approving review.*allow-write-token-with-fork-code: true/,
    );
  });

  it('tells a workflow_run of a fork to use the two-workflow pattern', () => {
    expect(() => assertSafeToRunGpuSteps(ctx('workflow_run', EVENTS.workflowRunFork))).toThrow(
      /mallory\/vllm.*`pull_request` workflow with `permissions: contents: read`.*workflow_run/,
    );
  });

  it('tells a pull_request user with a token to remove it', () => {
    expect(() =>
      assertSafeToRunGpuSteps(ctx('pull_request', EVENTS.pullRequestFork, { hasWriteToken: true })),
    ).toThrow(/Remove `github-token`/);
  });

  it('compares repository names without case, as GitHub does', () => {
    const event = { repository: { full_name: 'ACME/vLLM' }, pull_request: pr(BASE) };
    expect(decideTrust(ctx('pull_request', event)).forkCode).toBe(false);
  });

  it('outside a workflow (a terminal) nothing is refused', () => {
    expect(() =>
      assertSafeToRunGpuSteps({ eventName: undefined, event: {}, hasWriteToken: true, allowUnsafe: false }),
    ).not.toThrow();
  });
});

describe('gpuTrustContext: what the runner environment says', () => {
  const config = (inputs: Record<string, string> = {}) => parseConfig((n) => inputs[n]);
  const reader = (payload: unknown) => async () => JSON.stringify(payload);
  const env = (eventName: string, extra: Record<string, string> = {}) => ({
    GITHUB_EVENT_NAME: eventName,
    GITHUB_EVENT_PATH: '/runner/event.json',
    ...extra,
  });

  it('reads the payload and the allow input', async () => {
    const c = await gpuTrustContext(
      config({ 'allow-write-token-with-fork-code': 'true' }),
      env('pull_request_target'),
      reader(EVENTS.pullRequestFork),
    );
    expect(c).toMatchObject({
      eventName: 'pull_request_target',
      event: EVENTS.pullRequestFork,
      allowUnsafe: true,
    });
  });

  it('defaults the allow input to false and rejects a non-boolean', () => {
    expect(config().allowWriteTokenWithForkCode).toBe(false);
    expect(() => config({ 'allow-write-token-with-fork-code': 'yes' })).toThrow(
      "Invalid allow-write-token-with-fork-code 'yes'. Expected `true` or `false`.",
    );
  });

  it('counts a github-token input or a token variable as a write token', async () => {
    const read = reader(EVENTS.pullRequestFork);
    expect((await gpuTrustContext(config(), env('pull_request'), read)).hasWriteToken).toBe(false);
    expect(
      (await gpuTrustContext(config({ 'github-token': 'x' }), env('pull_request'), read)).hasWriteToken,
    ).toBe(true);
    expect(
      (await gpuTrustContext(config(), env('pull_request', { GH_TOKEN: 'x' }), read)).hasWriteToken,
    ).toBe(true);
    expect(
      (await gpuTrustContext(config(), env('pull_request', { GITHUB_TOKEN: 'x' }), read)).hasWriteToken,
    ).toBe(true);
  });

  it('hands vllm-ref and the event ref to the rule, which refuses a pull ref outside pull_request', async () => {
    const ref = config({ 'vllm-repository': 'vllm-project/vllm', 'vllm-ref': 'refs/pull/42/head' });
    const dispatch = await gpuTrustContext(ref, env('workflow_dispatch'), reader(EVENTS.workflowDispatch));
    expect(dispatch.refs).toEqual(['refs/pull/42/head', 'refs/heads/main']);
    expect(decideTrust(dispatch).forkCode).toBe(true);
    const same = await gpuTrustContext(ref, env('pull_request'), reader(EVENTS.pullRequestSame));
    expect(decideTrust(same).forkCode).toBe(false);
    const plain = await gpuTrustContext(config(), env('workflow_dispatch'), reader({}));
    expect(decideTrust(plain).forkCode).toBe(false);
  });

  it('says where the payload is when it cannot be read', async () => {
    await expect(gpuTrustContext(config(), env('pull_request_target'), async () => '{oops')).rejects.toThrow(
      /Cannot read the pull_request_target event payload at \/runner\/event.json \(GITHUB_EVENT_PATH\)/,
    );
  });

  it('outside a workflow reads nothing', async () => {
    const c = await gpuTrustContext(config(), {}, async () => {
      throw new Error('must not read');
    });
    expect(c.eventName).toBeUndefined();
  });
});

describe('dist/index.js refuses before any GPU step', () => {
  it('pull_request_target on a fork PR: fails naming the rule, writes no RunResult', async () => {
    const { env, dir } = await runnerEnv({ mode: 'validate', 'output-dir': 'out' }, EVENTS.pullRequestFork);
    env.GITHUB_EVENT_NAME = 'pull_request_target';
    const r = await runNode([join(ROOT, 'dist/index.js')], env, dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('::error::Refusing to run GPU steps on a pull_request_target event');
    await expect(access(join(dir, 'out', 'run-result.json'))).rejects.toThrow();
  });

  it('masks a token variable in the log', async () => {
    const { env, dir } = await runnerEnv({ mode: 'validate', 'output-dir': 'out' }, EVENTS.pullRequestFork);
    env.GITHUB_TOKEN = 'ghs_0123456789abcdefghij0123456789ABCD';
    const r = await runNode([join(ROOT, 'dist/index.js')], env, dir);
    expect(r.stdout).toContain(`::add-mask::${env.GITHUB_TOKEN}`);
    expect(r.stdout).toContain('Remove `github-token`');
  });
});
