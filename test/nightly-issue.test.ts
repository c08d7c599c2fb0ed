import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { createOctokit } from '../src/github/client.js';
import { githubIssueTracker, parseRepoRef } from '../src/github/issue.js';
import type { Host } from '../src/host.js';
import { nightlyTarget, runNightlyWith } from '../src/modes/nightly.js';
import { gitHistoryStore } from '../src/nightly/history-git.js';
import { ISSUE_LABEL, issueMarker } from '../src/nightly/issue-body.js';
import { publishRegressionIssue } from '../src/nightly/publish.js';
import { historyRecordFrom } from '../src/nightly/record.js';
import { DEFAULT_TREND, runnerTrend } from '../src/nightly/trend.js';
import { inlineMarkdown } from '../src/report/markdown.js';
import { gitInit, tempDir } from './helpers.js';
import { fakeSha, H200, nightDate, seededRandom, simulatedRunResult } from './nightly-sim.js';
import { type FakeGitHub, READ_TOKEN, startFakeGitHub, WRITE_TOKEN } from './support/fake-github.js';

const REPO = 'example/vllm-kernel-ci';
let fake: FakeGitHub | undefined;

afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

function driftTrend(runner: string) {
  const random = seededRandom(3);
  const records = [0, 1].map((i) =>
    historyRecordFrom(
      simulatedRunResult({
        night: nightDate('2026-11-01', i),
        runner,
        device: H200,
        vllmSha: fakeSha(i + 1),
        noise: 0.01,
        random,
        drift: i === 1,
      }),
    ),
  );
  return runnerTrend(records, { ...DEFAULT_TREND, thresholdPct: 2 });
}

const textOptions = {
  bundle: 'fused_shared_expert_gate',
  night: '2026-11-02',
  thresholdPct: 2,
  inert: (t: string) => inlineMarkdown(t),
};

