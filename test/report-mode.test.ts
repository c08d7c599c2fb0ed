// Report mode end to end against the fake GitHub: untrusted RunResults in, one PR comment, a check run (the merge
// gate), the job summary, outputs and report.md out; read-only tokens, refused artifacts and forks.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import type { Host } from '../src/host.js';
import { runReport, SUMMARY_MAX_BYTES } from '../src/modes/report.js';
import { parseCommentSections } from '../src/report/render.js';
import type { RunResult } from '../src/results/run-result.js';
import { tempDir } from './helpers.js';
import { fullRun } from './report-fixtures.js';
import { type FakeGitHub, READ_TOKEN, startFakeGitHub, WRITE_TOKEN } from './support/fake-github.js';

const HEAD = '3f1c2a9e8b7d6c5f4e3d2c1b0a9f8e7d6c5b4a39';
const PR = 43190;
const fast = { client: { retryUnitMs: 5, writeSpacingMs: 0 }, sticky: { jitterMs: 10, settleMs: 40 } };

interface TestHost extends Host {
  infos: string[];
  warnings: string[];
  summaries: string[];
}

function testHost(env: Record<string, string>): TestHost {
  const infos: string[] = [];
  const warnings: string[] = [];
  const summaries: string[] = [];
  return {
    infos,
    warnings,
    summaries,
    info: (m) => infos.push(m),
    warning: (m) => warnings.push(m),
    group: (_name, fn) => fn(),
    setOutput: () => {},
    summary: async (md) => {
      summaries.push(md);
    },
    setSecret: () => {},
    env,
  };
}

let fake: FakeGitHub;
let dir: string;

beforeEach(async () => {
  fake = await startFakeGitHub();
  fake.addPullRequest('example/vllm', {
    number: PR,
    headSha: HEAD,
    headRef: 'fused-gate',
    headRepo: 'contributor/vllm',
  });
  dir = await tempDir('vkci-report-');
});
afterEach(async () => {
  expect(fake.rejections()).toEqual([]);
  await fake.close();
});

async function writeResults(results: RunResult[]): Promise<void> {
  for (const r of results) {
    await mkdir(join(dir, 'results', r.identity.runner), { recursive: true });
    await writeFile(join(dir, 'results', r.identity.runner, 'run-result.json'), JSON.stringify(r));
  }
}

async function event(name: string, payload: unknown): Promise<Record<string, string>> {
  const path = join(dir, 'event.json');
  await writeFile(path, JSON.stringify(payload));
  return {
    GITHUB_EVENT_NAME: name,
    GITHUB_EVENT_PATH: path,
    GITHUB_REPOSITORY: 'example/vllm',
    GITHUB_RUN_ID: '4242',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_API_URL: fake.url,
  };
}

const pullRequestEvent = () =>
  event('pull_request', {
    number: PR,
    pull_request: { number: PR, head: { sha: HEAD } },
    repository: { full_name: 'example/vllm' },
  });

const forkWorkflowRun = (headSha = HEAD) =>
  event('workflow_run', {
    repository: { full_name: 'example/vllm' },
    workflow_run: {
      id: 777,
      event: 'pull_request',
      head_sha: headSha,
      head_branch: 'fused-gate',
      head_repository: { full_name: 'contributor/vllm', owner: { login: 'contributor' } },
      pull_requests: [],
    },
  });

function config(inputs: Record<string, string> = {}) {
  return parseConfig(
    (name) =>
      ({
        mode: 'report',
        results: join(dir, 'results/**/run-result.json'),
        'output-dir': join(dir, 'out'),
        'github-token': WRITE_TOKEN,
        ...inputs,
      })[name],
  );
}

const comments = () => fake.commentsOn('example/vllm', PR);

