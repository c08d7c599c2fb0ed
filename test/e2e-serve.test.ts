// The vllm-serve e2e: its plan (pure), and the runner on the fake vLLM: swap methods and fall-backs, budget, partial failures, tokenizer.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { renderPlan } from '../src/modes/plan.js';
import { runServeAb, type ServeAbOptions, scheduleRuns } from '../src/pipeline/e2e.js';
import {
  blocksUsed,
  chooseSwap,
  counterbalancedOrder,
  type E2ePlan,
  expectedPairsPerCell,
  maxModelLen,
  PUBLISHED_MI355X_QWEN3_NEXT,
  planServeAb,
  running,
  STEADY_TOLERANCE_PCT,
  steadyTolerancePct,
  type ThroughputRates,
  throughputAt,
} from '../src/pipeline/e2e-plan.js';
import { planRates, ratesFromRun } from '../src/pipeline/e2e-rates.js';
import type { StepHandle } from '../src/pipeline/step.js';
import type { E2e, E2eCell, RunResult } from '../src/results/run-result.js';
import { analyseRuns } from '../src/stats/analyse.js';
import { armsSpread, judgeSequential, sequentialMethod } from '../src/stats/sequential.js';
import { runLooks } from '../src/stats/simulate.js';
import { FAKE_BIN, fakeEnv, stepHandle } from './fakes/world.js';
import { oneLook, ROOT, runNode, tempDir } from './helpers.js';
import { fullRun } from './report-fixtures.js';

const SHAPES = [
  { inputLen: 1024, outputLen: 1024 },
  { inputLen: 1024, outputLen: 8192 },
  { inputLen: 8192, outputLen: 1024 },
];
const A = 'baseline';
const B = 'patched';

