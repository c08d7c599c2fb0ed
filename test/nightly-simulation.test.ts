// 60 simulated nights through the real nightly code: real git history on a local bare repository, the
// regression issue on the fake GitHub server (every request checked against GitHub's OpenAPI description).
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Config, parseConfig } from '../src/config.js';
import { createOctokit } from '../src/github/client.js';
import { githubIssueTracker } from '../src/github/issue.js';
import type { Host, ModeOutcome } from '../src/host.js';
import { runNightlyWith } from '../src/modes/nightly.js';
import { gitHistoryStore, type HistoryStore, historyFile } from '../src/nightly/history-git.js';
import { ISSUE_LABEL } from '../src/nightly/issue-body.js';
import type { Device } from '../src/results/run-result.js';
import { gitInit, tempDir } from './helpers.js';
import { fakeSha, H200, nightDate, seededRandom, simulatedRunResult } from './nightly-sim.js';
import { type FakeGitHub, startFakeGitHub, WRITE_TOKEN } from './support/fake-github.js';

const REPO = 'example/vllm-kernel-ci';
const BRANCH = 'vllm-kernel-ci-data';
const START = '2026-09-01';
const MI355X: Device = {
  vendor: 'amd',
  name: 'AMD Instinct MI355X',
  count: 1,
  driver: '6.14.14',
  rocm: '7.0.2',
  torch: '2.11.0',
  triton: '3.6.0',
};

// the story of the 60 nights (night index from 0)
const OUTLIER = 12;
const STEP_FIRST = 20;
const STEP_LAST = 29;
// hysteresis: the issue closes on the third good night in a row
const RECOVERED = STEP_LAST + 3;
const DRIVER_CHANGE = 36;
const DRIFT = 45;
const SECOND_RUNNER = 50;
const WRONG_RESULTS = 55;

function testHost(log: string[]): Host {
  return {
    info: (m) => log.push(m),
    warning: (m) => log.push(`warning: ${m}`),
    group: (_name, fn) => fn(),
    setOutput: () => {},
    summary: async () => {},
    setSecret: () => {},
    env: { GITHUB_REPOSITORY: REPO },
  };
}

interface Runner {
  name: string;
  history: HistoryStore;
  random: () => number;
  log: string[];
}

let fake: FakeGitHub;
let remote: string;
let config: Config;
let raceNight = -1;
const outcomes = new Map<string, ModeOutcome>();
const openAfterNight: number[][] = [];

