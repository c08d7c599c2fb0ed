// The two stages and a cancel, event by event, against the GitHub double: push A; kernel A reports; push B while
// e2e A runs; e2e A is cancelled; kernel B; e2e B. After each report the PR comment holds exactly the sections it
// should (runner, stage, commit, state), the check run of each commit is where it should be, and a report job run
// twice for one event changes nothing.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import type { Host } from '../src/host.js';
import { runReport } from '../src/modes/report.js';
import { sectionMeta } from '../src/report/render.js';
import type { RunResult, StepName } from '../src/results/run-result.js';
import { tempDir } from './helpers.js';
import { fullRun } from './report-fixtures.js';
import { type FakeGitHub, startFakeGitHub, WRITE_TOKEN } from './support/fake-github.js';

const A = `${'a'.repeat(39)}1`;
const B = `${'b'.repeat(39)}2`;
const PR = 43190;
const REPO = 'example/vllm';
const RUNNERS = ['h100', 'mi355x'];
const fast = { client: { retryUnitMs: 5, writeSpacingMs: 0 }, sticky: { jitterMs: 10, settleMs: 40 } };
const KERNEL_STEPS: StepName[] = ['compile', 'kernel-tests', 'microbench'];

function host(env: Record<string, string>): Host & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    warnings,
    info: () => {},
    warning: (m) => warnings.push(m),
    group: (_name, fn) => fn(),
    setOutput: () => {},
    summary: async () => {},
    setSecret: () => {},
    env,
  };
}

function withSteps(
  r: RunResult,
  status: (name: StepName) => RunResult['steps'][number]['status'],
  why: string,
) {
  r.steps = r.steps.map((s) => {
    const st = status(s.name);
    return st === s.status ? s : { name: s.name, status: st, seconds: 0, reason: why };
  });
  return r;
}

/** What the kernel stage on one runner uploads: checkout to microbench, and the e2e's plan. */
function kernelStage(runner: string, sha: string, finishedAt: string): RunResult {
  const r = fullRun({ runner, seed: runner.length });
  r.stage = 'kernel';
  r.e2ePlanMinutes = 220;
  r.identity = { ...r.identity, headSha: sha, startedAt: '2026-12-03T13:55:00Z', finishedAt };
  delete r.e2e;
  return withSteps(
    r,
    (n) => (n === 'install' || n === 'e2e' ? 'skipped' : 'passed'),
    'stage kernel: part of the e2e stage',
  );
}

/** What the e2e stage uploads: the A/B, or (cancelled) what finished before the signal. */
function e2eStage(runner: string, sha: string, finishedAt: string, cancelled = false): RunResult {
  const r = fullRun({ runner, seed: runner.length });
  r.stage = 'e2e';
  r.identity = { ...r.identity, headSha: sha, startedAt: '2026-12-03T14:03:00Z', finishedAt };
  delete r.tests;
  delete r.microbench;
  withSteps(
    r,
    (n) => (KERNEL_STEPS.includes(n) ? 'skipped' : 'passed'),
    'stage e2e: part of the kernel stage',
  );
  if (cancelled) {
    delete r.e2e;
    r.cancelled = { signal: 'SIGTERM', at: finishedAt, step: 'e2e' };
    r.steps = r.steps.map((s) =>
      s.name === 'e2e' ? { ...s, status: 'cancelled', reason: 'cancelled (SIGTERM) while it ran' } : s,
    );
  }
  return r;
}

let fake: FakeGitHub;
let dir: string;
let event = 0;

beforeEach(async () => {
  fake = await startFakeGitHub();
  dir = await tempDir('vkci-timeline-');
  event = 0;
});
afterEach(async () => {
  expect(fake.rejections()).toEqual([]);
  await fake.close();
});

