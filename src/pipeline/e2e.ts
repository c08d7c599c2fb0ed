// Step e2e: the A/B of baseline against patched, with vllm serve + vllm bench serve or the bundle's model driver.
import { mkdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { WorkloadShape } from '../config.js';
import type { VerdictMethod } from '../report/model.js';
import { type BenchServeResult, parseBenchServe } from '../results/parsers/bench-serve.js';
import { parseE2eModel } from '../results/parsers/e2e-model.js';
import type { ArmIntegrity, Device, E2e, E2eCell } from '../results/run-result.js';
import { isInside, readNoFollow, takeOutput } from '../security/files.js';
import type { SandboxSpec } from '../security/sandbox.js';
import { driftOf } from '../stats/drift.js';
import { lookSettings, nextServed } from '../stats/sequential.js';
import { judgeIntegrity, readProbeRecords, sharedExpertLayers, summariseProbe } from './arm-probe.js';
import { BenchSession } from './bench-session.js';
import {
  type ArmKey,
  blocksUsed,
  chooseSwap,
  counterbalancedOrder,
  defaultNumPrompts,
  describePlan,
  type E2ePlan,
  GATE_ENV,
  gateSwitchArms,
  MAX_WARMUPS,
  maxModelLen,
  planServeAb,
  promptsForRun,
  ratesFor,
  round1,
  running,
  type ServeArms,
  type SwapMethod,
  steadyTolerancePct,
  type ThroughputRates,
} from './e2e-plan.js';
import { type CommandResult, lastLine } from './process.js';
import type { VllmServer } from './serve.js';
import { ServerError } from './serve.js';
import { type ArmProbeSetup, ArmServers } from './serve-arms.js';
import { gpuMemoryTotalGiB, hubCacheDir, localModelDir, weightsGiB } from './serve-model.js';
import { fail, oneLine, type StepHandle } from './step.js';

export { cellId, defaultNumPrompts, GATE_ENV } from './e2e-plan.js';

export interface ServeAbOptions {
  vllm: string;
  model: string;
  tensorParallelSize: number;
  shapes: WorkloadShape[];
  concurrencies: number[];
  /** pairs a cell the plan must afford within the budget */
  repeats: number;
  /** A/A: both arms run the baseline (with the default arms) */
  aa?: boolean;
  /** the two arms; the bundle's gate switch off and on when absent */
  arms?: ServeArms;
  env: Record<string, string | undefined>;
  cwd?: string;
  vendor: Device['vendor'];
  readyTimeoutMs: number;
  benchTimeoutMs: number;
  /** waits for GPU memory to drop back after a server stops; false when it did not in time */
  waitForGpuMemory: () => Promise<boolean>;
  /** the verdict method (the sequential rule) whose looks decide which cells run more pairs */
  method: VerdictMethod;
  pickPort?: () => Promise<number>;
  /** prompts per cell for a concurrency */
  numPrompts?: (concurrency: number) => number;
  seed?: number;
  /** forces a swap method; else chosen from the card's memory and the weights */
  swap?: SwapMethod;
  /** memory of one card and the model's weights, GiB, for the fits-twice check */
  cardMemoryGiB?: number;
  weightsGiB?: number;
  /** minutes the e2e may take: the plan is fitted to it, and the run stops when it is spent */
  budgetMinutes?: number;
  rates?: ThroughputRates;
  /** the rates are another model's (the published table for a model without figures) */
  ratesAssumed?: boolean;
  /** what `vllm bench serve --tokenizer` gets: the served model's local files, so no download is needed */
  tokenizer?: string;
  /** ms clock for the budget; performance.now by default */
  clock?: () => number;
  /** seconds of requests a run lasts at least: prompts follow from the first warm-up's throughput */
  runSeconds?: number;
  /** each arm warms up on each cell until steady (true unless turned off) */
  warmup?: boolean;
  /** runs every bench through one session (kernels/bench_session.py on this python) instead of a CLI per run */
  benchSession?: { python: string; script: string };
  /** the arm probe (kernels/arm_probe) and how many layers the model's gate sits in */
  probe?: ArmProbeSetup & { expectedLayers?: number };
}

/** The options with the sandbox the servers and the bench client run in (serveSandbox), and how a bench runs. */
type ServeRunOptions = ServeAbOptions & {
  sandbox?: SandboxSpec;
  bench?: (args: readonly string[]) => Promise<CommandResult>;
};

/** `vllm bench serve` flags, as vllm/benchmarks/serve.py and datasets.py define them. */
export function benchArgs(o: {
  model: string;
  tokenizer?: string;
  port: number;
  shape: WorkloadShape;
  concurrency: number;
  numPrompts: number;
  seed: number;
  resultDir: string;
  resultFilename: string;
  label: string;
  metadata: Record<string, string>;
}): string[] {
  return [
    'bench',
    'serve',
    '--backend',
    'openai',
    '--model',
    o.model,
    '--tokenizer',
    o.tokenizer ?? o.model,
    '--host',
    '127.0.0.1',
    '--port',
    String(o.port),
    '--endpoint',
    '/v1/completions',
    '--dataset-name',
    'random',
    '--random-input-len',
    String(o.shape.inputLen),
    '--random-output-len',
    String(o.shape.outputLen),
    '--random-range-ratio',
    '0.0',
    '--num-prompts',
    String(o.numPrompts),
    '--max-concurrency',
    String(o.concurrency),
    '--request-rate',
    'inf',
    '--num-warmups',
    String(o.concurrency),
    '--ignore-eos',
    '--seed',
    String(o.seed),
    '--percentile-metrics',
    'ttft,tpot,itl',
    '--metric-percentiles',
    '99',
    '--save-result',
    '--result-dir',
    o.resultDir,
    '--result-filename',
    o.resultFilename,
    '--label',
    o.label,
    '--metadata',
    ...Object.entries(o.metadata).map(([k, v]) => `${k}=${v}`),
  ];
}

function formatDuration(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** "cells 3/18 done, elapsed 4 min, about 20 min left" */
export function progressLine(done: number, total: number, elapsedS: number): string {
  const left = done > 0 ? (elapsedS / done) * (total - done) : undefined;
  return `${done}/${total} done, elapsed ${formatDuration(elapsedS)}${left !== undefined ? `, about ${formatDuration(left)} left` : ''}`;
}

/** One bench run in execution order: which cell, which arm, the arm's n-th sample in that cell. */
export interface ScheduledRun {
  cell: number;
  arm: ArmKey;
  /** place in the look's order */
  position: number;
  /** 1-based sample number of this arm in this cell */
  repeat: number;
  /** 0: the first look of every cell; later looks go on where the cell's pairs ended */
  look: number;
}

/**
 * One look's runs: each cell's next `pairs` pairs, going on in its counterbalanced order where its `done` pairs
 * ended. Cell by cell when arms swap cheaply (a cell finishes before the next starts, so a budget stop leaves whole
 * cells); position by position over all cells when a swap is a restart.
 */
export function scheduleRuns(
  cells: readonly { done: number }[],
  pairs: number,
  method: SwapMethod,
  look = 0,
): ScheduledRun[] {
  const runs: ScheduledRun[] = [];
  cells.forEach(({ done }, cell) => {
    const seen: Record<ArmKey, number> = { baseline: done, patched: done };
    counterbalancedOrder(pairs, blocksUsed(done)).forEach((arm, position) => {
      seen[arm] += 1;
      runs.push({ cell, arm, position, repeat: seen[arm], look });
    });
  });
  return method === 'restart' ? byPosition(runs) : runs;
}

function byPosition(runs: ScheduledRun[]): ScheduledRun[] {
  return [...runs].sort((a, b) => a.position - b.position || a.cell - b.cell);
}

interface CellState {
  cell: E2eCell;
  shape: WorkloadShape;
  concurrency: number;
  prompts: number;
  /** seconds of requests a run lasts at least; undefined: a fixed prompt count */
  minRunSeconds?: number;
  /** two consecutive warm-up runs within this much, %: steady (steadyTolerancePct) */
  steadyPct: number;
  /** the budget's factor on prompts, for re-sizing from a warm-up */
  promptFactor: number;
  /** sized from a measured warm-up already (both arms then run the same prompts) */
  sized: boolean;
  /** the server each arm last warmed up on this cell: a new server (a restart) warms up again */
  warmedOn: Partial<Record<ArmKey, VllmServer>>;
  reasons: string[];
  /** pairs of its first look, for "k of n pairs" on a budget stop */
  planned: number;
  /** minutes its samples took, for what its next look costs the budget */
  sampleMinutes: number;
}

const pairsOf = (cell: E2eCell) => Math.min(cell.baseline.length, cell.patched.length);

const NOT_RUN_BUDGET = 'not run (budget)';

/**
 * vllm serve and its bench client are the tree's code: in the step's sandbox on the host's network (the tool
 * polls the server and the client connects to it), writing only the raw results and the probe's records, with
 * the model's directory read-only. Inside, the model comes from the local cache with no token, so a model not
 * there stops the e2e before any server starts.
 */
function serveSandbox(
  step: StepHandle,
  o: {
    model: string;
    modelDir?: string;
    env: Record<string, string | undefined>;
    writable: string[];
  },
): { sandbox: SandboxSpec; env: Record<string, string | undefined> } {
  const hub = hubCacheDir(o.env);
  // a cached snapshot links into the repository's blobs/: the whole models--org--name directory is readable
  const model =
    o.modelDir && o.modelDir !== hub && isInside(o.modelDir, hub)
      ? join(hub, relative(hub, o.modelDir).split('/')[0])
      : o.modelDir;
  // the trees, the probe, the venv and a local model the commands name are readable (namedPaths)
  const readable = model ? [model] : [];
  const sandbox = step.sandbox({ writable: o.writable, readable, network: 'host' });
  if (sandbox.kind !== 'bwrap') return { sandbox, env: o.env };
  if (!o.modelDir)
    throw fail(
      `${o.model} is not in the local Hugging Face cache (${hub}), and vllm serve in the sandbox gets no token and no cache to download into: ` +
        `download it once on the runner (hf download ${o.model}), or pass a local directory as model`,
    );
  return { sandbox, env: { ...o.env, HF_HUB_CACHE: hub, HF_HUB_OFFLINE: '1' } };
}

/**
 * The vllm-serve A/B: the plan, then each cell's first look on the arms' servers, then look after look the cells
 * the sequential rule keeps open (nextServed: all of them, or with a budget the one nearest a call).
 */
export async function runServeAb(step: StepHandle, given: ServeAbOptions): Promise<E2e> {
  let o: ServeRunOptions = given;
  const arms = o.arms ?? gateSwitchArms(o.aa);
  const { rates, assumed } = o.rates
    ? { rates: o.rates, assumed: o.ratesAssumed ?? false }
    : ratesFor(o.model);
  const modelDir = await localModelDir(o.model, o.env);
  const probe = o.probe && {
    ...o.probe,
    expectedLayers:
      o.probe.expectedLayers ??
      (modelDir
        ? sharedExpertLayers(
            await readFile(join(modelDir, 'config.json'), 'utf8')
              .then((t) => JSON.parse(t) as unknown)
              .catch(() => undefined),
          )
        : undefined),
  };
  const tokenizer = o.tokenizer ?? modelDir;
  await step.log(
    tokenizer
      ? `tokenizer for vllm bench serve: ${tokenizer}`
      : `${o.model} is not in the local Hugging Face cache (${hubCacheDir(o.env)}): the bench will look its tokenizer up online`,
  );
  const swap = o.swap
    ? { method: o.swap, why: 'asked for' }
    : chooseSwap({
        cardMemoryGiB:
          o.cardMemoryGiB ??
          (await gpuMemoryTotalGiB(
            (file, args) => step.run(file, args, { env: o.env, timeoutMs: 120_000 }),
            o.vendor,
          )),
        weightsGiB: o.weightsGiB ?? (modelDir ? await weightsGiB(modelDir) : undefined),
        tensorParallelSize: o.tensorParallelSize,
        vendor: o.vendor,
      });
  const plan = planServeAb({
    model: o.model,
    shapes: o.shapes,
    concurrencies: o.concurrencies,
    repeats: o.repeats,
    swap,
    rates,
    ratesAssumed: assumed,
    budgetMinutes: o.budgetMinutes,
    numPrompts: o.numPrompts,
    runSeconds: o.runSeconds,
    warmup: o.warmup ?? true,
    minEffectPct: o.method.minEffectPct,
  });
  for (const line of describePlan(plan)) await step.log(line);

  const rawDir = join(step.outDir, 'e2e');
  await mkdir(rawDir, { recursive: true });
  if (probe) await mkdir(probe.recordsDir, { recursive: true });
  const boxed = serveSandbox(step, {
    model: o.model,
    modelDir,
    env: o.env,
    writable: [rawDir, ...(probe ? [probe.recordsDir] : [])],
  });
  o = { ...o, env: boxed.env, sandbox: boxed.sandbox };
  // the client runs the baseline arm's vLLM (a PR's base commit, never its head), so the code under test does not
  // measure itself
  const clientEnv = { ...o.env, ...arms.baseline.env };
  const client = new BenchSession(step, {
    session: o.benchSession,
    vllm: o.vllm,
    env: clientEnv,
    cwd: o.cwd,
    sandbox: o.sandbox,
  });
  const timeoutMs = o.benchTimeoutMs;
  o = { ...o, bench: (args) => client.run(args, timeoutMs) };
  const clock = o.clock ?? (() => performance.now());
  const started = clock();
  const { lookEvery } = lookSettings(o.method);
  const steadyPct = steadyTolerancePct(rates).pct;
  const states: CellState[] = running(plan).map((c) => ({
    cell: newCell(c.id, c.inputLen, c.outputLen, c.concurrency),
    shape: { inputLen: c.inputLen, outputLen: c.outputLen },
    concurrency: c.concurrency,
    prompts: c.promptsPerRun,
    minRunSeconds: c.minRunSeconds,
    steadyPct,
    promptFactor:
      plan.cells.length > 0 && o.runSeconds ? (c.minRunSeconds ?? o.runSeconds) / o.runSeconds : 1,
    sized: c.minRunSeconds === undefined,
    warmedOn: {},
    reasons: [],
    planned: lookEvery,
    sampleMinutes: 0,
  }));
  const droppedCells = plan.cells
    .filter((c) => c.dropped)
    .map((c) => ({
      ...newCell(c.id, c.inputLen, c.outputLen, c.concurrency),
      status: 'not-run' as const,
      reason: c.dropped,
    }));
  const servers = new ArmServers(step, {
    vllm: o.vllm,
    model: o.model,
    tensorParallelSize: o.tensorParallelSize,
    arms,
    env: o.env,
    cwd: o.cwd,
    readyTimeoutMs: o.readyTimeoutMs,
    maxModelLen: maxModelLen(o.shapes),
    method: plan.swap,
    pickPort: o.pickPort,
    waitForGpuMemory: o.waitForGpuMemory,
    probe,
    sandbox: o.sandbox,
  });
  const noteFailure = (s: CellState, why: string) => {
    s.cell.status = 'failed';
    s.reasons.push(why);
    s.cell.reason = oneLine(s.reasons.join('; '), 600);
  };
  let stopReason: string | undefined;
  let budgetSpent = false;
  let done = 0;
  let total = 0;

  const execute = async (queue: ScheduledRun[], targets: CellState[]) => {
    total += queue.length;
    let method = servers.method;
    while (queue.length > 0) {
      // a fall-back to restarts mid-run regroups what is left, so it does not restart per run
      if (servers.method !== method) {
        method = servers.method;
        if (method === 'restart') queue.splice(0, queue.length, ...byPosition(queue));
      }
      const run = queue.shift() as ScheduledRun;
      const s = targets[run.cell];
      done += 1;
      if (s.cell.status !== 'ok') continue;
      if (stopReason) {
        noteFailure(s, stopReason);
        continue;
      }
      const spentMin = (clock() - started) / 60_000;
      if (o.budgetMinutes !== undefined && spentMin >= o.budgetMinutes) {
        if (!budgetSpent)
          await step.log(
            `e2e budget of ${o.budgetMinutes} min spent after ${spentMin.toFixed(1)} min: stopping`,
          );
        budgetSpent = true;
        // a cut later look keeps the pairs it has: the cell was judged before it started
        if (run.look > 0) continue;
        s.cell.status = 'not-run';
        s.cell.reason = `${NOT_RUN_BUDGET}: ${pairsOf(s.cell)} of ${s.planned} pairs done`;
        continue;
      }
      const where = `${run.arm} arm, repeat ${run.repeat}${run.look > 0 ? `, look ${run.look + 1}` : ''}`;
      let server: Awaited<ReturnType<ArmServers['use']>>;
      try {
        server = await servers.use(run.arm);
      } catch (error) {
        const why = error instanceof Error ? error.message : String(error);
        if (!(error instanceof ServerError)) throw error;
        // a server that never came up once will not come up for the next arm either
        if (!servers.anyReady) stopReason = `${why}; e2e stopped`;
        noteFailure(s, `${where}: ${why}`);
        continue;
      }
      if ((o.warmup ?? true) && s.warmedOn[run.arm] !== server) {
        const warm = await warmUp(
          step,
          o,
          s,
          run,
          server,
          rawDir,
          arms,
          tokenizer,
          servers.timings.clientStartSeconds,
        );
        if (warm.kind !== 'sample') {
          if (warm.kind === 'died') await servers.forget(run.arm);
          noteFailure(s, `${where}, warm-up: ${warm.why}`);
          continue;
        }
        s.warmedOn[run.arm] = server;
      }
      const before = clock();
      const outcome = await benchOnce(
        step,
        o,
        s,
        run,
        server,
        rawDir,
        arms,
        tokenizer,
        undefined,
        servers.timings.clientStartSeconds,
      );
      if (outcome.kind === 'died') await servers.forget(run.arm);
      s.sampleMinutes += (clock() - before) / 60_000;
      if (outcome.kind === 'sample') s.cell[run.arm].push(outcome.value);
      else noteFailure(s, `${where}: ${outcome.why}`);
      await step.log(`e2e ${s.cell.id} ${where}: ${progressLine(done, total, (clock() - started) / 1000)}`);
    }
  };

  // every cell of the run, dropped ones too, as the report will judge them: the looks pool their scale
  const byId = new Map([...states.map((s) => s.cell), ...droppedCells].map((c) => [c.id, c]));
  const runCells = () => plan.cells.map((c) => byId.get(c.id) as E2eCell);
  const stateOf = new Map(states.map((s) => [s.cell, s]));
  try {
    await execute(
      scheduleRuns(
        states.map(() => ({ done: 0 })),
        lookEvery,
        plan.swap,
      ),
      states,
    );
    for (let look = 1; !stopReason && !budgetSpent; look++) {
      const cells = runCells();
      const left =
        o.budgetMinutes === undefined
          ? Number.POSITIVE_INFINITY
          : o.budgetMinutes - (clock() - started) / 60_000;
      const cost = cells.map((c) => (stateOf.get(c)?.sampleMinutes ?? 0) / Math.max(1, pairsOf(c)));
      const served = nextServed(cells, o.method, left, cost, lookEvery).map(
        (i) => stateOf.get(cells[i]) as CellState,
      );
      if (served.length === 0) break;
      await step.log(
        `look ${look + 1}: ${served.map((s) => `${s.cell.id} (${pairsOf(s.cell)} pairs)`).join(', ')} ${served.length === 1 ? 'goes' : 'go'} on for ${lookEvery} more pairs`,
      );
      for (const s of served) s.cell.reruns += 1;
      const queue = scheduleRuns(
        served.map((s) => ({ done: pairsOf(s.cell) })),
        lookEvery,
        servers.method,
        look,
      );
      await execute(queue, served);
    }
  } finally {
    await client.stop();
    await servers.stopAll();
  }
  for (const s of states) {
    const drift = s.cell.status === 'ok' ? driftOf(s.cell) : undefined;
    if (drift) s.cell.drift = drift;
  }
  const integrity = probe ? await armIntegrity(probe, arms) : undefined;
  if (integrity) await step.log(`arm integrity: ${integrity.status}: ${integrity.reason}`);
  if (integrity?.status === 'violated')
    for (const s of states) if (s.cell.status === 'ok') noteFailure(s, `arm integrity: ${integrity.reason}`);
  const cells = runCells();
  return {
    backend: 'vllm-serve',
    method: `${methodSentence(plan, servers, arms, o.method, o.aa)} ${integritySentence(integrity)}`,
    aa: o.aa ? true : undefined,
    swap: servers.method,
    plan: {
      estimatedMinutes: plan.estimatedMinutes,
      budgetMinutes: plan.budgetMinutes,
      serverStarts: servers.serverStarts,
      fitted: plan.fitted,
      rates: plan.rates,
      ...((o.warmup ?? true) ? { steadyPct } : {}),
      measured: servers.timings,
    },
    model: o.model,
    cells,
    ...(integrity ? { integrity } : {}),
  };
}

async function armIntegrity(
  probe: ArmProbeSetup & { expectedLayers?: number },
  arms: ServeArms,
): Promise<ArmIntegrity> {
  const module = probe.op.split(':')[0];
  const summary = async (arm: ArmKey) =>
    summariseProbe((await readProbeRecords(join(probe.recordsDir, arm))).records, arms[arm].claims, module);
  return judgeIntegrity(
    { baseline: await summary('baseline'), patched: await summary('patched') },
    { op: probe.op, expectedLayers: probe.expectedLayers },
  );
}

/**
 * Warms one arm's server on one cell's own workload until two consecutive warm-up runs agree within the cell's
 * steadyPct (steadyTolerancePct: the runner's noise when known), at most MAX_WARMUPS runs; the first run of a
 * time-sized cell sizes its prompts from the throughput it measured, for both arms. Records how many runs it took.
 */
async function warmUp(
  step: StepHandle,
  o: ServeRunOptions,
  s: CellState,
  run: ScheduledRun,
  server: VllmServer,
  rawDir: string,
  arms: ServeArms,
  tokenizer: string | undefined,
  clientStart: number[],
): Promise<BenchOutcome> {
  let previous: number | undefined;
  let last: BenchOutcome = { kind: 'failed', why: 'no warm-up ran' };
  let n = 0;
  const warmups = s.cell.warmups ?? { baseline: 0, patched: 0 };
  s.cell.warmups = warmups;
  while (n < MAX_WARMUPS) {
    n += 1;
    const sizing = !s.sized;
    // after the sizing run, half-length runs: the same batch shapes, less time
    const prompts = sizing ? s.prompts : Math.max(s.concurrency, Math.round(s.prompts / 2));
    last = await benchOnce(
      step,
      o,
      s,
      run,
      server,
      rawDir,
      arms,
      tokenizer,
      { tag: `warmup${n}`, prompts },
      clientStart,
    );
    if (last.kind !== 'sample') return last;
    if (sizing) {
      s.prompts = promptsForRun(s.shape, s.concurrency, last.value, {
        numPrompts: o.numPrompts ?? defaultNumPrompts,
        factor: s.promptFactor,
        minSeconds: s.minRunSeconds,
      });
      s.sized = true;
      await step.log(
        `${s.cell.id}: ${Math.round(last.value)} tok/s in the first warm-up: ${s.prompts} prompts a run for at least ${s.minRunSeconds} s`,
      );
      continue;
    }
    if (previous !== undefined && Math.abs(last.value / previous - 1) * 100 <= s.steadyPct) break;
    previous = last.value;
  }
  warmups[run.arm] += n;
  const steady =
    previous !== undefined &&
    last.kind === 'sample' &&
    Math.abs(last.value / previous - 1) * 100 <= s.steadyPct;
  await step.log(
    `${s.cell.id} ${run.arm} arm: ${steady ? 'steady' : 'not steady'} within ${s.steadyPct}% after ${n} warm-up runs`,
  );
  return last;
}

function newCell(id: string, inputLen: number, outputLen: number, concurrency: number): E2eCell {
  return {
    id,
    params: { input_len: inputLen, output_len: outputLen, concurrency },
    metric: 'output_throughput',
    unit: 'tok/s',
    higherIsBetter: true,
    baseline: [],
    patched: [],
    status: 'ok',
    reruns: 0,
  };
}

const SWAP_SENTENCE: Record<SwapMethod, string> = {
  resident: 'both servers resident, each with half of the GPU memory share',
  sleep: "one server per arm, the idle one parked in vLLM's sleep mode (level 1) and woken for its runs",
  restart: "the idle arm's server stopped and the other started at each arm change",
};

/** How a cell's pairs were run under the sequential rule, for both backends' method sentence. */
function looksSentence(method: VerdictMethod): string {
  const { lookEvery, maxPairs } = lookSettings(method);
  return `counterbalanced A B B A, B A A B in looks of ${lookEvery} pairs, a cell stopped once called or clear (at most ${maxPairs} pairs)`;
}

function methodSentence(
  plan: E2ePlan,
  servers: ArmServers,
  arms: ServeArms,
  method: VerdictMethod,
  aa?: boolean,
): string {
  const fell = servers.fallbacks.length > 0 ? ` (after falling back: ${servers.fallbacks.join('; ')})` : '';
  return (
    `vllm serve + vllm bench serve (random dataset, ignore-eos, max-concurrency = the cell's concurrency); ` +
    `baseline (${arms.baseline.label}) against patched (${arms.patched.label}) from one install, ` +
    `${looksSentence(method)}; ${SWAP_SENTENCE[servers.method]}${fell}, ` +
    `${servers.serverStarts} server starts; output throughput per run, a run with failed requests repeated once.` +
    (plan.fitted.length > 0
      ? ` Fitted to a ${plan.budgetMinutes}-min budget: ${plan.fitted.join('; ')}.`
      : '') +
    (aa ? ` A/A run: both arms ran with ${GATE_ENV}=0, so any change is noise.` : '')
  );
}

function integritySentence(integrity: ArmIntegrity | undefined): string {
  if (!integrity)
    return 'Arm integrity not checked (no op under test to watch): cannot tell whether the kernel ran.';
  const said = {
    ok: 'each arm ran what it claims',
    violated: 'VIOLATED',
    unknown: 'cannot tell whether the kernel ran',
  };
  return `Arm integrity (probe in each server, ${integrity.op}): ${said[integrity.status]}: ${integrity.reason}.`;
}

type BenchOutcome = { kind: 'sample'; value: number } | { kind: 'failed' | 'died'; why: string };

/** One bench run of one cell on one arm; a run with failed requests is repeated once, then the cell is marked. */
async function benchOnce(
  step: StepHandle,
  o: ServeRunOptions,
  s: CellState,
  run: ScheduledRun,
  server: { port: number; alive: boolean; deathNote(): Promise<string> },
  rawDir: string,
  arms: ServeArms,
  tokenizer: string | undefined,
  warm?: { tag: string; prompts: number },
  clientStart?: number[],
): Promise<BenchOutcome> {
  const base = warm ? `${s.cell.id}-${run.arm}-${warm.tag}` : `${s.cell.id}-${run.arm}-r${run.repeat}`;
  let partial: BenchServeResult | undefined;
  for (const attempt of [0, 1]) {
    const file = `${base}${attempt > 0 ? '-again' : ''}.json`;
    const r = await (o.bench as NonNullable<ServeRunOptions['bench']>)(
      benchArgs({
        model: o.model,
        tokenizer,
        port: server.port,
        shape: s.shape,
        concurrency: s.concurrency,
        numPrompts: warm?.prompts ?? s.prompts,
        seed: (o.seed ?? 0) + run.repeat - 1,
        resultDir: rawDir,
        resultFilename: file,
        label: warm ? `${run.arm}-${warm.tag}` : `${run.arm}-r${run.repeat}`,
        metadata: { arm: run.arm, repeat: String(run.repeat), cell: s.cell.id, ...arms[run.arm].env },
      }),
    );
    if (!server.alive)
      return { kind: 'died', why: `vllm serve died during the cell (${await server.deathNote()})` };
    if (r.timedOut)
      return {
        kind: 'failed',
        why: `vllm bench serve timed out after ${Math.round(o.benchTimeoutMs / 1000)} s`,
      };
    if (r.exitCode !== 0)
      return {
        kind: 'failed',
        why: `vllm bench serve exited ${r.exitCode ?? r.signal}: ${lastLine(r.output)}`,
      };
    let bench: BenchServeResult;
    try {
      // written by the tree's bench client: never followed through a link
      bench = parseBenchServe((await readNoFollow(join(rawDir, file))).toString('utf8'), `e2e/${file}`);
    } catch (error) {
      return { kind: 'failed', why: error instanceof Error ? error.message : String(error) };
    }
    // what the run took beyond its requests is the client's own start, which a plan must count per run
    if (bench.duration > 0 && r.seconds > bench.duration)
      clientStart?.push(round1(r.seconds - bench.duration));
    if (bench.failed === 0) return { kind: 'sample', value: bench.outputThroughput };
    partial = bench;
    await step.log(
      `${s.cell.id} ${run.arm} arm: ${bench.failed} of ${bench.failed + bench.completed} requests failed in e2e/${file}${attempt === 0 ? '; repeating the run once' : ''}`,
    );
  }
  const p = partial as BenchServeResult;
  return {
    kind: 'failed',
    why: `${p.failed} of ${p.failed + p.completed} requests failed, also when repeated: not a clean sample`,
  };
}

interface ModelAbOptions {
  python: string;
  script: string;
  cwd: string;
  /** the verdict method (the sequential rule) whose looks decide which cells run more pairs */
  method: VerdictMethod;
  aa?: boolean;
  /** `PATH::SYMBOL` (or `reference`) of each arm; default: the bundle's kernel against the reference */
  impls?: { baseline: string; patched: string };
  env: Record<string, string | undefined>;
  timeoutMs: number;
}

/**
 * The bundle's model-level driver (`e2e_model.py --json PATH --repeats N`): no server, no weights. A look of
 * `lookEvery` pairs of every cell, then of the cells the sequential rule keeps open (`--cells`, `--first-pair`
 * going on in the arm order), their pairs appended, as vllm-serve does.
 */
export async function runModelAb(step: StepHandle, o: ModelAbOptions): Promise<E2e> {
  const { lookEvery } = lookSettings(o.method);
  const e2e = await runModelOnce(step, o, 'e2e-model.json', lookEvery, []);
  for (let look = 1; ; look++) {
    const open = nextServed(e2e.cells, o.method, undefined, undefined, lookEvery).map((i) => e2e.cells[i]);
    if (open.length === 0) break;
    await step.log(
      `look ${look + 1}: ${open.map((c) => `${c.id} (${pairsOf(c)} pairs)`).join(', ')} go on for ${lookEvery} more pairs`,
    );
    // one driver run per starting pair, so each cell goes on where its own pairs ended
    for (const done of new Set(open.map(pairsOf))) {
      const cells = open.filter((c) => pairsOf(c) === done);
      let again: E2e;
      try {
        again = await runModelOnce(step, o, `e2e-model-look${look + 1}-from${done}.json`, lookEvery, [
          '--cells',
          cells.map((c) => c.id).join(','),
          '--first-pair',
          String(done),
        ]);
      } catch (error) {
        // the pairs so far stand; the cells are judged on them
        await step.log(`look ${look + 1} failed: ${error instanceof Error ? error.message : String(error)}`);
        return withAa(e2e, o.aa, o.method);
      }
      for (const cell of cells) {
        const fresh = again.cells.find((c) => c.id === cell.id);
        if (fresh?.status !== 'ok') {
          cell.status = 'failed';
          cell.reason = `look ${look + 1}: ${fresh?.reason ?? 'no samples'}`;
          continue;
        }
        cell.baseline.push(...fresh.baseline);
        cell.patched.push(...fresh.patched);
        cell.reruns += 1;
      }
    }
  }
  return withAa(e2e, o.aa, o.method);
}

function withAa(e2e: E2e, aa: boolean | undefined, method: VerdictMethod): E2e {
  const out = { ...e2e, method: `${e2e.method}; ${looksSentence(method)}` };
  return aa ? { ...out, aa: true } : out;
}

async function runModelOnce(
  step: StepHandle,
  o: ModelAbOptions,
  file: string,
  pairs: number,
  more: string[],
): Promise<E2e> {
  // the driver runs the kernels under test: sandboxed, writing into the step's scratch, read back after
  const json = join(step.scratch, file);
  const r = await step.run(
    o.python,
    [
      o.script,
      '--json',
      json,
      '--repeats',
      String(pairs),
      ...(o.aa ? ['--aa'] : []),
      ...(o.impls ? ['--baseline-impl', o.impls.baseline, '--patched-impl', o.impls.patched] : []),
      ...more,
    ],
    {
      cwd: o.cwd,
      env: o.env,
      timeoutMs: o.timeoutMs,
      sandbox: step.sandbox({ writable: [] }),
    },
  );
  if (r.timedOut) throw new Error(`${o.script} timed out after ${Math.round(o.timeoutMs / 1000)} s`);
  if (r.exitCode !== 0)
    throw new Error(`${o.script} exited ${r.exitCode ?? r.signal}: ${lastLine(r.output)}`);
  return parseE2eModel(await takeOutput(json, join(step.outDir, file)), file);
}
