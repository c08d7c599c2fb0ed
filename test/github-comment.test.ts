// The sticky PR comment against the fake GitHub: create → update in place, other runners kept, faults, and racing jobs.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createOctokit, type GitHubClient } from '../src/github/client.js';
import { type CommentFormat, type IssueTarget, publishStickyComment } from '../src/github/comment.js';
import { type FakeGitHub, READ_TOKEN, startFakeGitHub, WRITE_TOKEN } from './support/fake-github.js';

const MARKER = '<!-- vllm-kernel-ci:comment -->';
const section = (runner: string, text: string) => `<!-- runner=${runner} -->\n${text}\n<!-- /runner -->\n`;
const format: CommentFormat = {
  marker: MARKER,
  parse: (body) =>
    new Map(
      [...body.matchAll(/<!-- runner=(\S+) -->\n[\s\S]*?<!-- \/runner -->\n/g)].map((m) => [m[1], m[0]]),
    ),
  compose: (sections) => `${MARKER}\n## vllm-kernel-ci\n\n${[...sections].sort().join('\n')}`,
};
const own = (runner: string, text: string) => new Map([[runner, section(runner, text)]]);
const target: IssueTarget = { owner: 'example', repo: 'vllm', issueNumber: 12 };

let fake: FakeGitHub;
const client = (token = WRITE_TOKEN): GitHubClient =>
  createOctokit(token, { baseUrl: fake.url, retryUnitMs: 5, writeSpacingMs: 0 });
const fast = { jitterMs: 20, settleMs: 80 };
const marked = () => fake.commentsOn('example/vllm', 12).filter((c) => c.body.includes(MARKER));

beforeEach(async () => {
  fake = await startFakeGitHub();
  fake.addPullRequest('example/vllm', { number: 12, headSha: 'c'.repeat(40) });
});
afterEach(async () => {
  expect(fake.rejections()).toEqual([]);
  await fake.close();
});

describe('one comment per PR, edited in place', () => {
  it('creates the comment once, then updates the same comment', async () => {
    const first = await publishStickyComment(client(), target, own('h100', 'run 1'), format, fast);
    expect(first.created).toBe(true);
    const second = await publishStickyComment(client(), target, own('h100', 'run 2'), format, fast);
    expect(second).toMatchObject({ id: first.id, created: false });
    expect(marked()).toHaveLength(1);
    expect(marked()[0].body).toContain('run 2');
    expect(marked()[0].body).not.toContain('run 1');
    expect(second.url).toBe(`https://github.com/example/vllm/pull/12#issuecomment-${first.id}`);
    expect(fake.calls('issues/create-comment')).toHaveLength(1);
    expect(fake.calls('issues/update-comment')).toHaveLength(1);
  });

  it("keeps the other runners' sections when one runner publishes", async () => {
    await publishStickyComment(client(), target, own('mi355x', 'amd numbers'), format, fast);
    await publishStickyComment(client(), target, own('h100', 'nvidia numbers'), format, fast);
    await publishStickyComment(client(), target, own('h100', 'nvidia again'), format, fast);
    const [c] = marked();
    expect(format.parse(c.body)).toEqual(
      new Map([
        ['h100', section('h100', 'nvidia again')],
        ['mi355x', section('mi355x', 'amd numbers')],
      ]),
    );
  });

  it('does not write when the comment already says the same', async () => {
    await publishStickyComment(client(), target, own('h100', 'same'), format, fast);
    const writes = () => fake.calls().filter((r) => r.method !== 'GET').length;
    const before = writes();
    await publishStickyComment(client(), target, own('h100', 'same'), format, fast);
    expect(writes()).toBe(before);
  });

  it('finds its comment past the first page of a long discussion', async () => {
    await publishStickyComment(client(), target, own('h100', 'one'), format, fast);
    for (let i = 0; i < 150; i++) fake.addComment('example/vllm', 12, `review ${i}`);
    await publishStickyComment(client(), target, own('h100', 'two'), format, fast);
    expect(marked()).toHaveLength(1);
    expect(marked()[0].body).toContain('two');
  });

  it('ignores a marked comment someone else wrote and takes none of its sections', async () => {
    const planted = fake.addComment(
      'example/vllm',
      12,
      `${MARKER}\n${section('h100', 'forged numbers')}`,
      'mallory',
    );
    await publishStickyComment(client(), target, own('mi355x', 'real'), format, fast);
    const ours = marked().filter((c) => c.id !== planted.id);
    expect(ours).toHaveLength(1);
    expect(ours[0].body).not.toContain('forged');
    expect(fake.comments.get(planted.id)?.body).toContain('forged');
  });

  it('with a personal token, recognises its comments by login', async () => {
    fake.addToken('ghp_maintainer', {
      login: 'maintainer',
      type: 'User',
      permissions: { issues: 'write', pull_requests: 'write' },
    });
    fake.addComment('example/vllm', 12, `${MARKER}\n${section('h100', 'bot numbers')}`, 'other[bot]', 'Bot');
    await publishStickyComment(client('ghp_maintainer'), target, own('h100', 'mine'), format, fast);
    await publishStickyComment(client('ghp_maintainer'), target, own('h100', 'mine 2'), format, fast);
    const mine = marked().filter((c) => c.login === 'maintainer');
    expect(mine).toHaveLength(1);
    expect(mine[0].body).toContain('mine 2');
  });
});