/** One report job: the workflow_run of a stage's workflow, with that run's artifacts only. */
async function report(
  headSha: string,
  results: RunResult[],
  conclusion: 'success' | 'cancelled' | 'failure' = 'success',
  runId = 0,
) {
  const at = join(dir, `event-${++event}`);
  await mkdir(at, { recursive: true });
  for (const r of results) {
    await mkdir(join(at, 'results', r.identity.runner), { recursive: true });
    await writeFile(join(at, 'results', r.identity.runner, 'run-result.json'), JSON.stringify(r));
  }
  await writeFile(
    join(at, 'event.json'),
    JSON.stringify({
      repository: { full_name: REPO },
      workflow_run: {
        id: runId || 500 + event,
        event: 'pull_request',
        conclusion,
        updated_at: '2026-12-03T14:40:00Z',
        head_sha: headSha,
        head_branch: 'fused-gate',
        head_repository: { full_name: REPO, owner: { login: 'example' } },
        // GitHub lists the PR only while the run's commit is its head
        pull_requests:
          fake.issues(REPO)[0].pull?.headSha === headSha ? [{ number: PR, head: { sha: headSha } }] : [],
      },
    }),
  );
  const h = host({
    GITHUB_EVENT_NAME: 'workflow_run',
    GITHUB_EVENT_PATH: join(at, 'event.json'),
    GITHUB_REPOSITORY: REPO,
    GITHUB_RUN_ID: String(900 + event),
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_API_URL: fake.url,
  });
  const config = parseConfig(
    (name) =>
      ({
        mode: 'report',
        results: join(at, 'results/**/run-result.json'),
        'output-dir': join(at, 'out'),
        'github-token': WRITE_TOKEN,
      })[name],
  );
  const outcome = await runReport(config, h, fast);
  expect(h.warnings).toEqual([]);
  return outcome;
}

const body = () => {
  const all = fake.commentsOn(REPO, PR);
  expect(all).toHaveLength(1);
  return all[0].body;
};

/** The comment as a list: runner, stage, commit (A or B) and state of every section it shows, in order. */
function sections(text: string): string[] {
  return [...text.matchAll(/<!-- vllm-kernel-ci:runner=[^>]*-->/g)].map((m) => {
    const meta = sectionMeta(m[0]);
    const commit = meta?.sha === A ? 'A' : meta?.sha === B ? 'B' : '?';
    return `${meta?.runner} ${meta?.stage} ${commit} ${meta?.cancelled ? 'cancelled' : meta?.verdict}`;
  });
}

const check = (sha: string) => {
  const runs = [...fake.checkRuns.values()].filter((r) => r.headSha === sha);
  expect(runs).toHaveLength(1);
  return runs[0];
};

