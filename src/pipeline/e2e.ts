// Step e2e: the A/B of baseline against patched, with vllm serve + vllm bench serve or the bundle's model driver.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { WorkloadShape } from '../config.js';
import { parseBenchServe } from '../results/parsers/bench-serve.js';
import { parseE2eModel } from '../results/parsers/e2e-model.js';
import type { Device, E2e, E2eCell } from '../results/run-result.js';
import { sleep } from './process.js';
import { freePort, ServerError, VllmServer } from './serve.js';
import { oneLine, type StepHandle } from './step.js';

/** The switch the bundle's patched call sites read: 0 runs vLLM's own gate, 1 the fused kernel. */
export const GATE_ENV = 'VLLM_FUSED_SHARED_EXPERT_GATE';
export const ARMS = ['baseline', 'patched'] as const;
export type Arm = (typeof ARMS)[number];

/** One arm's server environment, e.g. its worktree first on PYTHONPATH for a base-against-head A/B. */
export interface ServeArm {
  label: Arm;
  env: Record<string, string>;
}

export interface ServeAbOptions {
  vllm: string;
  model: string;
  tensorParallelSize: number;
  shapes: WorkloadShape[];
  concurrencies: number[];
  repeats: number;
  /** A/A: both arms run the baseline */
  aa?: boolean;
  /** each arm's server environment; default: the bundle's switch GATE_ENV=0/1 */
  arms?: ServeArm[];
  env: Record<string, string | undefined>;
  cwd?: string;
  vendor: Device['vendor'];
  readyTimeoutMs: number;
  benchTimeoutMs: number;
  /** waits for GPU memory to drop back after a server stops; false when it did not in time */
  waitForGpuMemory: () => Promise<boolean>;
  /** cells whose comparison is too close to call; re-run once before the verdict */
  isBorderline?: (cell: E2eCell) => boolean;
  pickPort?: () => Promise<number>;
  /** prompts per cell for a concurrency */
  numPrompts?: (concurrency: number) => number;
  seed?: number;
}

export function cellId(shape: WorkloadShape, concurrency: number): string {
  return `in${shape.inputLen}-out${shape.outputLen}-c${concurrency}`;
}

export function defaultNumPrompts(concurrency: number): number {
  return Math.max(16, 4 * concurrency);
}