describe('report mode publishes one comment, a check run, the summary and report.md', () => {
  it('pull_request: two runners in one comment; the check run passes; outputs point at both', async () => {
    await writeResults([fullRun({ runner: 'h100-1', seed: 1 }), fullRun({ runner: 'mi355x-1', seed: 2 })]);
    const host = testHost(await pullRequestEvent());
    const outcome = await runReport(config(), host, fast);

    expect(outcome.exitCode).toBe(0);
    expect(comments()).toHaveLength(1);
    const body = comments()[0].body;
    expect([...parseCommentSections(body).keys()].sort()).toEqual(['h100-1', 'mi355x-1']);
    expect(outcome.commentUrl).toBe(
      `https://github.com/example/vllm/pull/${PR}#issuecomment-${comments()[0].id}`,
    );
    const [check] = fake.checkRuns.values();
    expect(check).toMatchObject({
      name: 'vllm-kernel-ci',
      headSha: HEAD,
      status: 'completed',
      conclusion: 'success',
    });
    expect(check.detailsUrl).toBe('https://github.com/example/vllm/actions/runs/4242');
    expect(check.output.summary).toBe(body);
    const report = await readFile(outcome.reportPath ?? '', 'utf8');
    expect(outcome.reportPath).toBe(join(dir, 'out', 'report.md'));
    expect(host.summaries).toEqual([report]);
    expect(report).toContain('h100-1');
    expect(report).toContain('mi355x-1');
    expect(host.warnings).toEqual([]);
  });

  it('a second report edits the same comment and keeps the other runner', async () => {
    await writeResults([fullRun({ runner: 'h100-1' }), fullRun({ runner: 'mi355x-1', seed: 2 })]);
    const env = await pullRequestEvent();
    await runReport(config(), testHost(env), fast);
    const first = comments()[0];
    // a later job reports only h100-1, now with a correctness failure
    dir = await tempDir('vkci-report-');
    await writeResults([fullRun({ runner: 'h100-1', failCases: 2 })]);
    const outcome = await runReport(config(), testHost(await pullRequestEvent()), fast);
    expect(comments()).toHaveLength(1);
    expect(comments()[0].id).toBe(first.id);
    const sections = parseCommentSections(comments()[0].body);
    expect([...sections.keys()].sort()).toEqual(['h100-1', 'mi355x-1']);
    expect(sections.get('h100-1')).toContain('Tensor-likes are not close');
    expect(outcome).toMatchObject({ verdict: 'failed', exitCode: 1 });
    // one check run per commit: the second report updates it
    const runs = [...fake.checkRuns.values()];
    expect(runs.map((r) => r.conclusion)).toEqual(['failure']);
    expect(fake.calls('checks/update')).toHaveLength(1);
  });

  it('a correctness failure fails the check run and the run', async () => {
    await writeResults([fullRun({ runner: 'h100-1', failCases: 1 })]);
    const outcome = await runReport(config(), testHost(await pullRequestEvent()), fast);
    expect(outcome).toMatchObject({ verdict: 'failed', exitCode: 1 });
    expect(outcome.failure).toContain('correctness case failed on h100-1');
    expect([...fake.checkRuns.values()][0].conclusion).toBe('failure');
  });

  it('annotates the check run at the failing case and the drifted patch site', async () => {
    const run = fullRun({ runner: 'h100-1' });
    run.tests?.push({
      id: 'fused_shared_expert_gate/test_conformance.py::test_sliced_rows',
      status: 'failed',
      seconds: 1,
      message: 'AssertionError: rows differ',
      file: 'fused_shared_expert_gate/test_conformance.py',
      line: 114,
    });
    run.patch = {
      sites: [
        {
          file: 'vllm/model_executor/models/qwen2_moe.py',
          line: 121,
          status: 'unmatched',
          source: 'out = torch.sigmoid(g) * out',
          reason: 'sigmoid of a gate module in no known form',
        },
      ],
      copied: [],
      coveredModels: [],
    };
    await writeResults([run]);
    await runReport(config(), testHost(await pullRequestEvent()), fast);
    expect([...fake.checkRuns.values()][0].annotations).toEqual([
      {
        path: 'fused_shared_expert_gate/test_conformance.py',
        start_line: 114,
        end_line: 114,
        annotation_level: 'failure',
        title: 'test_sliced_rows failed on h100-1',
        message: 'AssertionError: rows differ',
      },
      {
        path: 'vllm/model_executor/models/qwen2_moe.py',
        start_line: 121,
        end_line: 121,
        annotation_level: 'failure',
        title: 'patch site unmatched on h100-1',
        message: 'sigmoid of a gate module in no known form: out = torch.sigmoid(g) * out',
      },
    ]);
  });

  it('a regression fails the gate only with fail-on-regression', async () => {
    await writeResults([fullRun({ runner: 'h100-1', change: -0.08 })]);
    const lenient = await runReport(config(), testHost(await pullRequestEvent()), fast);
    expect(lenient).toMatchObject({ verdict: 'regressed', exitCode: 0 });
    const strict = await runReport(
      config({ 'fail-on-regression': 'true' }),
      testHost(await pullRequestEvent()),
      fast,
    );
    expect(strict).toMatchObject({ verdict: 'regressed', exitCode: 1 });
    expect(fake.calls('checks/update').map((c) => (c.body as { conclusion?: string }).conclusion)).toEqual([
      'failure',
    ]);
    expect([...fake.checkRuns.values()].map((r) => r.conclusion)).toEqual(['failure']);
  });

  it('16 runners × the full matrix fit in one comment GitHub accepts', async () => {
    const runners = Array.from({ length: 16 }, (_, i) =>
      fullRun({
        runner: `runner-${String(i).padStart(2, '0')}`,
        seed: i + 1,
        failCases: i % 5 === 0 ? 3 : 0,
      }),
    );
    await writeResults(runners);
    const outcome = await runReport(config(), testHost(await pullRequestEvent()), fast);
    expect(comments()).toHaveLength(1);
    const body = comments()[0].body;
    expect(body.length).toBeLessThanOrEqual(65_536);
    expect(fake.calls('issues/create-comment').map((c) => c.status)).toEqual([201]);
    expect(outcome.failure).toContain('correctness cases failed on runner-00');
    const full = await readFile(outcome.reportPath ?? '', 'utf8');
    expect(full.length).toBeGreaterThan(body.length);
  });
});