describe('two stages and a cancel, as the PR comment and the check runs show them', () => {
  it('push A; kernel A; push B during e2e A; e2e A cancelled; kernel B; e2e B', async () => {
    // push A: nothing has reported yet
    fake.addPullRequest(REPO, { number: PR, headSha: A, headRef: 'fused-gate' });
    expect(fake.commentsOn(REPO, PR)).toEqual([]);

    // kernel A done on both runners: correctness and kernel speed, and the e2e running, before any e2e
    const kernelA = RUNNERS.map((r) => kernelStage(r, A, '2026-12-03T14:02:00Z'));
    await report(A, kernelA);
    const afterKernelA = body();
    expect(sections(afterKernelA)).toEqual(['h100 kernel A passed', 'mi355x kernel A passed']);
    expect(afterKernelA).toContain('**e2e**: running on mi355x since 14:02 UTC (plan: 3 h 40 min).');
    expect(afterKernelA).toContain('**e2e**: running on h100 since 14:02 UTC (plan: 3 h 40 min).');
    expect(afterKernelA).toContain('#### Correctness');
    expect(afterKernelA).toContain('#### Kernel');
    expect(afterKernelA).not.toContain('#### End to end');
    expect(afterKernelA).not.toContain('Superseded');
    expect(check(A)).toMatchObject({ status: 'in_progress', conclusion: null });
    expect(check(A).output.title).toMatch(/^Kernel stage: .*; e2e running$/);
    expect(check(A).output.summary).toContain('**e2e**: running on mi355x');

    // the same report job again: nothing changes
    await report(A, kernelA);
    expect(body()).toBe(afterKernelA);
    expect(check(A)).toMatchObject({ status: 'in_progress', conclusion: null });

    // push B while e2e A runs: the comment is as it was until a stage reports
    fake.pushPullRequest(REPO, PR, B);
    expect(body()).toBe(afterKernelA);

    // e2e A cancelled (the kernel stage of B took its runners): A's sections, shown as superseded
    const e2eA = RUNNERS.map((r) => e2eStage(r, A, '2026-12-03T14:31:00Z', true));
    await report(A, e2eA, 'cancelled');
    const afterCancel = body();
    expect(sections(afterCancel)).toEqual([
      'h100 kernel A passed',
      'h100 e2e A cancelled',
      'mi355x kernel A passed',
      'mi355x e2e A cancelled',
    ]);
    expect(
      afterCancel.match(
        /Superseded: commit `aaaaaaaaaaaa` is not the pull request's head \(`bbbbbbbbbbbb`\)/g,
      ),
    ).toHaveLength(2);
    expect(afterCancel).toContain('🛑 cancelled (SIGTERM during e2e); what finished is below');
    expect(afterCancel).not.toContain('running on');
    expect(check(A)).toMatchObject({ status: 'completed', conclusion: 'cancelled' });
    await report(A, e2eA, 'cancelled');
    expect(body()).toBe(afterCancel);

    // kernel B: B's kernel only (A's sections are gone), the e2e running again
    const kernelB = RUNNERS.map((r) => kernelStage(r, B, '2026-12-03T14:36:00Z'));
    await report(B, kernelB);
    const afterKernelB = body();
    expect(sections(afterKernelB)).toEqual(['h100 kernel B passed', 'mi355x kernel B passed']);
    expect(afterKernelB).toContain('**e2e**: running on mi355x since 14:36 UTC (plan: 3 h 40 min).');
    expect(afterKernelB).not.toContain('Superseded');
    expect(afterKernelB).not.toContain('aaaaaaaaaaaa');
    expect(check(B)).toMatchObject({ status: 'in_progress', conclusion: null });
    expect(check(A)).toMatchObject({ status: 'completed', conclusion: 'cancelled' });

    // e2e B: B's kernel and e2e sections only, the check run completed with the verdict
    const e2eB = RUNNERS.map((r) => e2eStage(r, B, '2026-12-03T18:10:00Z'));
    const outcome = await report(B, e2eB);
    const final = body();
    expect(sections(final)).toEqual([
      'h100 kernel B passed',
      'h100 e2e B improved',
      'mi355x kernel B passed',
      'mi355x e2e B improved',
    ]);
    expect(final).toContain('#### End to end');
    expect(final).not.toContain('running on');
    expect(final).not.toContain('Superseded');
    expect(final).not.toContain('aaaaaaaaaaaa');
    expect(outcome).toMatchObject({ verdict: 'improved', exitCode: 0 });
    expect(check(B)).toMatchObject({ status: 'completed', conclusion: 'success' });
    await report(B, e2eB);
    expect(body()).toBe(final);
    expect(check(B)).toMatchObject({ status: 'completed', conclusion: 'success' });
    expect(fake.commentsOn(REPO, PR)).toHaveLength(1);
  });

  it("a stale stage of A that lands after B's kernel changes nothing in the comment", async () => {
    fake.addPullRequest(REPO, { number: PR, headSha: A, headRef: 'fused-gate' });
    await report(
      A,
      RUNNERS.map((r) => kernelStage(r, A, '2026-12-03T14:02:00Z')),
    );
    fake.pushPullRequest(REPO, PR, B);
    await report(
      B,
      RUNNERS.map((r) => kernelStage(r, B, '2026-12-03T14:36:00Z')),
    );
    const before = body();
    // A's e2e report is late (its upload took longer than B's kernel stage)
    await report(
      A,
      RUNNERS.map((r) => e2eStage(r, A, '2026-12-03T14:31:00Z', true)),
      'cancelled',
    );
    expect(body()).toBe(before);
    expect(sections(before)).toEqual(['h100 kernel B passed', 'mi355x kernel B passed']);
    expect(check(A)).toMatchObject({ status: 'completed', conclusion: 'cancelled' });
    expect(check(B)).toMatchObject({ status: 'in_progress' });
  });

  it('a failed kernel stage says the e2e is skipped, and its check run completes as failed', async () => {
    fake.addPullRequest(REPO, { number: PR, headSha: A, headRef: 'fused-gate' });
    const broken = kernelStage('mi355x', A, '2026-12-03T14:02:00Z');
    broken.tests?.push({ id: 'test_conformance.py::test_rows[bf16-1024-7]', status: 'failed', seconds: 1 });
    const outcome = await report(A, [broken, kernelStage('h100', A, '2026-12-03T14:02:00Z')]);
    expect(outcome.exitCode).toBe(1);
    expect(body()).toContain('**e2e**: skipped: the kernel stage did not pass on mi355x.');
    expect(body()).toContain('**e2e**: running on h100');
    // one runner's e2e still follows, but the commit already fails: the gate does not wait for it
    expect(check(A)).toMatchObject({ status: 'completed', conclusion: 'failure' });
  });
});

