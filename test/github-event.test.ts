// Which PR and commit a report is about: from pull_request and workflow_run payloads, and a fork's PR found by head.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOctokit } from '../src/github/client.js';
import { findPullRequestByHead, reportTarget } from '../src/github/event.js';
import { type FakeGitHub, startFakeGitHub, WRITE_TOKEN } from './support/fake-github.js';

const env = { GITHUB_REPOSITORY: 'example/vllm', GITHUB_RUN_ID: '99', GITHUB_SHA: 'f'.repeat(40) };
const head = 'a'.repeat(40);

describe('reportTarget', () => {
  it('pull_request: number and head SHA from the payload (not GITHUB_SHA, the merge commit)', () => {
    const t = reportTarget(
      'pull_request',
      {
        number: 5,
        pull_request: { number: 5, head: { sha: head } },
        repository: { full_name: 'example/vllm' },
      },
      env,
    );
    expect(t).toMatchObject({ owner: 'example', repo: 'vllm', pr: 5, headSha: head });
    expect(t.runUrl).toBe('https://github.com/example/vllm/actions/runs/99');
  });

  it('workflow_run of a same-repository PR: the listed PR whose head is the run head', () => {
    const t = reportTarget(
      'workflow_run',
      {
        workflow_run: {
          head_sha: head,
          head_branch: 'gate',
          pull_requests: [
            { number: 3, head: { sha: 'b'.repeat(40) } },
            { number: 4, head: { sha: head } },
          ],
        },
        repository: { full_name: 'example/vllm' },
      },
      env,
    );
    expect(t).toMatchObject({ pr: 4, headSha: head, headLabel: undefined });
  });

  it('workflow_run of a fork PR: no PR listed, so the head label to look it up by', () => {
    const t = reportTarget(
      'workflow_run',
      {
        workflow_run: {
          id: 7,
          head_sha: head,
          head_branch: 'gate',
          pull_requests: [],
          head_repository: { full_name: 'contributor/vllm', owner: { login: 'contributor' } },
        },
        repository: { full_name: 'example/vllm' },
      },
      env,
    );
    expect(t).toMatchObject({ pr: undefined, headSha: head, headLabel: 'contributor:gate' });
  });

  it('push and schedule: no PR, the commit that ran', () => {
    const t = reportTarget('schedule', {}, env);
    expect(t.pr).toBeUndefined();
    expect(t.headSha).toBe('f'.repeat(40));
  });

  it('a pull_request payload of the wrong shape yields no PR; a workflow_run without a head SHA is an error', () => {
    expect(reportTarget('pull_request', { pull_request: { number: '5' } }, env).pr).toBeUndefined();
    expect(() => reportTarget('workflow_run', null, {})).toThrow(/not a workflow_run with a head SHA/);
  });
});

describe('findPullRequestByHead against the fake GitHub', () => {
  let fake: FakeGitHub;
  beforeAll(async () => {
    fake = await startFakeGitHub();
    fake.addPullRequest('example/vllm', {
      number: 21,
      headSha: head,
      headRef: 'gate',
      headRepo: 'contributor/vllm',
    });
    fake.addPullRequest('example/vllm', {
      number: 22,
      headSha: 'b'.repeat(40),
      headRef: 'other',
      headRepo: 'contributor/vllm',
    });
  });
  afterAll(async () => {
    expect(fake.rejections()).toEqual([]);
    await fake.close();
  });

  it('finds the fork PR only when its head is exactly the run head', async () => {
    const gh = createOctokit(WRITE_TOKEN, { baseUrl: fake.url });
    expect(await findPullRequestByHead(gh, 'example', 'vllm', 'contributor:gate', head)).toBe(21);
    expect(
      await findPullRequestByHead(gh, 'example', 'vllm', 'contributor:gate', 'c'.repeat(40)),
    ).toBeUndefined();
    expect(await findPullRequestByHead(gh, 'example', 'vllm', 'someone:gate', head)).toBeUndefined();
  });
});