/** `vllm bench serve` flags, as vllm/benchmarks/serve.py and datasets.py define them. */
export function benchArgs(o: {
  model: string;
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

interface Run {
  repeat: number;
  arm: Arm;
  cells: E2eCell[];
  round: number;
}

export async function runServeAb(step: StepHandle, o: ServeAbOptions): Promise<E2e> {
  const cells: E2eCell[] = [];
  const shapeOf = new Map<string, { shape: WorkloadShape; concurrency: number }>();
  for (const shape of o.shapes) {
    for (const concurrency of o.concurrencies) {
      const id = cellId(shape, concurrency);
      shapeOf.set(id, { shape, concurrency });
      cells.push({
        id,
        params: { input_len: shape.inputLen, output_len: shape.outputLen, concurrency },
        metric: 'output_throughput',
        unit: 'tok/s',
        higherIsBetter: true,
        baseline: [],
        patched: [],
        status: 'ok',
        reruns: 0,
      });
    }
  }
  const rawDir = join(step.outDir, 'e2e');
  await mkdir(rawDir, { recursive: true });
  const numPrompts = o.numPrompts ?? defaultNumPrompts;
  const pickPort = o.pickPort ?? freePort;
  const reasons = new Map<string, string[]>();
  const noteFailure = (cell: E2eCell, why: string) => {
    cell.status = 'failed';
    const list = reasons.get(cell.id) ?? [];
    list.push(why);
    reasons.set(cell.id, list);
    cell.reason = oneLine(list.join('; '), 600);
  };

  const plan = (round: number, targets: E2eCell[]): Run[] => {
    const runs: Run[] = [];
    // A B A B …: drift in clocks or temperature hits both arms alike
    for (let repeat = 0; repeat < o.repeats; repeat++)
      for (const arm of ARMS) runs.push({ repeat, arm, cells: targets, round });
    return runs;
  };
  // A/A: both arms run the baseline
  const gateSwitch = (arm: string) => (arm === 'patched' && !o.aa ? '1' : '0');
  const armEnv = (arm: Arm): Record<string, string> =>
    o.arms
      ? (o.arms.find((a) => a.label === (o.aa ? 'baseline' : arm))?.env ?? {})
      : { [GATE_ENV]: gateSwitch(arm) };
  const started = performance.now();
  let done = 0;
  let total = cells.length * 2 * o.repeats;
  let everReady = false;
  let stopReason: string | undefined;

  const startServer = async (run: Run): Promise<VllmServer> => {
    const tag = `${run.arm}-r${run.repeat + 1}${run.round > 0 ? `-rerun${run.round}` : ''}`;
    const logFile = join(step.outDir, 'logs', `e2e-server-${tag}.log`);
    let lastError: ServerError | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await pickPort();
      try {
        await step.log(
          `starting vllm serve (${run.arm} arm, repeat ${run.repeat + 1}) on port ${port}; log ${logFile}`,
        );
        const server = await VllmServer.start({
          vllm: o.vllm,
          model: o.model,
          tensorParallelSize: o.tensorParallelSize,
          port,
          env: { ...o.env, ...armEnv(run.arm) },
          cwd: o.cwd,
          logFile,
          readyTimeoutMs: o.readyTimeoutMs,
        });
        everReady = true;
        return server;
      } catch (error) {
        if (!(error instanceof ServerError)) throw error;
        lastError = error;
        await step.log(`vllm serve: ${error.message}`);
        if (error.kind !== 'port-taken') break;
        await sleep(200);
      }
    }
    throw lastError ?? new ServerError('vllm serve did not start', 'exited');
  };

  const stopServer = async (server: VllmServer) => {
    const t0 = performance.now();
    await server.stop();
    const stopped = performance.now();
    const released = await o.waitForGpuMemory();
    await step.log(
      `stopped vllm serve's process group in ${((stopped - t0) / 1000).toFixed(1)} s; GPU memory ` +
        (released
          ? `released after ${((performance.now() - stopped) / 1000).toFixed(1)} s`
          : 'NOT released in time: the next start may fail'),
    );
  };

  const execute = async (runs: Run[]) => {
    for (const run of runs) {
      if (stopReason) {
        for (const cell of run.cells) noteFailure(cell, stopReason);
        done += run.cells.length;
        continue;
      }
      let server: VllmServer | undefined;
      for (const cell of run.cells) {
        const where = `${run.arm} arm, repeat ${run.repeat + 1}`;
        if (!server?.alive) {
          if (server) await stopServer(server);
          try {
            server = await startServer(run);
          } catch (error) {
            const why = error instanceof Error ? error.message : String(error);
            server = undefined;
            // a server that never came up once will not come up for the next arm either
            if (!everReady) stopReason = `${why}; e2e stopped`;
            for (const c of run.cells.slice(run.cells.indexOf(cell))) noteFailure(c, `${where}: ${why}`);
            done += run.cells.length - run.cells.indexOf(cell);
            break;
          }
        }
        const { shape, concurrency } = shapeOf.get(cell.id) as { shape: WorkloadShape; concurrency: number };
        const file = `${cell.id}-${run.arm}-r${run.repeat + 1}${run.round > 0 ? `-rerun${run.round}` : ''}.json`;
        const r = await step.run(
          o.vllm,
          benchArgs({
            model: o.model,
            port: server.port,
            shape,
            concurrency,
            numPrompts: numPrompts(concurrency),
            seed: (o.seed ?? 0) + run.repeat,
            resultDir: rawDir,
            resultFilename: file,
            label: `${run.arm}-r${run.repeat + 1}`,
            metadata: {
              arm: run.arm,
              repeat: String(run.repeat + 1),
              cell: cell.id,
              ...(o.arms ? {} : { [GATE_ENV]: gateSwitch(run.arm) }),
            },
          }),
          { env: o.env, cwd: o.cwd, timeoutMs: o.benchTimeoutMs },
        );
        if (!server.alive) {
          noteFailure(cell, `${where}: vllm serve died during the cell (${await server.deathNote()})`);
        } else if (r.timedOut) {
          noteFailure(
            cell,
            `${where}: vllm bench serve timed out after ${Math.round(o.benchTimeoutMs / 1000)} s`,
          );
        } else if (r.exitCode !== 0) {
          noteFailure(
            cell,
            `${where}: vllm bench serve exited ${r.exitCode ?? r.signal}: ${lastLine(r.output)}`,
          );
        } else {
          try {
            const bench = parseBenchServe(await readFile(join(rawDir, file), 'utf8'), `e2e/${file}`);
            cell[run.arm].push(bench.outputThroughput);
            if (bench.failed > 0) await step.log(`${cell.id} ${where}: ${bench.failed} requests failed`);
          } catch (error) {
            noteFailure(cell, `${where}: ${error instanceof Error ? error.message : String(error)}`);
          }
        }
        done += 1;
        await step.log(
          `e2e ${cell.id} ${where}: ${progressLine(done, total, (performance.now() - started) / 1000)}`,
        );
      }
      if (server) await stopServer(server);
    }
  };

  await execute(plan(0, cells));
  const borderline =
    o.isBorderline && !stopReason ? cells.filter((c) => c.status === 'ok' && o.isBorderline?.(c)) : [];
  if (borderline.length > 0) {
    await step.log(
      `re-running ${borderline.length} borderline cells once: ${borderline.map((c) => c.id).join(', ')}`,
    );
    total += borderline.length * 2 * o.repeats;
    for (const c of borderline) c.reruns += 1;
    await execute(plan(1, borderline));
  }
  return {
    backend: 'vllm-serve',
    method:
      `vllm serve + vllm bench serve (random dataset, ignore-eos, max-concurrency = the cell's concurrency); ` +
      `baseline and patched arms from one install, differing only in ${o.arms ? "the worktree first on PYTHONPATH (the PR's base, its head)" : `${GATE_ENV}=0/1`}, interleaved A B A B ` +
      `over ${o.repeats} repeats, a fresh server per arm and repeat; output throughput per run.` +
      (o.aa
        ? ` A/A run: both arms ran ${o.arms ? 'the base' : `with ${GATE_ENV}=0`}, so any change is noise.`
        : ''),
    aa: o.aa ? true : undefined,
    model: o.model,
    cells,
  };
}

/** The bundle's model-level driver (`e2e_model.py --json PATH --repeats N`): no server, no weights. */
export async function runModelAb(
  step: StepHandle,
  o: {
    python: string;
    script: string;
    cwd: string;
    repeats: number;
    aa?: boolean;
    /** `PATH::SYMBOL` (or `reference`) of each arm; default: the bundle's kernel against the reference */
    impls?: { baseline: string; patched: string };
    env: Record<string, string | undefined>;
    timeoutMs: number;
  },
): Promise<E2e> {
  const json = join(step.outDir, 'e2e-model.json');
  const r = await step.run(
    o.python,
    [
      o.script,
      '--json',
      json,
      '--repeats',
      String(o.repeats),
      ...(o.aa ? ['--aa'] : []),
      ...(o.impls ? ['--baseline-impl', o.impls.baseline, '--patched-impl', o.impls.patched] : []),
    ],
    {
      cwd: o.cwd,
      env: o.env,
      timeoutMs: o.timeoutMs,
    },
  );
  if (r.timedOut) throw new Error(`${o.script} timed out after ${Math.round(o.timeoutMs / 1000)} s`);
  if (r.exitCode !== 0)
    throw new Error(`${o.script} exited ${r.exitCode ?? r.signal}: ${lastLine(r.output)}`);
  const e2e = parseE2eModel(await readFile(json, 'utf8').catch(() => ''), 'e2e-model.json');
  return o.aa ? { ...e2e, aa: true } : e2e;
}

function lastLine(text: string): string {
  const lines = text
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('$ ') && !/^\[(exit|timed out)/.test(l));
  return lines.at(-1)?.trim().slice(0, 300) ?? 'no output';
}
