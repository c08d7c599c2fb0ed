// The GitHub double itself: it must refuse what GitHub would refuse, answer in GitHub's shapes, and play its scripted faults.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createOctokit, type GitHubClient } from '../src/github/client.js';
import { type FakeGitHub, READ_TOKEN, startFakeGitHub, WRITE_TOKEN } from './support/fake-github.js';

let fake: FakeGitHub;
let gh: GitHubClient;
const repo = { owner: 'example', repo: 'vllm' };

beforeAll(async () => {
  fake = await startFakeGitHub();
  fake.addPullRequest('example/vllm', { number: 7, headSha: 'a'.repeat(40) });
  gh = createOctokit(WRITE_TOKEN, { baseUrl: fake.url, retryUnitMs: 5, writeSpacingMs: 0 });
});
afterAll(() => fake.close());
beforeEach(() => {
  fake.requests.length = 0;
  fake.clearFaults();
});

async function raw(method: string, path: string, body?: unknown, token = WRITE_TOKEN) {
  const res = await fetch(`${fake.url}${path}`, {
    method,
    headers: { authorization: `token ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json().catch(() => undefined)) as Record<string, unknown> };
}

describe("requests are checked against GitHub's OpenAPI description", () => {
  it('accepts a comment created through Octokit and answers with a GitHub issue-comment', async () => {
    const { data } = await gh.rest.issues.createComment({ ...repo, issue_number: 7, body: 'hello' });
    expect(data.body).toBe('hello');
    expect(data.user?.login).toBe('github-actions[bot]');
    expect(data.html_url).toBe(`https://github.com/example/vllm/pull/7#issuecomment-${data.id}`);
    expect(fake.rejections()).toEqual([]);
  });

  it('refuses a body that misses a required field, with 422', async () => {
    const r = await raw('POST', '/repos/example/vllm/issues/7/comments', { text: 'hello' });
    expect(r.status).toBe(422);
    expect(fake.rejections()).toHaveLength(1);
  });

  it('refuses an unknown field, as GitHub does ("is not a permitted key")', async () => {
    const r = await raw('POST', '/repos/example/vllm/issues/7/comments', { body: 'x', bodyy: 'y' });
    expect(r.status).toBe(422);
    expect(r.body.message).toContain('"bodyy" is not a permitted key');
  });

  it('refuses a field of the wrong type and an enum value GitHub does not know', async () => {
    expect((await raw('POST', '/repos/example/vllm/issues/7/comments', { body: 5 })).status).toBe(422);
    const bad = await raw('POST', '/repos/example/vllm/check-runs', {
      name: 'x',
      head_sha: 'a'.repeat(40),
      conclusion: 'passed',
    });
    expect(bad.status).toBe(422);
  });

  it('refuses malformed JSON with 400', async () => {
    expect((await raw('POST', '/repos/example/vllm/issues/7/comments', '{"body": ')).status).toBe(400);
  });

  it('refuses a path parameter of the wrong type and an unknown query parameter', async () => {
    expect((await raw('GET', '/repos/example/vllm/issues/comments/abc')).status).toBe(422);
    expect((await raw('GET', '/repos/example/vllm/issues/7/comments?perpage=5')).status).toBe(422);
  });

  it('answers 404 for a route GitHub does not have', async () => {
    expect((await raw('POST', '/repos/example/vllm/pulls/7/sticky-comments', { body: 'x' })).status).toBe(
      404,
    );
  });

  it('refuses a check-run summary over 65,535 characters, as the description says', async () => {
    const r = await raw('POST', '/repos/example/vllm/check-runs', {
      name: 'x',
      head_sha: 'a'.repeat(40),
      output: { title: 't', summary: 'x'.repeat(65_536) },
    });
    expect(r.status).toBe(422);
  });
});

