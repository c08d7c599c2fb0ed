// The nightly mode as a runner runs it: dist/index.js, a vLLM-shaped git repository, the history branch pushed
// to a local bare repository through GITHUB_SERVER_URL, the issue on the fake GitHub through GITHUB_API_URL.
import { mkdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { historyFile } from '../src/nightly/history-git.js';
import { makeBundle, makeVllmRepo } from './fakes/world.js';
import { gitInit, parseOutputFile, ROOT, runNode, runnerEnv } from './helpers.js';
import { type FakeGitHub, startFakeGitHub, WRITE_TOKEN } from './support/fake-github.js';

const REPO = 'example/vllm-kernel-ci';
let fake: FakeGitHub;

beforeAll(async () => {
  fake = await startFakeGitHub();
  fake.addRepo(REPO);
});
afterAll(async () => {
  await fake?.close();
});

describe('dist/index.js in nightly mode', () => {
  const python = process.env.VLLM_KERNEL_CI_PYTHON ?? 'python3';

  it('records the night on the data branch with the vLLM commit and the run, and opens no issue on a first night', {
    timeout: 120_000,
  }, async () => {
    const vllm = await makeVllmRepo();
    const bundle = await makeBundle();
    const { env, dir } = await runnerEnv({
      mode: 'nightly',
      'output-dir': 'out',
      'e2e-backend': 'none',
      'vllm-repository': vllm.dir,
      'vllm-ref': 'main',
      bundle,
      python,
      'github-token': WRITE_TOKEN,
    });
    const server = join(dir, 'server');
    const remote = join(server, `${REPO}.git`);
    await mkdir(remote, { recursive: true });
    await gitInit(remote, '--bare');
    Object.assign(env, {
      GITHUB_EVENT_NAME: 'schedule',
      GITHUB_SERVER_URL: `file://${server}`,
      GITHUB_API_URL: fake.url,
      GITHUB_REPOSITORY: REPO,
      GITHUB_RUN_ID: '4242',
      VLLM_KERNEL_CI_CACHE: join(dir, 'cache'),
    });

    const r = await runNode([join(ROOT, 'dist/index.js')], env, dir);
    expect(r.stdout).toContain(
      '::error::Nightly on h100-runner-1: nothing measured (no GPU detected), so the night counts as failed',
    );
    // only in the mask command itself
    expect(r.stdout.split(WRITE_TOKEN)).toHaveLength(2);
    expect(r.stdout).toContain('Appended ');
    expect(r.stdout).toContain('Regression issue: none (no runner alerting).');
    const outputs = parseOutputFile(await readFile(join(dir, 'output'), 'utf8'));
    // a night on a machine without a GPU measured nothing: a failed night, said so, and still recorded
    expect(outputs.verdict).toBe('failed');
    expect(outputs['comment-url']).toBe('');
    expect(outputs['report-path']).toBe(join(dir, 'out', 'nightly.md'));
    expect(outputs['result-path']).toBe(join(dir, 'out', 'run-result.json'));

    const { stdout: line } = await execa('git', [
      '--git-dir',
      remote,
      'show',
      `vllm-kernel-ci-data:${historyFile(basename(bundle), 'h100-runner-1')}`,
    ]);
    const record = JSON.parse(line);
    expect(record).toMatchObject({
      night: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
      runner: 'h100-runner-1',
      vllmSha: vllm.sha,
      runUrl: `file://${server}/${REPO}/actions/runs/4242`,
    });
    expect(record).toMatchObject({ drift: [], correctness: [], device: { vendor: 'cpu' } });

    expect(fake.issues(REPO)).toEqual([]);
    expect(fake.calls('issues/list-for-repo')).toHaveLength(1);
    const summary = await readFile(join(dir, 'summary.md'), 'utf8');
    expect(summary).toContain('**No runner alerting**');
    expect(summary).toMatch(/- no measurement on \d{4}-\d{2}-\d{2} \(h100-runner-1\): no GPU detected/);
    expect(fake.requests.filter((q) => q.problem)).toEqual([]);
  });
});