describe('two report jobs at once', () => {
  it('end with one comment holding both runners, and check runs that all say so', async () => {
    await fake.close();
    // random latency interleaves the jobs' requests differently on each run
    fake = await startFakeGitHub({ latency: () => Math.random() * 20 });
    fake.addPullRequest('example/vllm', { number: PR, headSha: HEAD });
    // each job has its own workspace; they are set up one after the other, then run at once
    const job = async (runner: string, seed: number) => {
      dir = await tempDir('vkci-report-');
      await writeResults([fullRun({ runner, seed })]);
      const host = testHost(await pullRequestEvent());
      const cfg = config();
      return () => runReport(cfg, host, fast);
    };
    const jobs = [await job('h100-1', 1), await job('mi355x-1', 2)];
    const outcomes = await Promise.all(jobs.map((run) => run()));
    expect(comments()).toHaveLength(1);
    expect([...parseCommentSections(comments()[0].body).keys()].sort()).toEqual(['h100-1', 'mi355x-1']);
    expect(outcomes.map((o) => o.commentUrl)).toEqual([outcomes[0].commentUrl, outcomes[0].commentUrl]);
    // one check run, or one each when both jobs looked before either created it: then they say the same
    const checks = [...fake.checkRuns.values()];
    expect(checks.length).toBeGreaterThanOrEqual(1);
    expect(checks.length).toBeLessThanOrEqual(2);
    expect(new Set(checks.map((c) => `${c.conclusion} ${c.output.title}`)).size).toBe(1);
    for (const runner of ['h100-1', 'mi355x-1']) expect(checks[0].output.summary).toContain(runner);
  });
});

describe('the job summary', () => {
  it("stays under GitHub's 1 MiB when the full report does not, and report.md keeps it all", async () => {
    const tail = Array.from(
      { length: 200 },
      (_, i) => `line ${i}: Traceback, CUDA error: an illegal memory access`,
    ).join('\n');
    const runners = Array.from({ length: 40 }, (_, i) => {
      const r = fullRun({ runner: `runner-${String(i).padStart(2, '0')}`, seed: i + 1, failCases: 5 });
      r.steps = r.steps.map((s) => ({ ...s, status: 'failed' as const, reason: 'exit 1', logTail: tail }));
      return r;
    });
    await writeResults(runners);
    const host = testHost(await pullRequestEvent());
    const outcome = await runReport(config({ 'github-token': '' }), host, fast);
    const full = await readFile(outcome.reportPath ?? '', 'utf8');
    expect(Buffer.byteLength(full)).toBeGreaterThan(SUMMARY_MAX_BYTES);
    expect(Buffer.byteLength(host.summaries[0])).toBeLessThanOrEqual(SUMMARY_MAX_BYTES);
    expect(host.summaries[0]).toContain('`report.md`');
    expect(host.summaries[0]).toContain('runner-00');
  });
});

