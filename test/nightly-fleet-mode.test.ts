// An ephemeral fleet through the real nightly mode: real git history on a local bare repository, the issue on
// the GitHub double (every request checked against GitHub's OpenAPI description), a maintainer acting on it.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Config, parseConfig } from '../src/config.js';
import { createOctokit } from '../src/github/client.js';
import { githubIssueTracker } from '../src/github/issue.js';
import type { Host, ModeOutcome } from '../src/host.js';
import { runNightlyWith } from '../src/modes/nightly.js';
import { gitHistoryStore } from '../src/nightly/history-git.js';
import type { HistoryRecord } from '../src/nightly/record.js';
import type { Device } from '../src/results/run-result.js';
import { gitInit, tempDir } from './helpers.js';
import { fakeSha, H200, nightDate, seededRandom, simulatedRunResult } from './nightly-sim.js';
import { type FakeGitHub, startFakeGitHub, WRITE_TOKEN } from './support/fake-github.js';

const REPO = 'example/vllm-kernel-ci';
const START = '2026-10-01';
const MI355X: Device = {
  vendor: 'amd',
  name: 'AMD Instinct MI355X',
  count: 1,
  driver: '6.14.14',
  torch: '2.11.0',
  triton: '3.6.0',
};
// the story (night index from 0): an H200 pool on ephemeral runners, its jobs landing on two cards in turn
const REGRESSION = 10;
const CHECKOUT_FAILED = 12;
const NOT_PLANNED_AFTER = 13;
const FURTHER = 18;
const RETIRED_AFTER = 19;
const LAST = 27;
const CARDS = ['a0a0a0a0a0a0', 'b0b0b0b0b0b0'];

let fake: FakeGitHub;
let history: HistoryRecord[] = [];
const outcomes = new Map<number, ModeOutcome>();
const openAfter: number[][] = [];
const reports = new Map<number, string>();

