// The bundled action and CLI in report mode: a runner-like environment against the fake GitHub, GitHub's real pacing.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCommentSections } from '../src/report/render.js';
import { parseOutputFile, ROOT, runNode, runnerEnv, tempDir } from './helpers.js';
import { fullRun } from './report-fixtures.js';
import { type FakeGitHub, READ_TOKEN, startFakeGitHub, WRITE_TOKEN } from './support/fake-github.js';

const HEAD = '3f1c2a9e8b7d6c5f4e3d2c1b0a9f8e7d6c5b4a39';
const PR = 43190;
let fake: FakeGitHub;

beforeAll(async () => {
  fake = await startFakeGitHub();
  fake.addPullRequest('example/vllm', { number: PR, headSha: HEAD });
  fake.addPullRequest('example/vllm', { number: PR + 1, headSha: HEAD });
});
afterAll(async () => {
  expect(fake.rejections()).toEqual([]);
  await fake.close();
});

async function runAction(token: string, pr = PR) {
  const event = {
    number: pr,
    pull_request: { number: pr, head: { sha: HEAD } },
    repository: { full_name: 'example/vllm' },
  };
  const { env, dir } = await runnerEnv(
    { mode: 'report', results: 'results/**/*.json', 'github-token': token },
    event,
  );
  for (const runner of ['h100-1', 'mi355x-1']) {
    await mkdir(join(dir, 'results', runner), { recursive: true });
    const result = fullRun({ runner });
    result.identity.pr = pr;
    await writeFile(join(dir, 'results', runner, 'run-result.json'), JSON.stringify(result));
  }
  env.GITHUB_API_URL = fake.url;
  env.GITHUB_RUN_ID = '31337';
  const r = await runNode([join(ROOT, 'dist/index.js')], env, dir);
  return { r, dir, outputs: parseOutputFile(await readFile(join(dir, 'output'), 'utf8')) };
}

describe('dist/index.js, mode report', () => {
  it('comments once, creates the check run, and sets comment-url, verdict and report-path', {
    timeout: 120_000,
  }, async () => {
    const { r, dir, outputs } = await runAction(WRITE_TOKEN);
    expect(r.stdout).not.toContain('::error::');
    expect(r.stdout).not.toContain('::warning::');
    const [comment] = fake.commentsOn('example/vllm', PR);
    expect([...parseCommentSections(comment.body).keys()].sort()).toEqual(['h100-1', 'mi355x-1']);
    expect(outputs['comment-url']).toBe(
      `https://github.com/example/vllm/pull/${PR}#issuecomment-${comment.id}`,
    );
    expect(outputs.verdict).toBe('improved');
    expect(outputs['report-path']).toBe(join(dir, 'vllm-kernel-ci-out', 'report.md'));
    const summary = await readFile(join(dir, 'summary.md'), 'utf8');
    expect(summary.trim()).toBe((await readFile(outputs['report-path'], 'utf8')).trim());
    expect([...fake.checkRuns.values()].map((c) => c.conclusion)).toEqual(['success']);
    // the token reaches the log only to be masked
    expect(r.stdout.split('\n').filter((l) => l.includes(WRITE_TOKEN))).toEqual([
      `::add-mask::${WRITE_TOKEN}`,
    ]);
  });

  it('a read-only token: a warning that names the permission, the summary, and no failure', {
    timeout: 120_000,
  }, async () => {
    const { r, outputs } = await runAction(READ_TOKEN, PR + 1);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('::warning::Could not comment on pull request');
    expect(r.stdout).toContain('permissions: pull-requests: write');
    expect(outputs['comment-url']).toBe('');
    expect(outputs.verdict).toBe('improved');
  });
});

describe('dist/cli.js report', () => {
  it('writes report.md from RunResult files, with no GitHub and no token', async () => {
    const dir = await tempDir('vkci-cli-report-');
    await writeFile(join(dir, 'a.json'), JSON.stringify(fullRun({ runner: 'laptop', failCases: 1 })));
    const r = await runNode(
      [
        join(ROOT, 'dist/cli.js'),
        'report',
        '--results',
        join(dir, '*.json'),
        '--output-dir',
        join(dir, 'out'),
      ],
      { PATH: process.env.PATH ?? '' },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: 1 correctness case failed on laptop');
    const report = await readFile(join(dir, 'out', 'report.md'), 'utf8');
    expect(report).toContain('laptop');
    // the paths on stdout, the failure on stderr
    expect(r.stdout).toContain(`report: ${join(dir, 'out', 'report.md')}`);
  });
});