describe('the comment is ours only if this token wrote it', () => {
  it("with GITHUB_TOKEN, another app's marked comment is left alone: ours is created (no 403, no lost report)", async () => {
    const other = fake.addComment(
      'example/vllm',
      12,
      `${MARKER}\n${section('h100', 'other app numbers')}`,
      'other-app[bot]',
      'Bot',
      'other-app',
    );
    const r = await publishStickyComment(client(), target, own('h100', 'ours'), format, fast);
    expect(r.created).toBe(true);
    expect(r.id).not.toBe(other.id);
    expect(fake.comments.get(other.id)?.body).toContain('other app numbers');
    expect(fake.comments.get(r.id)?.body).not.toContain('other app numbers');
  });

  it('with an installation token of another app, a github-actions[bot] comment and its forged section are not taken', async () => {
    fake.addToken('ghs_app_token', {
      login: 'kernel-ci-app[bot]',
      type: 'Bot',
      app: 'kernel-ci-app',
      permissions: { issues: 'write', pull_requests: 'write' },
    });
    const forged = fake.addComment(
      'example/vllm',
      12,
      `${MARKER}\n${section('mi355x', 'forged numbers')}`,
      'github-actions[bot]',
      'Bot',
      'github-actions',
    );
    const first = await publishStickyComment(client('ghs_app_token'), target, own('h100', 'one'), format, {
      ...fast,
      appSlug: 'kernel-ci-app',
    });
    expect(first.id).not.toBe(forged.id);
    expect(fake.comments.get(first.id)?.body).not.toContain('forged');
    // the next run finds its own comment again, learned from the app that wrote it
    const second = await publishStickyComment(client('ghs_app_token'), target, own('h100', 'two'), format, {
      ...fast,
      appSlug: 'kernel-ci-app',
    });
    expect(second).toMatchObject({ id: first.id, created: false });
    expect(fake.comments.get(forged.id)?.body).toContain('forged');
  });
});