describe('an ephemeral fleet through the nightly mode', () => {
  beforeAll(async () => {
    fake = await startFakeGitHub();
    fake.addRepo(REPO);
    const remote = await tempDir('vkci-remote-');
    await gitInit(remote, '--bare');
    const out = join(remote, '..', 'vkci-fleet-out');
    const config: Config = parseConfig(
      (name) =>
        ({
          mode: 'nightly',
          'vllm-repository': 'vllm-project/vllm',
          'vllm-ref': 'main',
          'output-dir': out,
          'github-token': WRITE_TOKEN,
        })[name],
    );
    const octokit = createOctokit(WRITE_TOKEN, { baseUrl: fake.url, writeSpacingMs: 0, retryUnitMs: 1 });
    const issues = githubIssueTracker(octokit, { owner: 'example', repo: 'vllm-kernel-ci' });
    const store = gitHistoryStore({
      remote,
      branch: config.nightly.historyBranch,
      workDir: join(await tempDir('vkci-fleet-'), 'history'),
      retentionDays: config.nightly.historyDays,
    });
    const random = seededRandom(5);
    const host = (runner: string): Host => ({
      info: () => {},
      warning: () => {},
      group: (_name, fn) => fn(),
      setOutput: () => {},
      summary: async (text) => {
        reports.set(reports.size, `${runner}\n${text}`);
      },
      setSecret: () => {},
      env: { GITHUB_REPOSITORY: REPO },
    });
    for (let i = 0; i <= LAST; i++) {
      const runs: {
        runner: string;
        device: Device;
        stepFactor?: number;
        kernelFactor?: number;
        checkoutFailed?: boolean;
      }[] = [];
      if (i <= RETIRED_AFTER) {
        const card = CARDS[i % 2];
        const runner = `eph-${i}-h200`;
        runs.push(
          i === CHECKOUT_FAILED
            ? { runner, device: { vendor: 'unknown', name: 'unknown', count: 0 }, checkoutFailed: true }
            : {
                runner,
                device: { ...H200, host: runner, card },
                // the second card runs 5% slower than the first
                kernelFactor: card === CARDS[1] ? 1.05 : 1,
                stepFactor: i >= FURTHER ? 1.1 * 1.1 : i >= REGRESSION ? 1.1 : 1,
              },
        );
      }
      if (i > RETIRED_AFTER) runs.push({ runner: 'mi355x-1', device: { ...MI355X, host: 'mi355x-1' } });
      for (const run of runs) {
        const result = simulatedRunResult({
          night: nightDate(START, i),
          vllmSha: fakeSha(i + 1),
          noise: 0.01,
          random,
          ...run,
        });
        outcomes.set(
          i,
          await runNightlyWith(config, host(run.runner), {
            validate: async () => ({ result }),
            history: store,
            issues,
          }),
        );
      }
      if (i === NOT_PLANNED_AFTER) {
        // a maintainer accepts the level: closes the issue as not planned, through the API
        await octokit.rest.issues.update({
          owner: 'example',
          repo: 'vllm-kernel-ci',
          issue_number: 1,
          state: 'closed',
          state_reason: 'not_planned',
        });
      }
      openAfter.push(
        fake
          .issues(REPO)
          .filter((x) => x.state === 'open')
          .map((x) => x.number),
      );
    }
    history = (await store.read()).records;
  }, 240_000);

  afterAll(async () => {
    await fake?.close();
  });

  const bodiesOf = (n: number) =>
    fake
      .calls('issues/update')
      .filter((c) => c.path.endsWith(`/issues/${n}`))
      .map((c) => (c.body as { body?: string }).body)
      .filter((b): b is string => Boolean(b));

  it('sees one pool across new runner names and cards, and opens the issue on the regression’s 2nd night', () => {
    for (let i = 0; i <= REGRESSION; i++) expect(openAfter[i], `night ${i}`).toEqual([]);
    expect(openAfter[REGRESSION + 1]).toEqual([1]);
    const created = (fake.calls('issues/create')[0]?.body as { body?: string } | undefined)?.body ?? '';
    expect(created).toContain('### Runner NVIDIA H200 ×1: 🔴 alert');
    expect(created).toContain(
      'Series: NVIDIA H200 ×1, driver 580.159.04, torch 2.11.0+cu130, triton 3.6.0, bundle 0f3c',
    );
    expect(created).toContain(`on host eph-${REGRESSION + 1}-h200, card ${CARDS[(REGRESSION + 1) % 2]}`);
    expect(created).toMatch(/card b0b0b0b0b0b0 \(host eph-\d+-h200\) runs \d\.\d% slower than its pool/);
  });

  it('lists a failed checkout night in the issue, keeps it open, and shows the regression the night after', () => {
    expect(outcomes.get(CHECKOUT_FAILED)).toMatchObject({ verdict: 'failed', exitCode: 1 });
    expect(openAfter[CHECKOUT_FAILED]).toEqual([1]);
    const afterFailed =
      bodiesOf(1).find((b) => b.includes(`night of ${nightDate(START, CHECKOUT_FAILED)}`)) ?? '';
    expect(afterFailed).toContain(
      `- no measurement on ${nightDate(START, CHECKOUT_FAILED)} (eph-${CHECKOUT_FAILED}-h200): checkout failed`,
    );
    expect(afterFailed).toContain('**Performance regression** in 1 cell(s)');
    expect(outcomes.get(CHECKOUT_FAILED + 1)?.verdict).toBe('regressed');
    // the failed night started no series and is no pool of its own
    expect(afterFailed).not.toContain('unknown ×0');
    expect(history.find((r) => r.night === nightDate(START, CHECKOUT_FAILED))?.failedSteps).toEqual([
      'checkout',
    ]);
  });

  it('takes a close as not planned as accepting the level: recorded in the history, no new issue for it', () => {
    expect(fake.issues(REPO).find((x) => x.number === 1)).toMatchObject({
      state: 'closed',
      stateReason: 'not_planned',
    });
    for (let i = NOT_PLANNED_AFTER; i < FURTHER + 1; i++) expect(openAfter[i], `night ${i}`).toEqual([]);
    expect(history.find((r) => r.night === nightDate(START, NOT_PLANNED_AFTER + 1))?.accepted).toMatchObject({
      issue: 1,
      how: 'closed as not planned',
    });
  });

  it('opens a new issue for a further regression on its 2nd night, linking the accepted one', () => {
    expect(openAfter[FURTHER + 1]).toEqual([2]);
    const created = (fake.calls('issues/create')[1]?.body as { body?: string } | undefined)?.body ?? '';
    expect(created).toContain(
      `Accepted on ${nightDate(START, NOT_PLANNED_AFTER + 1)}: #1 (closed as not planned); its level is the reference from that night on.`,
    );
    expect(created).toContain(
      `Suspected first bad night for fused bfloat16 K=2048 N=8192: **${nightDate(START, FURTHER)}**`,
    );
  });

  it('marks the retired pool stale and closes the issue with that reason after 7 nights', () => {
    const staleOn = RETIRED_AFTER + 7;
    for (let i = FURTHER + 1; i < staleOn; i++) expect(openAfter[i], `night ${i}`).toEqual([2]);
    expect(openAfter[staleOn]).toEqual([]);
    expect(fake.issues(REPO).find((x) => x.number === 2)).toMatchObject({
      state: 'closed',
      stateReason: 'completed',
    });
    const [note] = fake.commentsOn(REPO, 2).map((c) => c.body);
    expect(note).toMatch(
      new RegExp(
        `^Recovered on the night of ${nightDate(START, staleOn)}: every alerting series is back or stale \\(NVIDIA H200 ×1: no measured night lately\\)`,
      ),
    );
    expect(bodiesOf(2).at(-1)).toContain('### Runner NVIDIA H200 ×1: ⚫ stale');
    expect(fake.issues(REPO)).toHaveLength(2);
    expect(fake.requests.filter((r) => r.problem)).toEqual([]);
  });
});
