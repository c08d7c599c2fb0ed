// Simulated nightly RunResults: the shape validate writes, with seeded noise, for the nightly tests.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IssueState } from '../src/github/issue.js';
import { acceptanceOf, decideIssueAction } from '../src/nightly/issue-action.js';
import {
  type HistoryRecord,
  historyRecordFrom,
  retainedRecords,
  unmeasuredReason,
  withinRetention,
} from '../src/nightly/record.js';
import {
  DEFAULT_TREND,
  nightlyTrends,
  pinnedNights,
  type RunnerTrend,
  type TrendOptions,
} from '../src/nightly/trend.js';
import { type Device, E2e, Microbench, type RunResult } from '../src/results/run-result.js';
import { ROOT } from './helpers.js';

/** mulberry32: a small seeded PRNG so every simulated night is the same on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal from two uniforms (Box–Muller). */
export function normal(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

const FIXTURES = join(ROOT, 'fixtures/gpu');
// real captures from one H200 (fixtures/gpu/README.md): every simulated night starts from these numbers
const MICROBENCH = Microbench.parse(JSON.parse(readFileSync(join(FIXTURES, 'microbench-h200.json'), 'utf8')));
const E2E = E2e.parse(JSON.parse(readFileSync(join(FIXTURES, 'e2e-model-ab-h200.json'), 'utf8')));

/** The card and software of the captures (fixtures/gpu/README.md). */
export const H200: Device = {
  vendor: 'nvidia',
  name: 'NVIDIA H200',
  count: 1,
  driver: '580.159.04',
  cuda: '13.0',
  torch: '2.11.0+cu130',
  triton: '3.6.0',
  python: '3.12.3',
};

/** The cell the step regression and the outlier hit. */
export const STEP_CELL = { dtype: 'bfloat16', k: 2048, n: 8192 } as const;

export interface SimulatedNight {
  night: string;
  runner: string;
  device: Device;
  vllmSha: string;
  /** multiplies every kernel time (1.12 = 12% slower) */
  kernelFactor?: number;
  /** multiplies the time of STEP_CELL only */
  stepFactor?: number;
  /** relative noise, standard deviation */
  noise: number;
  random: () => number;
  drift?: boolean;
  failingTest?: boolean;
  /** vLLM main could not be checked out: nothing after it ran */
  checkoutFailed?: boolean;
  bundleHash?: string;
}

export function nightDate(start: string, offset: number): string {
  return new Date(new Date(`${start}T00:00:00Z`).getTime() + offset * 86_400_000).toISOString().slice(0, 10);
}

export function fakeSha(i: number): string {
  return (i * 2654435761).toString(16).padStart(8, '0').repeat(5).slice(0, 40);
}

export function simulatedRunResult(s: SimulatedNight): RunResult {
  const startedAt = `${s.night}T02:00:00.000Z`;
  const jitter = () => 1 + s.noise * normal(s.random);
  const isStep = (c: { dtype: string; k: number; n: number }) =>
    c.dtype === STEP_CELL.dtype && c.k === STEP_CELL.k && c.n === STEP_CELL.n;
  const cells = MICROBENCH.cells.map((c) => {
    if (c.impl !== 'fused') return c;
    const us = c.graphUs.median * (s.kernelFactor ?? 1) * (isStep(c) ? (s.stepFactor ?? 1) : 1) * jitter();
    const gbps = c.bytes / us / 1e3;
    return {
      ...c,
      graphUs: { median: us, p20: us * 0.995, p80: us * 1.005 },
      gbps,
      pctOfCopy: (gbps / MICROBENCH.copyGbps) * 100,
    };
  });
  const e2eCells = E2E.cells.map((c) => ({
    ...c,
    baseline: c.baseline.map((v) => v * jitter()),
    patched: c.patched.map((v) => v * jitter()),
  }));
  const result: RunResult = {
    schema: 1,
    tool: { name: 'vllm-kernel-ci', version: '0.1.0' },
    identity: {
      repository: 'example/vllm-kernel-ci',
      runId: `${s.night.replaceAll('-', '')}${s.runner.length}`,
      runUrl: `https://github.com/example/vllm-kernel-ci/actions/runs/${s.night.replaceAll('-', '')}`,
      runner: s.runner,
      vllmRepo: 'vllm-project/vllm',
      vllmRef: 'main',
      vllmSha: s.vllmSha,
      bundle: 'fused_shared_expert_gate',
      bundleHash: s.bundleHash ?? 'sha256:0f3c',
      startedAt,
      finishedAt: `${s.night}T03:10:00.000Z`,
    },
    device: s.device,
    steps: [
      { name: 'checkout', status: 'passed', seconds: 30 },
      s.drift
        ? { name: 'apply-bundle', status: 'failed', seconds: 2, reason: '1 site unmatched' }
        : { name: 'apply-bundle', status: 'passed', seconds: 2 },
      { name: 'install', status: 'passed', seconds: 300 },
      { name: 'detect-device', status: 'passed', seconds: 3 },
      s.failingTest
        ? { name: 'kernel-tests', status: 'failed', seconds: 40, reason: '1 failed' }
        : { name: 'kernel-tests', status: 'passed', seconds: 40 },
      { name: 'microbench', status: s.drift ? 'skipped' : 'passed', seconds: 60 },
      { name: 'e2e', status: s.drift ? 'skipped' : 'passed', seconds: 900 },
    ],
    settings: { VLLM_SHARED_EXPERTS_STREAM_TOKEN_THRESHOLD: '256' },
    patch: {
      sites: [
        {
          file: 'vllm/model_executor/models/qwen2_moe.py',
          line: 118,
          status: s.drift ? 'unmatched' : 'applied',
          source: 'out = F.sigmoid(self.expert_gate(x)[0]) * out',
          symbol: 'Qwen2MoeMLP.forward',
        },
      ],
      copied: [],
      coveredModels: ['Qwen3-Next'],
    },
    tests: [
      {
        id: 'test_gate[bfloat16-2048-8192]',
        status: 'passed',
        seconds: 0.4,
        dtype: 'bfloat16',
        k: 2048,
        n: 8192,
      },
      {
        id: 'test_gate[float16-2048-7177]',
        status: s.failingTest ? 'failed' : 'passed',
        seconds: 0.4,
        message: s.failingTest ? 'Mismatched elements: 12 / 14354' : undefined,
      },
    ],
    microbench: s.drift ? undefined : { copyGbps: MICROBENCH.copyGbps, cells },
    e2e: s.drift ? undefined : { ...E2E, cells: e2eCells },
  };
  if (!s.checkoutFailed) return result;
  return {
    ...result,
    steps: result.steps.map((step) =>
      step.name === 'checkout'
        ? { ...step, status: 'failed', reason: 'Cannot reach vLLM repository' }
        : { name: step.name, status: 'skipped', seconds: 0, reason: 'checkout failed' },
    ),
    patch: undefined,
    tests: undefined,
    microbench: undefined,
    e2e: undefined,
  };
}

/** One runner's night in a fleet story; `device` carries the host and card that ran it. */
export interface FleetNight {
  runner: string;
  device: Device;
  bundleHash?: string;
  kernelFactor?: number;
  stepFactor?: number;
  checkoutFailed?: boolean;
}

export interface IssueStory {
  nights: number;
  /** the runs of night i (none: nobody ran, e.g. a retired runner) */
  runs: (i: number, random: () => number) => FleetNight[];
  /** a maintainer closes the open issue as not planned after the runs of night i */
  closeNotPlanned?: (i: number) => boolean;
  historyDays?: number;
  thresholdPct?: number;
  /** keep only STEP_CELL in each line: the regressed cell's story, fast enough for many series */
  stepCellOnly?: boolean;
}

export interface IssueNight {
  /** the issue open after the night's runs */
  open?: number;
  opened: boolean;
  closed: boolean;
  /** the close note, when it closed */
  note?: string;
  pools: RunnerTrend[];
}

const STEP_KEY = `kernel:${STEP_CELL.dtype}-K${STEP_CELL.k}-N${STEP_CELL.n}`;

/**
 * A fleet's nights through what the nightly mode runs after validate: the history line, retention, the
 * acceptance read from the issue, the trends and the issue action, with the issue kept as GitHub would.
 */
export function replayIssue(seed: number, story: IssueStory): IssueNight[] {
  const random = seededRandom(seed);
  const options: TrendOptions = { ...DEFAULT_TREND, thresholdPct: story.thresholdPct ?? 5 };
  const days = story.historyDays ?? 60;
  let records: HistoryRecord[] = [];
  const issues: IssueState[] = [];
  const out: IssueNight[] = [];
  for (let i = 0; i < story.nights; i++) {
    const night = nightDate('2026-01-01', i);
    let opened = false;
    let closed = false;
    let note: string | undefined;
    let pools: RunnerTrend[] = [];
    for (const run of story.runs(i, random)) {
      const record = historyRecordFrom(
        simulatedRunResult({ night, vllmSha: fakeSha(i + 1), noise: 0.01, random, ...run }),
      );
      if (story.stepCellOnly) record.cells = record.cells.filter((c) => c.key === STEP_KEY);
      const measured = unmeasuredReason(record) === undefined;
      if (measured) {
        const accepted = acceptanceOf(issues.at(-1));
        if (accepted) record.accepted = accepted;
      }
      const all = [...records, record];
      // the pins cost a judgement: only worth it on a night that drops lines
      const drops = withinRetention(all, night, days).length < all.length;
      records = drops ? retainedRecords(all, night, days, pinnedNights(all, options)) : all;
      const judged = nightlyTrends(records, options, night);
      pools = judged.pools;
      const current = issues.find((x) => x.state === 'open');
      const action = decideIssueAction(
        judged.pools,
        current !== undefined,
        { bundle: record.bundle, night, thresholdPct: options.thresholdPct, inert: (t) => t },
        measured,
      );
      if (action.kind === 'open') {
        issues.push({ number: issues.length + 1, url: '', body: '', state: 'open', labels: [] });
        opened = true;
      } else if (action.kind === 'close' && current) {
        Object.assign(current, { state: 'closed', stateReason: 'completed' });
        closed = true;
        note = action.note;
      }
    }
    const current = issues.find((x) => x.state === 'open');
    if (current && story.closeNotPlanned?.(i))
      Object.assign(current, { state: 'closed', stateReason: 'not_planned' });
    out.push({ open: issues.find((x) => x.state === 'open')?.number, opened, closed, note, pools });
  }
  return out;
}