describe('faults', () => {
  it('a read-only token gets 403 and nothing is written', async () => {
    await expect(
      publishStickyComment(client(READ_TOKEN), target, own('h100', 'x'), format, fast),
    ).rejects.toMatchObject({ status: 403 });
    expect(fake.commentsOn('example/vllm', 12)).toEqual([]);
  });

  it('a body GitHub refuses as too long (422) is replaced by a short one that says where the report is', async () => {
    const warnings: string[] = [];
    const huge: CommentFormat = { ...format, compose: (s) => `${format.compose(s)}${'x'.repeat(70_000)}` };
    const r = await publishStickyComment(client(), target, own('h100', 'x'), huge, {
      ...fast,
      warn: (m) => warnings.push(m),
      tooLongBody: () => `${MARKER}\nThe report did not fit; it is in the job summary.`,
    });
    expect(r.fallback).toBe(true);
    expect(marked()).toHaveLength(1);
    expect(marked()[0].body).toContain('it is in the job summary');
    expect(warnings.join()).toContain('body is too long');
    expect(fake.calls('issues/create-comment').map((c) => c.status)).toEqual([422, 201]);
  });

  it('without a fallback, the 422 reaches the caller', async () => {
    const huge: CommentFormat = { ...format, compose: (s) => `${format.compose(s)}${'x'.repeat(70_000)}` };
    await expect(publishStickyComment(client(), target, own('h100', 'x'), huge, fast)).rejects.toMatchObject({
      status: 422,
    });
  });

  it('retries a 5xx and succeeds', async () => {
    await publishStickyComment(client(), target, own('h100', 'one'), format, fast);
    fake.fail({ operationId: 'issues/update-comment', status: 503 });
    fake.fail({ operationId: 'issues/list-comments', status: 500 });
    await publishStickyComment(client(), target, own('h100', 'two'), format, fast);
    expect(marked()).toHaveLength(1);
    expect(marked()[0].body).toContain('two');
    expect(fake.calls('issues/update-comment').map((c) => c.status)).toEqual([503, 200]);
  });

  it('a create that landed although GitHub answered 502 (then retried) still ends as one comment', async () => {
    fake.fail({ operationId: 'issues/create-comment', status: 502, afterHandling: true });
    const r = await publishStickyComment(client(), target, own('h100', 'one'), format, fast);
    expect(fake.calls('issues/create-comment').map((c) => c.status)).toEqual([502, 201]);
    expect(r.deleted).toBe(1);
    expect(marked()).toHaveLength(1);
    expect(marked()[0].id).toBe(r.id);
  });
});

describe('report jobs racing', () => {
  const jitteryFake = async () => {
    await fake.close();
    // random latency before and after each request interleaves the jobs' list/create/update/delete differently each time
    fake = await startFakeGitHub({ latency: () => Math.random() * 15 });
    fake.addPullRequest('example/vllm', { number: 12, headSha: 'c'.repeat(40) });
  };

  for (const start of ['no comment yet', 'a comment from an earlier push']) {
    it(`two jobs publishing at once end with one comment holding both runners (${start})`, async () => {
      for (let trial = 0; trial < 6; trial++) {
        await jitteryFake();
        if (start !== 'no comment yet') {
          await publishStickyComment(client(), target, own('h100', 'old h100'), format, fast);
          await publishStickyComment(client(), target, own('mi355x', 'old mi355x'), format, fast);
        }
        await Promise.all([
          publishStickyComment(client(), target, own('h100', `new h100 ${trial}`), format, fast),
          publishStickyComment(client(), target, own('mi355x', `new mi355x ${trial}`), format, fast),
        ]);
        const comments = marked();
        expect(comments).toHaveLength(1);
        expect(format.parse(comments[0].body)).toEqual(
          new Map([
            ['h100', section('h100', `new h100 ${trial}`)],
            ['mi355x', section('mi355x', `new mi355x ${trial}`)],
          ]),
        );
        expect(fake.rejections()).toEqual([]);
      }
    });
  }

  it('four jobs at once still end with one comment holding all four', async () => {
    await jitteryFake();
    const runners = ['h100', 'h200', 'mi300x', 'mi355x'];
    await Promise.all(
      runners.map((r) => publishStickyComment(client(), target, own(r, `${r} ok`), format, fast)),
    );
    const comments = marked();
    expect(comments).toHaveLength(1);
    expect([...format.parse(comments[0].body).keys()].sort()).toEqual(runners);
  });
});