describe('a stage whose job ends before it uploads', () => {
  for (const [conclusion, state, exitCode] of [
    ['failure', 'failure', 1],
    ['cancelled', 'cancelled', 0],
  ] as const)
    it(`${conclusion}: the comment's e2e says so instead of "running", and the check run completes`, async () => {
      fake.addPullRequest(REPO, { number: PR, headSha: A, headRef: 'fused-gate' });
      await report(
        A,
        RUNNERS.map((r) => kernelStage(r, A, '2026-12-03T14:02:00Z')),
      );
      expect(body()).toContain('**e2e**: running on h100');
      expect(check(A)).toMatchObject({ status: 'in_progress', conclusion: null });
      // the e2e workflow's run ends with no artifact: the job died, or was cancelled before its upload
      const outcome = await report(A, [], conclusion, 777);
      expect(outcome.exitCode).toBe(exitCode);
      expect(body()).not.toContain('**e2e**: running');
      const words = conclusion === 'cancelled' ? 'cancelled' : 'not-available';
      expect(sections(body())).toEqual([
        'h100 kernel A passed',
        `h100 e2e A ${words}`,
        'mi355x kernel A passed',
        `mi355x e2e A ${words}`,
      ]);
      expect(body()).toContain(
        `The e2e stage's workflow run 777 ended (${conclusion}) at 14:40 UTC before mi355x uploaded a RunResult`,
      );
      expect(check(A)).toMatchObject({ status: 'completed', conclusion: state });
      expect(check(A).output.summary).toContain('workflow run 777 ended');
      // the same event reported twice changes nothing
      const again = body();
      await report(A, [], conclusion, 777);
      expect(body()).toBe(again);
    });

  it('one runner of the e2e uploaded and the other died: only the dead one is marked, and the check completes', async () => {
    fake.addPullRequest(REPO, { number: PR, headSha: A, headRef: 'fused-gate' });
    await report(
      A,
      RUNNERS.map((r) => kernelStage(r, A, '2026-12-03T14:02:00Z')),
    );
    await report(A, [e2eStage('h100', A, '2026-12-03T14:30:00Z')], 'failure', 778);
    expect(sections(body())).toEqual([
      'h100 kernel A passed',
      expect.stringMatching(/^h100 e2e A (?!not-available)/),
      'mi355x kernel A passed',
      'mi355x e2e A not-available',
    ]);
    expect(body()).toContain('before mi355x uploaded a RunResult');
    expect(body()).not.toContain('before h100 uploaded');
    expect(check(A)).toMatchObject({ status: 'completed', conclusion: 'failure' });
  });

  it('a kernel stage run that fails on one runner leaves the e2e of the other running', async () => {
    fake.addPullRequest(REPO, { number: PR, headSha: A, headRef: 'fused-gate' });
    // mi355x's kernel job died before its upload: the workflow run fails, h100's result is in it
    await report(A, [kernelStage('h100', A, '2026-12-03T14:02:00Z')], 'failure', 779);
    expect(body()).toContain('**e2e**: running on h100');
    expect(sections(body())).toEqual(['h100 kernel A passed']);
    expect(check(A)).toMatchObject({ status: 'in_progress' });
  });
});