describe('60 simulated nights', () => {
  beforeAll(async () => {
    fake = await startFakeGitHub();
    fake.addRepo(REPO);
    remote = await tempDir('vkci-remote-');
    await gitInit(remote, '--bare');
    config = parseConfig(
      (name) =>
        ({
          mode: 'nightly',
          'vllm-repository': 'vllm-project/vllm',
          'vllm-ref': 'main',
          'history-days': '30',
          'output-dir': join(remote, '..', 'vkci-nightly-out'),
          'github-token': WRITE_TOKEN,
        })[name],
    );

    // both runners commit on the same branch tip on the race night before either pushes
    let waiting = 0;
    let release: () => void = () => {};
    let bothCommitted = new Promise<void>((r) => {
      release = r;
    });
    const beforePush = async () => {
      if (raceNight < 0) return;
      if (++waiting === 2) {
        release();
        raceNight = -1;
      }
      await bothCommitted;
    };
    const runner = async (name: string, seed: number): Promise<Runner> => ({
      name,
      history: gitHistoryStore({
        remote,
        branch: BRANCH,
        workDir: join(await tempDir(`vkci-${name}-`), 'history'),
        retentionDays: config.nightly.historyDays,
        beforePush,
      }),
      random: seededRandom(seed),
      log: [],
    });
    const h200 = await runner('h200-1', 11);
    const mi355x = await runner('mi355x-1', 23);
    const octokit = createOctokit(WRITE_TOKEN, { baseUrl: fake.url, writeSpacingMs: 0, retryUnitMs: 1 });
    const issues = githubIssueTracker(octokit, { owner: 'example', repo: 'vllm-kernel-ci' });

    const night = (r: Runner, i: number) => {
      const onH200 = r.name === 'h200-1';
      const device = onH200 ? (i >= DRIVER_CHANGE ? { ...H200, driver: '590.44.01' } : H200) : MI355X;
      const result = simulatedRunResult({
        night: nightDate(START, i),
        runner: r.name,
        device,
        vllmSha: fakeSha(i + 1),
        noise: 0.01,
        random: r.random,
        // the new driver is 10% slower everywhere: a new series, not a regression
        kernelFactor: onH200 && i >= DRIVER_CHANGE ? 1.1 : 1,
        stepFactor: !onH200 ? 1 : i === OUTLIER ? 1.3 : i >= STEP_FIRST && i <= STEP_LAST ? 1.12 : 1,
        drift: onH200 && i === DRIFT,
        failingTest: !onH200 && i === WRONG_RESULTS,
      });
      return runNightlyWith(config, testHost(r.log), {
        validate: async () => ({ result }),
        history: r.history,
        issues,
      }).then((outcome) => outcomes.set(`${r.name} ${i}`, outcome));
    };

    for (let i = 0; i < 60; i++) {
      if (i === SECOND_RUNNER) {
        raceNight = i;
        waiting = 0;
        bothCommitted = new Promise<void>((r) => {
          release = r;
        });
        await Promise.all([night(h200, i), night(mi355x, i)]);
      } else {
        await night(h200, i);
        if (i > SECOND_RUNNER) await night(mi355x, i);
      }
      openAfterNight.push(
        fake
          .issues(REPO)
          .filter((issue) => issue.state === 'open')
          .map((issue) => issue.number),
      );
    }
    expect(h200.log.concat(mi355x.log).filter((m) => m.startsWith('warning:'))).toEqual([]);
    raceLog = [...h200.log, ...mi355x.log];
  }, 240_000);

  afterAll(async () => {
    await fake?.close();
  });

  let raceLog: string[] = [];
  const nights = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => from + k);

  it('opens no issue while warming up, on the noisy outlier night, or on the driver change', () => {
    for (const i of [...nights(0, STEP_FIRST - 1), ...nights(RECOVERED, DRIFT - 1)]) {
      expect(openAfterNight[i], `night ${i}`).toEqual([]);
    }
    expect(outcomes.get(`h200-1 ${OUTLIER}`)?.verdict).toBe('no-significant-change');
    expect(outcomes.get(`h200-1 ${DRIVER_CHANGE}`)?.verdict).toBe('insufficient-data');
  });

  it('opens the issue on the second night of a step regression and updates it in place while it lasts', () => {
    expect(openAfterNight[STEP_FIRST]).toEqual([]);
    expect(outcomes.get(`h200-1 ${STEP_FIRST}`)?.verdict).toBe('no-significant-change');
    for (const i of nights(STEP_FIRST + 1, RECOVERED - 1))
      expect(openAfterNight[i], `night ${i}`).toEqual([1]);
    const opened = outcomes.get(`h200-1 ${STEP_FIRST + 1}`);
    expect(opened).toMatchObject({ verdict: 'regressed', exitCode: 0 });
    expect(opened?.commentUrl).toBe(`https://github.com/${REPO}/issues/1`);

    const issue = fake.issues(REPO).find((x) => x.number === 1);
    expect(issue?.title).toBe('Nightly regression: fused_shared_expert_gate on vLLM main');
    expect(issue?.labels).toEqual([ISSUE_LABEL]);
    const body = issue?.body ?? '';
    // the body as the last night before recovery left it, then the closing update
    expect(body).toContain(`<!-- vllm-kernel-ci:nightly-issue bundle=fused_shared_expert_gate -->`);
    const updates = fake.calls('issues/update').filter((c) => c.path.endsWith('/issues/1'));
    const bodies = updates.map((c) => (c.body as { body?: string }).body).filter(Boolean) as string[];
    // one edit per further bad night and per recovering night, and one final edit when it closes
    expect(bodies).toHaveLength(RECOVERED - STEP_FIRST - 1);
    const lastBad = bodies.at(STEP_LAST - STEP_FIRST - 2) ?? '';
    expect(bodies.at(-2)).toContain('🟠 recovering');
    expect(lastBad).toContain(
      `**1 of 1 runner(s) alerting** as of the night of ${nightDate(START, STEP_LAST)}`,
    );
    expect(lastBad).toContain('**Performance regression** in 1 cell(s)');
    expect(lastBad).toContain(`Suspected first bad night for fused bfloat16 K=2048 N=8192`);
    expect(lastBad).toContain(
      `**${nightDate(START, STEP_FIRST)}** (last good night ${nightDate(START, STEP_FIRST - 1)})`,
    );
    expect(lastBad).toContain(
      `https://github.com/vllm-project/vllm/compare/${fakeSha(STEP_FIRST)}...${fakeSha(STEP_FIRST + 1)}`,
    );
    expect(lastBad).toContain('```mermaid\nxychart-beta');
  });

  it('closes the issue with a note when the series recovers', () => {
    expect(openAfterNight[RECOVERED - 1]).toEqual([1]);
    expect(openAfterNight[RECOVERED]).toEqual([]);
    const issue = fake.issues(REPO).find((x) => x.number === 1);
    expect(issue).toMatchObject({ state: 'closed', stateReason: 'completed' });
    const notes = fake.commentsOn(REPO, 1).map((c) => c.body);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(new RegExp(`^Recovered on the night of ${nightDate(START, RECOVERED)}`));
  });

  it('starts a new series on the driver change and reports the step with the update instead of alarming', () => {
    const body = fake.calls('issues/create').map((c) => (c.body as { body: string }).body)[1] ?? '';
    expect(body).toContain('Series: NVIDIA H200 ×1, driver 590.44.01');
    // the new driver's 10% is reported with the update, not blamed on vLLM
    expect(body).toContain('**Changed with the driver 580.159.04 → 590.44.01**');
    expect(body).not.toContain('**Performance regression**');
  });

  it('opens an issue at once on patch drift and closes it the next clean night', () => {
    expect(openAfterNight[DRIFT]).toEqual([2]);
    expect(outcomes.get(`h200-1 ${DRIFT}`)).toMatchObject({ verdict: 'failed', exitCode: 1 });
    const created = fake.calls('issues/create')[1]?.body as { body: string };
    expect(created.body).toContain('**Patch drift**');
    expect(created.body).toContain('vllm/model_executor/models/qwen2_moe.py:118 (unmatched)');
    expect(created.body).toContain(`${fakeSha(DRIFT)}...${fakeSha(DRIFT + 1)}`);
    expect(openAfterNight[DRIFT + 1]).toEqual([]);
  });

  it('keeps both lines when two runners push on the same night', () => {
    expect(raceLog.filter((m) => m.includes('2 push attempt(s)'))).toHaveLength(1);
    expect(openAfterNight[SECOND_RUNNER]).toEqual([]);
  });

  it('opens an issue at once on a failing kernel test of the second runner, and closes it after', () => {
    expect(openAfterNight[WRONG_RESULTS]).toEqual([3]);
    const created = fake.calls('issues/create')[2]?.body as { body: string };
    expect(created.body).toContain('**1 of 2 runner(s) alerting**');
    expect(created.body).toContain('test_gate\\[float16-2048-7177]');
    expect(openAfterNight[WRONG_RESULTS + 1]).toEqual([]);
    expect(openAfterNight.slice(WRONG_RESULTS + 1).every((open) => open.length === 0)).toBe(true);
  });

  it('opened exactly three issues, and every request matched GitHub’s description', () => {
    expect(fake.issues(REPO).map((i) => [i.number, i.state])).toEqual([
      [1, 'closed'],
      [2, 'closed'],
      [3, 'closed'],
    ]);
    expect(fake.requests.filter((r) => r.problem)).toEqual([]);
  });

  it('keeps the retention window on the branch and every runner’s line of every night in it', async () => {
    const read = async (runner: string) =>
      (
        await execa('git', [
          '--git-dir',
          remote,
          'show',
          `${BRANCH}:${historyFile('fused_shared_expert_gate', runner)}`,
        ])
      ).stdout
        .split('\n')
        .map((l) => JSON.parse(l).night as string);
    expect(await read('h200-1')).toEqual(nights(30, 59).map((i) => nightDate(START, i)));
    expect(await read('mi355x-1')).toEqual(nights(SECOND_RUNNER, 59).map((i) => nightDate(START, i)));
  });
});
