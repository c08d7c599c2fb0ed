// Report mode on a fork's workflow_run: a PR that edits the workflows never gets a success check, and a run
// waiting for approval leaves the report job green, not red.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import type { Host } from '../src/host.js';
import { runReport } from '../src/modes/report.js';
import { workflowChangeReason } from '../src/security/pr-files.js';
import { tempDir } from './helpers.js';
import { fullRun } from './report-fixtures.js';
import { type FakeGitHub, startFakeGitHub, WRITE_TOKEN } from './support/fake-github.js';

const HEAD = '3f1c2a9e8b7d6c5f4e3d2c1b0a9f8e7d6c5b4a39';
const PR = 43190;
const fast = { client: { retryUnitMs: 5, writeSpacingMs: 0 }, sticky: { jitterMs: 10, settleMs: 40 } };

let fake: FakeGitHub;
let dir: string;
beforeEach(async () => {
  fake = await startFakeGitHub();
  dir = await tempDir('vkci-report-trust-');
});
afterEach(async () => {
  expect(fake.rejections()).toEqual([]);
  await fake.close();
});

function host(env: Record<string, string>): Host & { warnings: string[]; infos: string[] } {
  const warnings: string[] = [];
  const infos: string[] = [];
  return {
    warnings,
    infos,
    info: (m) => infos.push(m),
    warning: (m) => warnings.push(m),
    group: (_n, fn) => fn(),
    setOutput: () => {},
    summary: async () => {},
    setSecret: () => {},
    env,
  };
}

async function forkRun(conclusion = 'success'): Promise<Record<string, string>> {
  const path = join(dir, 'event.json');
  await writeFile(
    path,
    JSON.stringify({
      repository: { full_name: 'example/vllm' },
      workflow_run: {
        id: 777,
        event: 'pull_request_review',
        conclusion,
        head_sha: HEAD,
        head_branch: 'fused-gate',
        head_repository: { full_name: 'contributor/vllm', owner: { login: 'contributor' } },
        pull_requests: [],
      },
    }),
  );
  return {
    GITHUB_EVENT_NAME: 'workflow_run',
    GITHUB_EVENT_PATH: path,
    GITHUB_REPOSITORY: 'example/vllm',
    GITHUB_RUN_ID: '4242',
    GITHUB_API_URL: fake.url,
  };
}

const config = () =>
  parseConfig(
    (name) =>
      ({
        mode: 'report',
        results: join(dir, 'results/**/run-result.json'),
        'output-dir': join(dir, 'out'),
        'github-token': WRITE_TOKEN,
      })[name],
  );

async function upload(): Promise<void> {
  await mkdir(join(dir, 'results', 'h100'), { recursive: true });
  await writeFile(
    join(dir, 'results', 'h100', 'run-result.json'),
    JSON.stringify(fullRun({ runner: 'h100' })),
  );
}

const checks = () => [...fake.checkRuns.values()];

describe('a fork pull request that changes .github/workflows/', () => {
  it('gets a neutral check with the reason, never a success', async () => {
    fake.addPullRequest('example/vllm', {
      number: PR,
      headSha: HEAD,
      headRef: 'fused-gate',
      headRepo: 'contributor/vllm',
      files: ['kernels/gate.py', '.github/workflows/pr-validate.yml'],
    });
    await upload();
    const h = host(await forkRun());
    await runReport(config(), h, fast);
    const [check] = checks();
    expect(check.conclusion).toBe('neutral');
    expect(check.output.title).toBe('Not trusted: the fork changes .github/workflows/');
    expect(check.output.summary).toContain('changes .github/workflows/pr-validate.yml');
    expect(h.warnings.join('\n')).toContain('The check run is neutral');
  });

  it('a fork that leaves the workflows alone is gated on its results as before', async () => {
    fake.addPullRequest('example/vllm', {
      number: PR,
      headSha: HEAD,
      headRef: 'fused-gate',
      headRepo: 'contributor/vllm',
      files: ['kernels/gate.py'],
    });
    await upload();
    await runReport(config(), host(await forkRun()), fast);
    expect(checks()[0].conclusion).not.toBe('neutral');
  });
});

describe('a fork pull request that hides its workflow edit past the 3000 files GitHub lists', () => {
  it('3000 padding files sorting before .github/: neutral, saying the list is cut short', async () => {
    const padding = Array.from({ length: 3000 }, (_, i) => `.aaa/pad-${String(i).padStart(4, '0')}.txt`);
    fake.addPullRequest('example/vllm', {
      number: PR,
      headSha: HEAD,
      headRef: 'fused-gate',
      headRepo: 'contributor/vllm',
      files: [...padding, '.github/workflows/pr-validate.yml'],
    });
    await upload();
    const h = host(await forkRun());
    await runReport(config(), h, fast);
    const [check] = checks();
    expect(check.conclusion).toBe('neutral');
    expect(check.output.summary).toContain(
      'fork pull request #43190 changes 3001 files, more than the 3000 GitHub lists, so an edit under .github/workflows/ could be hidden',
    );
  }, 60_000);
});

describe('the workflow-change rule', () => {
  it('a listed count short of changed_files, or a rename away from the workflows, counts as a change', () => {
    const listed = [{ filename: 'kernels/gate.py' }];
    expect(workflowChangeReason(7, 2, listed)).toBe(
      'GitHub listed 1 of the 2 files fork pull request #7 changes, so an edit under .github/workflows/ could be hidden',
    );
    expect(workflowChangeReason(7, 1, listed)).toBeUndefined();
    expect(
      workflowChangeReason(7, 1, [
        { filename: 'x.yml', previous_filename: '.github/workflows/pr-validate.yml' },
      ]),
    ).toContain('changes .github/workflows/pr-validate.yml under .github/workflows/');
  });
});

describe('a fork push waiting for approval', () => {
  it('a successful validate run without RunResults leaves the report job green', async () => {
    const h = host(await forkRun('success'));
    const outcome = await runReport(config(), h, fast);
    expect(outcome).toMatchObject({ exitCode: 0, verdict: 'not-available' });
    expect(h.infos.join('\n')).toContain("waiting for a maintainer's approval");
    expect(checks()).toEqual([]);
  });

  it('a failed validate run without RunResults is still an error', async () => {
    const outcome = await runReport(config(), host(await forkRun('failure')), fast);
    expect(outcome.exitCode).toBe(1);
    expect(outcome.failure).toMatch(/ended \(failure\) without uploading a RunResult/);
  });
});