describe('tokens that cannot write', () => {
  it('a read-only token is not an error: summary and report.md are written, with a warning saying what to change', async () => {
    await writeResults([fullRun({ runner: 'h100-1' })]);
    const host = testHost(await pullRequestEvent());
    const outcome = await runReport(config({ 'github-token': READ_TOKEN }), host, fast);
    expect(outcome).toMatchObject({ verdict: expect.any(String), exitCode: 0, commentUrl: undefined });
    expect(comments()).toEqual([]);
    expect(host.summaries[0]).toContain('h100-1');
    expect(host.warnings.join('\n')).toContain('`permissions: pull-requests: write`');
    expect(host.warnings.join('\n')).toContain('`permissions: checks: write`');
    expect(fake.calls('issues/create-comment').map((c) => c.status)).toEqual([403]);
  });

  it('without a token, nothing is sent to GitHub', async () => {
    await writeResults([fullRun({ runner: 'h100-1' })]);
    const host = testHost(await pullRequestEvent());
    const outcome = await runReport(config({ 'github-token': '' }), host, fast);
    expect(outcome.exitCode).toBe(0);
    expect(fake.requests).toEqual([]);
    expect(host.infos.join()).toContain('No github-token');
  });
});

describe('workflow_run (a fork PR): artifacts are untrusted', () => {
  it('finds the PR, checks it against the run, then publishes', async () => {
    await writeResults([fullRun({ runner: 'h100-1' })]);
    const host = testHost(await forkWorkflowRun());
    const outcome = await runReport(config(), host, fast);
    expect(host.warnings).toEqual([]);
    expect(comments()).toHaveLength(1);
    expect(outcome.commentUrl).toContain(`/pull/${PR}#issuecomment-`);
    // once to check it against the run, once for its changed_files beside the listed files
    expect(fake.calls('pulls/get')).toHaveLength(2);
  });

  it('refuses a RunResult for another head SHA and fails the run, saying why', async () => {
    const stale = fullRun({ runner: 'h100-1' });
    stale.identity.headSha = 'e'.repeat(40);
    await writeResults([stale, fullRun({ runner: 'mi355x-1' })]);
    const host = testHost(await forkWorkflowRun());
    const outcome = await runReport(config(), host, fast);
    expect(outcome.exitCode).toBe(1);
    expect(outcome.failure).toContain('1 RunResult was refused');
    expect([...parseCommentSections(comments()[0].body).keys()]).toEqual(['mi355x-1']);
    const report = await readFile(outcome.reportPath ?? '', 'utf8');
    expect(report).toContain('## Refused RunResults');
    expect(report).toContain(`e${'e'.repeat(39)}`);
  });

  it('does not comment when the PR the artifact names has moved on to another head', async () => {
    await writeResults([fullRun({ runner: 'h100-1' })]);
    fake.addPullRequest('example/vllm', {
      number: PR,
      headSha: 'd'.repeat(40),
      headRef: 'fused-gate',
      headRepo: 'contributor/vllm',
    });
    const host = testHost(await forkWorkflowRun());
    const outcome = await runReport(config(), host, fast);
    expect(comments()).toEqual([]);
    expect(host.warnings.join()).toContain(`Pull request #${PR} is not the one workflow run 777 validated`);
    // the gate still reports on the commit that was validated
    expect([...fake.checkRuns.values()][0].headSha).toBe(HEAD);
    expect(outcome.commentUrl).toBeUndefined();
  });

  it('a RunResult without a PR number is matched to the fork PR by head branch and SHA', async () => {
    const r = fullRun({ runner: 'h100-1' });
    delete r.identity.pr;
    // without a PR in the artifact, expectedPr is unset too
    await writeResults([r]);
    const outcome = await runReport(config(), testHost(await forkWorkflowRun()), fast);
    expect(fake.calls('pulls/list')).toHaveLength(1);
    expect(outcome.commentUrl).toContain(`/pull/${PR}#`);
  });
});

describe('nothing to report', () => {
  it('no file matches: not-available, exit 1, a message saying where it looked and what to do', async () => {
    const host = testHost(await pullRequestEvent());
    const outcome = await runReport(config(), host, fast);
    expect(outcome).toMatchObject({ verdict: 'not-available', exitCode: 1 });
    expect(outcome.failure).toMatch(/No RunResult matched results '.*run-result\.json'/);
    expect(await readFile(outcome.reportPath ?? '', 'utf8')).toContain('No RunResults');
    expect(fake.requests).toEqual([]);
  });
});