describe('the plan', () => {
  it('orders arms A B B A, then B A A B, and a re-run continues the sequence', () => {
    expect(counterbalancedOrder(2)).toEqual([A, B, B, A]);
    expect(counterbalancedOrder(4)).toEqual([A, B, B, A, B, A, A, B]);
    expect(counterbalancedOrder(3)).toEqual([A, B, B, A, B, A]);
    expect(counterbalancedOrder(2, blocksUsed(2))).toEqual([B, A, A, B]);
    // every arm runs second in a pair as often as first over a block pair
    const order = counterbalancedOrder(8);
    const secondOfPair = order.filter((_, i) => i % 2 === 1);
    expect(secondOfPair.filter((a) => a === A)).toHaveLength(4);
  });

  it('schedules cell by cell for cheap swaps, position by position for restarts', () => {
    const fresh = [{ done: 0 }, { done: 0 }];
    const cellMajor = scheduleRuns(fresh, 2, 'sleep').map((r) => `${r.cell}${r.arm[0]}${r.repeat}`);
    expect(cellMajor).toEqual(['0b1', '0p1', '0p2', '0b2', '1b1', '1p1', '1p2', '1b2']);
    const byPosition = scheduleRuns(fresh, 2, 'restart').map((r) => `${r.cell}${r.arm[0]}${r.repeat}`);
    expect(byPosition).toEqual(['0b1', '1b1', '0p1', '1p1', '0p2', '1p2', '0b2', '1b2']);
    // a later look goes on where each cell's pairs ended: B A A B after A B B A
    const later = scheduleRuns([{ done: 2 }], 2, 'sleep', 1).map((r) => `${r.arm[0]}${r.repeat}`);
    expect(later).toEqual(['p3', 'b3', 'b4', 'p4']);
  });

  it('on the defaults: the 9 cells, two server starts, minutes from the published rates', () => {
    const config = parseConfig((n) => (n === 'e2e-backend' ? 'vllm-serve' : undefined));
    const plan = JSON.parse(renderPlan(config, true));
    expect(plan.cells).toHaveLength(9);
    // with each arm's warm-up counted, the default grid does not fit whole at 10 pairs a cell: the budget drops
    // the two costliest cells rather than cut pairs, and the plan says so
    const dropped = plan.cells.filter((c: { dropped?: string }) => c.dropped);
    expect(dropped.map((c: { id: string }) => c.id)).toEqual(['in1024-out8192-c16', 'in1024-out8192-c64']);
    expect(plan.fitted.join(' ')).toContain('dropped 2 of 9 cells');
    expect(plan.repeats).toBe(10);
    expect(plan.serverStarts).toBeLessThanOrEqual(4);
    expect(plan.swap).toBe('resident');
    expect(plan.estimatedMinutes).toBeLessThanOrEqual(250);
    expect(plan.rates).toContain('published MI355X figures');
    // never below one full wave of the concurrency
    for (const c of plan.cells) expect(c.promptsPerRun).toBeGreaterThanOrEqual(c.concurrency);
  });

  it('the README shows the default plan as the tool prints it', async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const block = readme.split('## E2e plan (vllm-serve)')[1].split('```\n')[1].split('```')[0];
    const config = parseConfig((n) => (n === 'e2e-backend' ? 'vllm-serve' : undefined));
    expect(block.trim()).toBe(renderPlan(config, false));
  });

  it('without a budget: the expected pairs of the sequential rule; restarts cost a server start per arm change', () => {
    const base = {
      model: 'Qwen/Qwen3-Next-80B-A3B-Instruct-FP8',
      shapes: SHAPES,
      concurrencies: [4, 16, 64],
      repeats: 8,
      rates: PUBLISHED_MI355X_QWEN3_NEXT,
    };
    const full = planServeAb({ ...base, swap: { method: 'resident', why: '' } });
    // `simulate --cells 9 --cv 2`: most cells stop after their first look of 4 pairs
    expect(full.expectedPairs).toBe(expectedPairsPerCell(9, undefined, 2));
    expect(full.expectedPairs).toBeGreaterThan(4);
    expect(full.expectedPairs).toBeLessThan(6);
    expect(full.runs).toBeCloseTo(9 * 2 * full.expectedPairs, 0);
    // at most every cell runs its 24 pairs
    expect(full.mostMinutes).toBeGreaterThan(4 * full.estimatedMinutes);
    // 1024/1024 at concurrency 16: (16 warm-up + 64) × 1024 tokens at 1243.82 tok/s, a run
    const c16 = full.cells.find((c) => c.id === 'in1024-out1024-c16');
    expect(c16?.estimatedMinutes).toBeCloseTo((2 * full.expectedPairs * (80 * 1024)) / 1243.82 / 60, 1);
    const restart = planServeAb({ ...base, swap: { method: 'restart', why: '' } });
    expect(restart.serverStarts).toBeGreaterThan(2);
    expect(restart.estimatedMinutes - full.estimatedMinutes).toBeCloseTo((restart.serverStarts - 2) * 10, 0);
  });

  it('a 30-minute budget: fewer prompts, then fewer repeats, then the most expensive cells, each said', () => {
    const config = parseConfig((n) => ({ 'e2e-backend': 'vllm-serve', 'e2e-budget': '30' })[n]);
    const plan = JSON.parse(renderPlan(config, true));
    expect(plan.estimatedMinutes).toBeLessThanOrEqual(30);
    expect(plan.cells).toHaveLength(9);
    expect(plan.fitted[0]).toMatch(/^prompts per run cut to c4 \d+/);
    // with the warm-ups counted, 30 minutes keep one cell: what was cut, the plan says, costliest cells first
    expect(plan.fitted.at(-1)).toMatch(
      /^dropped \d of 9 cells, the most expensive first: in1024-out8192-c64/,
    );
    const dropped = plan.cells.filter((c: { dropped?: string }) => c.dropped);
    expect(dropped.length).toBeGreaterThan(0);
    expect(dropped[0].dropped).toMatch(/^not run \(budget\)/);
    // never below a first look and half of the next
    expect(plan.repeats).toBeGreaterThanOrEqual(6);
    const text = renderPlan(config, false);
    expect(text).toContain('budget: dropped');
    expect(text).toContain('(budget 30 min)');
  });

  it('the swap the card allows, and --max-model-len from the largest shape', () => {
    expect(chooseSwap({ cardMemoryGiB: 288, weightsGiB: 80, tensorParallelSize: 1 }).method).toBe('resident');
    expect(chooseSwap({ cardMemoryGiB: 140, weightsGiB: 80, tensorParallelSize: 1 }).method).toBe('sleep');
    expect(chooseSwap({ cardMemoryGiB: 140, weightsGiB: 80, tensorParallelSize: 2 }).method).toBe('resident');
    expect(chooseSwap({ cardMemoryGiB: undefined, weightsGiB: 80, tensorParallelSize: 1 }).method).toBe(
      'sleep',
    );
    expect(
      chooseSwap({ cardMemoryGiB: 80, weightsGiB: 8, tensorParallelSize: 1, vendor: 'cpu' }).method,
    ).toBe('restart');
    expect(maxModelLen(SHAPES)).toBe(9216 + 256);
  });
});