describe("state and GitHub's rules", () => {
  it('pages a long comment list with Link headers that Octokit follows', async () => {
    fake.addPullRequest('example/vllm', { number: 8, headSha: 'b'.repeat(40) });
    for (let i = 0; i < 130; i++) fake.addComment('example/vllm', 8, `comment ${i}`);
    const all = await gh.paginate(gh.rest.issues.listComments, { ...repo, issue_number: 8, per_page: 50 });
    expect(all.map((c) => c.body)).toEqual(Array.from({ length: 130 }, (_, i) => `comment ${i}`));
    expect(fake.calls('issues/list-comments')).toHaveLength(3);
  });

  it('answers 422 for a comment over 65,536 characters and stores nothing', async () => {
    const before = fake.commentsOn('example/vllm', 7).length;
    const error = await gh.rest.issues
      .createComment({ ...repo, issue_number: 7, body: 'x'.repeat(65_537) })
      .catch((e: { status: number; message: string }) => e);
    expect(error).toMatchObject({ status: 422 });
    expect(String((error as unknown as Error).message)).toContain(
      'body is too long (maximum is 65536 characters)',
    );
    expect(fake.commentsOn('example/vllm', 7)).toHaveLength(before);
    await gh.rest.issues.createComment({ ...repo, issue_number: 7, body: 'x'.repeat(65_536) });
  });

  it('refuses writes with a read-only token (403) but lets it read', async () => {
    const ro = createOctokit(READ_TOKEN, { baseUrl: fake.url, retryUnitMs: 5, writeSpacingMs: 0 });
    await expect(ro.rest.issues.listComments({ ...repo, issue_number: 7 })).resolves.toMatchObject({
      status: 200,
    });
    await expect(ro.rest.issues.createComment({ ...repo, issue_number: 7, body: 'x' })).rejects.toMatchObject(
      {
        status: 403,
        message: expect.stringContaining('Resource not accessible by integration'),
      },
    );
    await expect(
      ro.rest.checks.create({ ...repo, name: 'x', head_sha: 'a'.repeat(40), conclusion: 'success' }),
    ).rejects.toMatchObject({ status: 403 });
  });

  it('requires a token', async () => {
    const res = await fetch(`${fake.url}/repos/example/vllm/issues/7/comments`);
    expect(res.status).toBe(401);
  });

  it('keeps files on a branch and refuses a write based on a stale sha (409)', async () => {
    const main = await gh.rest.git.getRef({ ...repo, ref: 'heads/main' });
    await gh.rest.git.createRef({ ...repo, ref: 'refs/heads/data', sha: main.data.object.sha });
    const put = (content: string, sha?: string) =>
      gh.rest.repos.createOrUpdateFileContents({
        ...repo,
        path: 'history/h100.jsonl',
        branch: 'data',
        message: 'night',
        content: Buffer.from(content).toString('base64'),
        sha,
      });
    const first = await put('one\n');
    await put('one\ntwo\n', first.data.content?.sha);
    await expect(put('one\nthree\n', first.data.content?.sha)).rejects.toMatchObject({ status: 409 });
    const got = await gh.rest.repos.getContent({ ...repo, path: 'history/h100.jsonl', ref: 'data' });
    const file = got.data as { content: string };
    expect(Buffer.from(file.content, 'base64').toString()).toBe('one\ntwo\n');
    expect(fake.file('example/vllm', 'history/h100.jsonl', 'data')).toBe('one\ntwo\n');
    expect(fake.rejections()).toEqual([]);
  });

  it('opens, labels, lists and closes an issue', async () => {
    const created = await gh.rest.issues.create({
      ...repo,
      title: 'Regression',
      body: 'x',
      labels: ['perf'],
    });
    const open = await gh.rest.issues.listForRepo({ ...repo, labels: 'perf', state: 'open' });
    expect(open.data.map((i) => i.number)).toEqual([created.data.number]);
    await gh.rest.issues.update({ ...repo, issue_number: created.data.number, state: 'closed' });
    const after = await gh.rest.issues.listForRepo({ ...repo, labels: 'perf', state: 'open' });
    expect(after.data).toEqual([]);
    expect(fake.rejections()).toEqual([]);
  });
});

describe('scripted faults through the real retry and throttling plugins', () => {
  it('retries a 502 and succeeds', async () => {
    fake.fail({ operationId: 'issues/create-comment', status: 502, times: 2 });
    const { data } = await gh.rest.issues.createComment({ ...repo, issue_number: 7, body: 'after 502' });
    expect(data.body).toBe('after 502');
    expect(fake.calls('issues/create-comment').map((r) => r.status)).toEqual([502, 502, 201]);
  });

  it('waits out a spent primary rate limit and retries', async () => {
    const warnings: string[] = [];
    const client = createOctokit(WRITE_TOKEN, {
      baseUrl: fake.url,
      retryUnitMs: 5,
      writeSpacingMs: 0,
      log: { info: () => {}, warning: (m) => warnings.push(m) },
    });
    fake.exhaustRateLimit('issues/list-comments', 1);
    const r = await client.rest.issues.listComments({ ...repo, issue_number: 7 });
    expect(r.status).toBe(200);
    expect(fake.calls('issues/list-comments').map((c) => c.status)).toEqual([403, 200]);
    expect(warnings.join('\n')).toMatch(/GitHub rate limit hit on GET .*retrying/);
  });

  it('retries after a secondary rate limit, then gives up when it persists', async () => {
    const warnings: string[] = [];
    const client = createOctokit(WRITE_TOKEN, {
      baseUrl: fake.url,
      retryUnitMs: 5,
      writeSpacingMs: 0,
      log: { info: () => {}, warning: (m) => warnings.push(m) },
    });
    fake.secondaryRateLimit('issues/create-comment', 1, 1);
    await expect(
      client.rest.issues.createComment({ ...repo, issue_number: 7, body: 'x' }),
    ).resolves.toMatchObject({
      status: 201,
    });
    fake.secondaryRateLimit('issues/create-comment', 1, 10);
    await expect(
      client.rest.issues.createComment({ ...repo, issue_number: 7, body: 'y' }),
    ).rejects.toMatchObject({
      status: 403,
    });
    expect(warnings.some((w) => w.includes('giving up'))).toBe(true);
  });

  it('can land a write and still answer 502, so a retry duplicates it as on GitHub', async () => {
    const before = fake.commentsOn('example/vllm', 7).length;
    fake.fail({ operationId: 'issues/create-comment', status: 502, afterHandling: true });
    await gh.rest.issues.createComment({ ...repo, issue_number: 7, body: 'twice' });
    expect(fake.commentsOn('example/vllm', 7).length).toBe(before + 2);
  });

  it('names the handler to add for an operation it validates but does not serve', async () => {
    const r = await raw('GET', '/repos/example/vllm/releases');
    expect(r.status).toBe(501);
    expect(r.body.message).toContain('repos/list-releases');
  });
});