describe('regression issue on GitHub', () => {
  it('ends with one open issue when two runners open it at the same time', async () => {
    // latency interleaves the two runners' list and create calls
    fake = await startFakeGitHub({ latency: () => 5 });
    fake.addRepo(REPO);
    const tracker = () =>
      githubIssueTracker(
        createOctokit(WRITE_TOKEN, { baseUrl: fake?.url, writeSpacingMs: 0 }),
        parseRepoRef(REPO),
      );
    const [a, b] = await Promise.all([
      publishRegressionIssue(tracker(), [driftTrend('h200-1')], textOptions),
      publishRegressionIssue(tracker(), [driftTrend('mi355x-1')], textOptions),
    ]);
    expect(fake.calls('issues/create')).toHaveLength(2);
    const issues = fake.issues(REPO);
    expect(issues.map((i) => [i.number, i.state, i.stateReason])).toEqual([
      [1, 'open', null],
      [2, 'closed', 'duplicate'],
    ]);
    expect(fake.commentsOn(REPO, 2).map((c) => c.body)).toEqual([
      'Duplicate of #1: two nightly runs opened it at the same time.',
    ]);
    expect(a.issue?.number).toBe(1);
    expect(b.issue?.number).toBe(1);
    expect([...a.duplicatesClosed, ...b.duplicatesClosed]).toContain(2);
    expect(fake.requests.filter((r) => r.problem)).toEqual([]);
  });

  it('finds its issue by label and marker, not by title, and ignores pull requests', async () => {
    fake = await startFakeGitHub();
    fake.addRepo(REPO);
    fake.addPullRequest(REPO, { number: 1, headSha: 'a'.repeat(40) });
    const tracker = githubIssueTracker(
      createOctokit(WRITE_TOKEN, { baseUrl: fake.url, writeSpacingMs: 0 }),
      parseRepoRef(REPO),
    );
    const marker = issueMarker('fused_shared_expert_gate');
    await tracker.create(
      'Nightly regression: fused_shared_expert_gate on vLLM main',
      'no marker',
      ISSUE_LABEL,
    );
    const mine = await tracker.create('renamed by a maintainer', `${marker}\nbody`, ISSUE_LABEL);
    await tracker.create('other bundle', `${issueMarker('other')}\nbody`, ISSUE_LABEL);
    expect((await tracker.findOpen(ISSUE_LABEL, marker)).map((i) => i.number)).toEqual([mine.number]);
  });

  it('still writes the history and the report with a read-only token, and says which permission is missing', async () => {
    fake = await startFakeGitHub();
    fake.addRepo(REPO);
    const remote = await tempDir('vkci-remote-');
    await gitInit(remote, '--bare');
    const out = await tempDir('vkci-out-');
    const config = parseConfig(
      (name) => ({ mode: 'nightly', 'output-dir': out, 'github-token': READ_TOKEN })[name],
    );
    const warnings: string[] = [];
    const host: Host = {
      info: () => {},
      warning: (m) => warnings.push(m),
      group: (_n, fn) => fn(),
      setOutput: () => {},
      summary: async () => {},
      setSecret: () => {},
      env: {},
    };
    const history = gitHistoryStore({
      remote,
      branch: config.nightly.historyBranch,
      workDir: join(await tempDir('vkci-clone-'), 'h'),
      retentionDays: 60,
    });
    const result = simulatedRunResult({
      night: '2026-11-02',
      runner: 'h200-1',
      device: H200,
      vllmSha: fakeSha(2),
      noise: 0.01,
      random: seededRandom(1),
      drift: true,
    });
    const seen: string[] = [];
    const outcome = await runNightlyWith(config, host, {
      validate: async (c) => {
        seen.push(`${c.vllm.repository}@${c.vllm.ref}`);
        return { result };
      },
      history,
      issues: githubIssueTracker(
        createOctokit(READ_TOKEN, { baseUrl: fake.url, writeSpacingMs: 0 }),
        parseRepoRef(REPO),
      ),
    });
    expect(seen).toEqual(['vllm-project/vllm@main']);
    expect(outcome.verdict).toBe('failed');
    expect(outcome.exitCode).toBe(1);
    expect(outcome.failure).toMatch(/^Updating the regression issue failed: .*permissions: issues: write/);
    expect(warnings.some((w) => w.includes('permissions: issues: write'))).toBe(true);
    expect((await history.read()).records).toHaveLength(1);
    const report = await readFile(join(out, 'nightly.md'), 'utf8');
    expect(report).toContain('**Patch drift**');
    expect(report).toContain('> **Nightly problem:** Updating the regression issue failed');
    expect(fake.issues(REPO)).toEqual([]);
  });

  it('without a token writes the history, leaves the issue alone, and fails a night whose checkout failed', async () => {
    const remote = await tempDir('vkci-remote-');
    await gitInit(remote, '--bare');
    const out = await tempDir('vkci-out-');
    const config = parseConfig((name) => ({ mode: 'nightly', 'output-dir': out })[name]);
    const warnings: string[] = [];
    const host: Host = {
      info: () => {},
      warning: (m) => warnings.push(m),
      group: (_n, fn) => fn(),
      setOutput: () => {},
      summary: async () => {},
      setSecret: () => {},
      env: {},
    };
    const history = gitHistoryStore({
      remote,
      branch: config.nightly.historyBranch,
      workDir: join(await tempDir('vkci-clone-'), 'h'),
      retentionDays: 60,
    });
    const result = simulatedRunResult({
      night: '2026-11-03',
      runner: 'h200-1',
      device: H200,
      vllmSha: fakeSha(3),
      noise: 0.01,
      random: seededRandom(1),
      checkoutFailed: true,
    });
    const outcome = await runNightlyWith(config, host, { validate: async () => ({ result }), history });
    expect(outcome).toMatchObject({ verdict: 'failed', exitCode: 1 });
    expect(outcome.failure).toBe(
      "Nightly on h200-1: the run stopped at checkout; see the report for the step's log.",
    );
    expect(warnings).toEqual([
      'No github-token: the nightly history is written but the regression issue is not updated.',
    ]);
    const [line] = (await history.read()).records;
    expect(line).toMatchObject({
      failedSteps: ['checkout'],
      checked: { patch: false, tests: false },
      cells: [],
    });
    expect(await readFile(join(out, 'nightly.md'), 'utf8')).toContain(
      '- no measurement on 2026-11-03 (h200-1): checkout failed',
    );
  });

  it('validates vLLM main when the repository input was left at pypi, and keeps any other choice', () => {
    const base = parseConfig((name) => ({ mode: 'nightly' })[name]);
    expect(nightlyTarget(base).vllm).toEqual({ repository: 'vllm-project/vllm', ref: 'main' });
    const fork = parseConfig(
      (name) => ({ mode: 'nightly', 'vllm-repository': 'me/vllm', 'vllm-ref': 'nightly-base' })[name],
    );
    expect(nightlyTarget(fork).vllm).toEqual({ repository: 'me/vllm', ref: 'nightly-base' });
  });

  it('names GITHUB_REPOSITORY when it is malformed', () => {
    expect(() => parseRepoRef('not a repo')).toThrow(
      "Invalid repository 'not a repo'. Expected format {owner}/{repo} in GITHUB_REPOSITORY",
    );
  });
});