/** The e2e step's handle, counting bench runs for a clock. */
async function stepFor(): Promise<StepHandle & { benches: number }> {
  const handle = { ...(await stepHandle('e2e')), benches: 0 };
  const run = handle.run;
  handle.run = (file, args, o) => {
    if (args[0] === 'bench') handle.benches += 1;
    return run(file, args, o);
  };
  return handle;
}

/** One A/B on the fake vLLM; with `benchMinutes`, the budget's clock reads that many minutes a bench run. */
async function serveAb(
  fake: Record<string, string>,
  more: Partial<ServeAbOptions> = {},
  benchMinutes?: number,
) {
  const env = await fakeEnv({ FAKE_GPU: 'nvidia', ...fake });
  const step = await stepFor();
  const clock = benchMinutes === undefined ? undefined : () => step.benches * benchMinutes * 60_000;
  const e2e = await runServeAb(step, {
    vllm: join(FAKE_BIN, 'vllm'),
    model: 'Qwen/Qwen1.5-MoE-A2.7B',
    tensorParallelSize: 1,
    shapes: [{ inputLen: 1024, outputLen: 1024 }],
    concurrencies: [4],
    repeats: 2,
    method: oneLook(2),
    env,
    vendor: 'nvidia',
    readyTimeoutMs: 20_000,
    benchTimeoutMs: 30_000,
    waitForGpuMemory: async () => true,
    clock,
    // the warm-up has tests of its own; here each bench run is a sample
    warmup: false,
    ...more,
  });
  const log = await readFile(step.logFile, 'utf8');
  const starts = [...log.matchAll(/starting vllm serve \((\w+) arm: \S+; swap (\w+)\)/g)].map(
    (m) => `${m[1]} ${m[2]}`,
  );
  return { e2e, log, starts, step, env };
}

describe('swapping arms on the fake vLLM', () => {
  it('resident: both servers up at once with half the memory share each, started once', {
    timeout: 60_000,
  }, async () => {
    // 10 GiB of weights fit twice on the fake H200 (140 GiB)
    const { e2e, log, starts, step } = await serveAb({}, { weightsGiB: 10 });
    expect(starts).toEqual(['baseline resident', 'patched resident']);
    expect(e2e.swap).toBe('resident');
    expect(e2e.method).toContain('both servers resident');
    const serverLog = await readFile(join(step.outDir, 'logs', 'e2e-server-patched-1.log'), 'utf8');
    expect(serverLog).toContain('--gpu-memory-utilization 0.45 --max-model-len 2304');
    expect(e2e.cells[0]).toMatchObject({ status: 'ok' });
    expect(e2e.cells[0].baseline).toHaveLength(2);
    expect(Math.min(...e2e.cells[0].patched)).toBeGreaterThan(Math.max(...e2e.cells[0].baseline));
    expect(log).not.toContain('put to sleep');
  });

  it('resident that does not fit falls back to sleep mode; the woken server serves at its old speed', {
    timeout: 60_000,
  }, async () => {
    // vLLM refuses 0.45 of the card when the weights leave no room for the KV cache
    const { e2e, log, starts } = await serveAb({ FAKE_MODEL_MIB: '70000' }, { weightsGiB: 10 });
    // the EngineCore's exception, not the API server's "Engine core initialization failed. See root cause above."
    expect(log).toMatch(
      /exited before it was ready \(exit 1: ValueError: No available memory for the cache blocks/,
    );
    expect(starts).toEqual(['baseline resident', 'baseline sleep', 'patched sleep']);
    expect(e2e.swap).toBe('sleep');
    expect(e2e.method).toMatch(/after falling back: resident → sleep/);
    expect(log).toMatch(/baseline arm woken in/);
    const [cell] = e2e.cells;
    expect(cell.status).toBe('ok');
    // the baseline sample after the wake is within noise of the one before
    expect(Math.abs(cell.baseline[1] / cell.baseline[0] - 1)).toBeLessThan(0.03);
  });

  it('sleep mode that fails falls back to restarts', { timeout: 60_000 }, async () => {
    const { e2e, log, starts } = await serveAb({ FAKE_VLLM_SLEEP: 'broken' }, { swap: 'sleep' });
    expect(log).toMatch(/POST \/sleep\?level=1 answered HTTP 500/);
    expect(e2e.swap).toBe('restart');
    expect(starts.slice(0, 2)).toEqual(['baseline sleep', 'patched restart']);
    expect(e2e.cells[0].status).toBe('ok');
    expect(e2e.cells[0].patched).toHaveLength(2);
  });

  it('restart: a server per arm change of the order, as planned', { timeout: 60_000 }, async () => {
    const { e2e, starts } = await serveAb({}, { swap: 'restart', shapes: SHAPES.slice(0, 2) });
    // A B B A over both cells: three server visits
    expect(starts).toEqual(['baseline restart', 'patched restart', 'baseline restart']);
    expect(e2e.plan?.serverStarts).toBe(3);
    expect(e2e.cells.map((c) => c.status)).toEqual(['ok', 'ok']);
  });
});

describe('the run on the fake vLLM', () => {
  it('stops when the budget is spent: finished cells kept, the rest not run (budget)', {
    timeout: 60_000,
  }, async () => {
    // ten minutes a bench run: the budget of 35 is spent after the first cell's four runs
    const { e2e, step, log } = await serveAb(
      {},
      { model: 'm', shapes: SHAPES.slice(0, 2), budgetMinutes: 35 },
      10,
    );
    expect(e2e.cells[0]).toMatchObject({ status: 'ok' });
    expect(e2e.cells[0].baseline).toHaveLength(2);
    expect(e2e.cells[1]).toMatchObject({ status: 'not-run', reason: 'not run (budget): 0 of 2 pairs done' });
    expect(step.benches).toBe(4);
    expect(log).toContain('e2e budget of 35 min spent after 40.0 min: stopping');
  });

  it('a later look starts only when the minutes left pay for it, at what its pairs cost so far', {
    timeout: 60_000,
  }, async () => {
    // two pairs a look, at most four; ten minutes a bench run, so a look costs 40 minutes
    const method = { ...oneLook(2), maxPairs: 4 };
    const short = await serveAb(
      {},
      { model: 'm', shapes: SHAPES.slice(0, 1), method, budgetMinutes: 75 },
      10,
    );
    expect(short.step.benches).toBe(4);
    expect(short.e2e.cells[0]).toMatchObject({ status: 'ok', reruns: 0 });
    const long = await serveAb({}, { model: 'm', shapes: SHAPES.slice(0, 1), method, budgetMinutes: 85 }, 10);
    expect(long.step.benches).toBe(8);
    expect(long.log).toContain('look 2: in1024-out1024-c4 (2 pairs) goes on for 2 more pairs');
    expect(long.e2e.cells[0]).toMatchObject({ status: 'ok', reruns: 1 });
    expect(long.e2e.cells[0].baseline).toHaveLength(4);
  });

  it('a run with failed requests is repeated once; failing again marks the cell', {
    timeout: 60_000,
  }, async () => {
    const once = await serveAb({ FAKE_VLLM_BENCH: 'partial-once' });
    expect(once.log).toMatch(
      /4 of 16 requests failed in e2e\/in1024-out1024-c4-baseline-r1\.json; repeating/,
    );
    expect(once.e2e.cells[0].status).toBe('ok');
    expect(once.e2e.cells[0].baseline).toHaveLength(2);
    const always = await serveAb({ FAKE_VLLM_BENCH: 'partial' });
    expect(always.e2e.cells[0]).toMatchObject({ status: 'failed', baseline: [], patched: [] });
    expect(always.e2e.cells[0].reason).toContain(
      '4 of 16 requests failed, also when repeated: not a clean sample',
    );
    expect(always.step.benches).toBe(2);
  });

  it("gives the bench the served model's local tokenizer, so it needs no network", {
    timeout: 60_000,
  }, async () => {
    const hub = await tempDir('vkci-hub-');
    const repo = join(hub, 'models--Qwen--Qwen1.5-MoE-A2.7B');
    await mkdir(join(repo, 'snapshots', 'abc123'), { recursive: true });
    await mkdir(join(repo, 'refs'), { recursive: true });
    await writeFile(join(repo, 'refs', 'main'), 'abc123');
    await writeFile(join(repo, 'snapshots', 'abc123', 'tokenizer.json'), '{}');
    const cached = await serveAb({ FAKE_HF_OFFLINE: '1', HF_HUB_CACHE: hub });
    expect(cached.log).toContain(`--tokenizer ${join(repo, 'snapshots', 'abc123')}`);
    expect(cached.e2e.cells[0].status).toBe('ok');
    const offline = await serveAb({ FAKE_HF_OFFLINE: '1', HF_HUB_CACHE: await tempDir('vkci-hub-') });
    expect(offline.log).toContain('is not in the local Hugging Face cache');
    expect(offline.e2e.cells[0].reason).toContain("couldn't connect to 'https://huggingface.co'");
  });

  it("the plan's minutes match the fake's timing", { timeout: 60_000 }, async () => {
    // the fake's rates as a table: 1000 tok/s at concurrency 16, scaled as the plan assumes
    const rates: ThroughputRates = {
      ...PUBLISHED_MI355X_QWEN3_NEXT,
      points: [{ inputLen: 1024, outputLen: 1024, tokPerS: 1000 }],
      serverStartMinutes: 0,
      sleepSwapSeconds: 0,
    };
    const scale = 0.02;
    const { e2e, log } = await serveAb(
      { FAKE_TIME_SCALE: String(scale), FAKE_NOISE: '0', FAKE_GATE_GAIN: '0' },
      { rates, concurrencies: [16] },
    );
    // the plan the runner logged and recorded is the one for its inputs
    const plan = expectPlannedTime(log, rates, scale);
    expect(e2e.plan?.estimatedMinutes).toBeCloseTo(plan.estimatedMinutes, 1);
  });
});

describe('rates measured on the runner (e2e-rates)', () => {
  const withE2e = (e2e: E2e): RunResult => ({ ...fullRun(), e2e });
  const cell = (id: string, input: number, output: number, c: number, baseline: number[]): E2eCell => ({
    id,
    params: { input_len: input, output_len: output, concurrency: c },
    metric: 'output_throughput',
    unit: 'tok/s',
    higherIsBetter: true,
    baseline,
    patched: baseline,
    status: 'ok',
    reruns: 0,
  });

  it('takes each finished cell at its own concurrency, and the timings the run measured', () => {
    const run = withE2e({
      backend: 'vllm-serve',
      method: 'm',
      model: 'Qwen/Qwen3-30B-A3B',
      cells: [
        cell('in1024-out1024-c4', 1024, 1024, 4, [300, 310, 320]),
        cell('in1024-out1024-c64', 1024, 1024, 64, [2000, 2100]),
        { ...cell('in8192-out1024-c4', 8192, 1024, 4, []), status: 'failed' },
      ],
      plan: {
        estimatedMinutes: 1,
        serverStarts: 2,
        fitted: [],
        measured: { serverStartSeconds: [300, 420], swapSeconds: [12, 14, 40] },
      },
    });
    const rates = ratesFromRun(run, 'Qwen/Qwen3-30B-A3B', PUBLISHED_MI355X_QWEN3_NEXT);
    expect(rates.points).toEqual([
      { inputLen: 1024, outputLen: 1024, concurrency: 4, tokPerS: 310 },
      { inputLen: 1024, outputLen: 1024, concurrency: 64, tokPerS: 2050 },
    ]);
    expect(rates.serverStartMinutes).toBe(6);
    expect(rates.sleepSwapSeconds).toBe(14);
    expect(rates.source).toMatch(/^measured on h100-1 \(.+\) by the run of .+: 2 cells' baseline tok\/s/);
    // a measured cell is taken as measured; another concurrency scales from the nearest measured one
    const shape = { inputLen: 1024, outputLen: 1024 };
    expect(throughputAt(rates, shape, 4)).toBe(310);
    expect(throughputAt(rates, shape, 8)).toBeCloseTo(310 * 2 ** 0.73, 6);
    expect(throughputAt(rates, shape, 32)).toBeCloseTo(2050 * 0.5 ** 0.73, 6);
    const plan = planServeAb({
      model: 'Qwen/Qwen3-30B-A3B',
      shapes: [shape],
      concurrencies: [4],
      repeats: 2,
      swap: { method: 'sleep', why: '' },
      rates,
    });
    expect(plan.assumptions.join('\n')).toContain(
      'a server start (weights, compile, CUDA graphs) takes 6 min (measured); a sleep-mode swap 14 s (measured)',
    );
    expect(ratesFromRun(run, 'other/model', PUBLISHED_MI355X_QWEN3_NEXT).source).toContain(
      'measured with Qwen/Qwen3-30B-A3B, not other/model',
    );
  });

  it("sets the warm-up's tolerance from the noise the earlier run measured: 2√2 × its CV, within 0.5–5%", () => {
    // a quiet runner: every baseline run within ±0.2% of its neighbours, as on the lent H200
    const quiet = [1000, 1002, 999, 1001, 998, 1002, 1000, 999];
    const run = withE2e({
      backend: 'vllm-serve',
      method: 'm',
      model: 'm',
      cells: [
        cell('a', 1024, 1024, 4, quiet),
        cell(
          'b',
          1024,
          1024,
          16,
          quiet.map((x) => 3 * x),
        ),
      ],
    });
    const rates = ratesFromRun(run, 'm', PUBLISHED_MI355X_QWEN3_NEXT);
    const cv = armsSpread(run.e2e?.cells ?? [])?.baselineCvPct ?? Number.NaN;
    expect(rates.runCvPct).toBeCloseTo(cv, 2);
    const tolerance = steadyTolerancePct(rates);
    expect(tolerance.pct).toBeCloseTo(Math.max(0.5, 2 * Math.SQRT2 * cv), 2);
    expect(tolerance.pct).toBeLessThan(STEADY_TOLERANCE_PCT);
    const plan = planServeAb({
      model: 'm',
      shapes: [{ inputLen: 1024, outputLen: 1024 }],
      concurrencies: [4],
      repeats: 2,
      swap: { method: 'sleep', why: '' },
      rates,
      warmup: true,
    });
    expect(plan.assumptions.join('\n')).toContain(
      `until two warm-up runs agree within ${tolerance.pct}% (2√2 × the ${rates.runCvPct}% run-to-run CV the earlier run measured;`,
    );
    // unknown noise: the assumed 2%; a very noisy or a noiseless figure stays within the bounds
    expect(steadyTolerancePct({})).toEqual({ pct: STEADY_TOLERANCE_PCT, why: 'assumed' });
    expect(steadyTolerancePct({ runCvPct: 4 }).pct).toBe(5);
    expect(steadyTolerancePct({ runCvPct: 0.01 }).pct).toBe(0.5);
  });

  it('refuses a RunResult without a finished vllm-serve cell, saying what it lacks', () => {
    const model = withE2e({ backend: 'model', method: 'm', model: 'x', cells: [] });
    expect(() => ratesFromRun(model, 'x', PUBLISHED_MI355X_QWEN3_NEXT)).toThrow(
      'has no vllm-serve e2e (its backend was model)',
    );
    const none = withE2e({ backend: 'vllm-serve', method: 'm', model: 'x', cells: [] });
    expect(() => ratesFromRun(none, 'x', PUBLISHED_MI355X_QWEN3_NEXT)).toThrow(
      'has no finished vllm-serve cell',
    );
  });

  it("a pilot's RunResult predicts the next run's minutes on the same runner", {
    timeout: 60_000,
  }, async () => {
    // the fake runs at 700 tok/s at concurrency 16, not the published 1243.82: the pilot finds out
    const scale = 0.02;
    const fake = { FAKE_TIME_SCALE: String(scale), FAKE_NOISE: '0', FAKE_GATE_GAIN: '0', FAKE_TPUT: '700' };
    const pilot = await serveAb(fake, { swap: 'sleep', concurrencies: [16] });
    expect(pilot.e2e.plan?.measured?.serverStartSeconds).toHaveLength(2);
    // A B B A: the second baseline run wakes its server
    expect(pilot.e2e.plan?.measured?.swapSeconds).toHaveLength(1);
    const file = join(await tempDir('vkci-rates-'), 'run-result.json');
    await writeFile(file, JSON.stringify(withE2e(pilot.e2e)));
    const { rates, warning } = await planRates('Qwen/Qwen1.5-MoE-A2.7B', file);
    expect(warning).toBeUndefined();
    expect(rates.points).toEqual([{ inputLen: 1024, outputLen: 1024, concurrency: 16, tokPerS: 700 }]);

    const next = await serveAb(fake, { swap: 'sleep', concurrencies: [16], rates });
    expectPlannedTime(next.log, rates, scale);
    expect(next.e2e.plan?.rates).toMatch(/^measured on /);
  });

  it('--plan --e2e-rates: the measured figures, or a warning and the published ones', {
    timeout: 60_000,
  }, async () => {
    const dir = await tempDir('vkci-rates-');
    const file = join(dir, 'run-result.json');
    await writeFile(
      file,
      JSON.stringify(
        withE2e({
          backend: 'vllm-serve',
          method: 'm',
          model: 'Qwen/Qwen3-Next-80B-A3B-Instruct-FP8',
          swap: 'sleep',
          cells: [cell('in1024-out1024-c16', 1024, 1024, 16, [2500, 2500])],
          plan: {
            estimatedMinutes: 1,
            serverStarts: 2,
            fitted: [],
            measured: { serverStartSeconds: [240], swapSeconds: [] },
          },
        }),
      ),
    );
    const base = ['dist/cli.js', 'validate', '--plan', '--json', '--e2e-backend', 'vllm-serve'];
    const measured = await runNode([...base, '--e2e-rates', file], { PATH: process.env.PATH ?? '' });
    expect(measured.code).toBe(0);
    const plan = JSON.parse(measured.stdout);
    expect(plan.rates).toMatch(/^measured on h100-1/);
    // the pilot's runner slept its idle arm: the plan away from the runner does the same
    expect(plan.swap).toBe('sleep');
    expect(plan.swapWhy).toMatch(/^as the run the rates come from swapped on /);
    expect(plan.assumptions.join('\n')).toContain(
      'a server start (weights, compile, CUDA graphs) takes 4 min (measured); a sleep-mode swap 20 s (assumed)',
    );
    const missing = await runNode([...base, '--e2e-rates', join(dir, 'nope.json')], {
      PATH: process.env.PATH ?? '',
    });
    expect(missing.code).toBe(0);
    expect(missing.stderr).toContain(`warning: e2e-rates ${join(dir, 'nope.json')}`);
    expect(JSON.parse(missing.stdout).rates).toMatch(/^published MI355X figures .*not used\)$/);
  });
});

/**
 * The four bench runs of one cell (1024/1024, concurrency 16, 2 repeats) took the minutes the plan gives them at
 * `rates`, scaled as the fake's time scale: it sleeps exactly the simulated time, plus under a second of process
 * start a run. Returns the plan.
 */
function expectPlannedTime(log: string, rates: ThroughputRates, scale: number): E2ePlan {
  const benchSeconds = [...log.matchAll(/Output token throughput[^\n]*\n\[exit 0, ([\d.]+) s\]/g)].map((m) =>
    Number(m[1]),
  );
  expect(benchSeconds).toHaveLength(4);
  const plan = planServeAb({
    model: 'm',
    shapes: [{ inputLen: 1024, outputLen: 1024 }],
    concurrencies: [16],
    repeats: 2,
    swap: { method: 'sleep', why: '' },
    rates,
  });
  // the plan's minutes are for the expected pairs: the four runs' share of them
  const cell = running(plan)[0];
  const planned = (cell.estimatedMinutes / cell.runs) * 4 * 60 * scale;
  const measured = benchSeconds.reduce((a, b) => a + b, 0);
  expect(measured).toBeGreaterThan(planned * 0.95);
  expect(measured).toBeLessThan(planned + 4 * 1.0);
  return plan;
}

describe('the sequential rule on the fake vLLM', () => {
  // A/A, one look of 4 pairs, at most 8: the c4 cells are quiet, the c16 cells noisy
  const method = { ...sequentialMethod(2), maxPairs: 8 };
  const run = () =>
    serveAb(
      { FAKE_NOISE: '0.001', FAKE_NOISE_C16: '0.3' },
      { aa: true, shapes: SHAPES.slice(0, 2), concurrencies: [4, 16], method, model: 'm' },
    );

  it('stops a clean cell at the first look and goes on with an undecided one, as validate, report and simulate judge it', {
    timeout: 120_000,
  }, async () => {
    const { e2e, log } = await run();
    const pairs = e2e.cells.map((c) => `${c.id} ${c.baseline.length}`);
    expect(pairs).toEqual([
      'in1024-out1024-c4 4',
      'in1024-out1024-c16 8',
      'in1024-out8192-c4 4',
      'in1024-out8192-c16 8',
    ]);
    expect(log).toContain(
      'look 2: in1024-out1024-c16 (4 pairs), in1024-out8192-c16 (4 pairs) go on for 4 more pairs',
    );
    // the report's verdicts, from the RunResult alone
    const result: RunResult = { ...fullRun(), e2e, verdicts: { ...method, repeats: 4 } };
    const report = analyseRuns([result], { minEffectPct: 2, failOnRegression: false });
    const verdicts = report.runners[0].compared.map(({ comparison }) => comparison.verdict);
    expect(verdicts[0]).toBe('no-significant-change');
    expect(verdicts[2]).toBe('no-significant-change');
    // the noisy cells were undecided at the first look, so they went on
    const first = judgeSequential(
      e2e.cells.map((c) => ({ ...c, baseline: c.baseline.slice(0, 4), patched: c.patched.slice(0, 4) })),
      method,
    );
    expect(first.map((c) => c.verdict === 'too-noisy' || c.verdict === 'insufficient-data')).toEqual([
      false,
      true,
      false,
      true,
    ]);
    // simulate's looks over the same samples stop each cell where the runner did, with the same verdicts
    const replay = runLooks(e2e.cells, method);
    expect(replay.map((c) => c.baseline.length)).toEqual(e2e.cells.map((c) => c.baseline.length));
    const again = analyseRuns([{ ...result, e2e: { ...e2e, cells: replay } }], {
      minEffectPct: 2,
      failOnRegression: false,
    });
    expect(again.runners[0].compared.map(({ comparison }) => comparison.verdict)).toEqual(verdicts);
    expect(again.verdict).toEqual(report.verdict);
  });
});
