// The validate pipeline on one runner: checkout ► apply bundle ► install ► detect device ► kernel tests ► microbench ► e2e.
import { readdir, readFile, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { Config } from '../config.js';
import type { Host } from '../host.js';
import { parseMicrobench } from '../results/parsers/microbench.js';
import {
  type E2eCell,
  type Patch,
  RUN_RESULT_SCHEMA_VERSION,
  type RunResult,
  STEP_NAMES,
} from '../results/run-result.js';
import { TOOL_VERSION } from '../version.js';
import { releaseWheelUrl } from '../vllm/wheel.js';
import { actionRoot, bundleHash, resolveBundle } from './bundle.js';
import { type CheckedOut, checkout } from './checkout.js';
import { type DetectedDevice, detectDevice, gpuMemoryUsed } from './device.js';
import { runModelAb, runServeAb } from './e2e.js';
import { type Installed, install } from './install.js';
import { runKernelTests } from './kernel-tests.js';
import { sleep } from './process.js';
import { fail, StepRecorder, skip } from './step.js';

export interface ApplyBundleOptions {
  vllmDir: string;
  bundleDir: string;
  mode: 'apply';
  python: string;
}

export interface StepTimeouts {
  gitMs: number;
  installMs: number;
  detectMs: number;
  kernelTestsMs: number;
  microbenchMs: number;
  serverReadyMs: number;
  benchMs: number;
  e2eModelMs: number;
  gpuMemoryReleaseMs: number;
}

export const DEFAULT_TIMEOUTS: StepTimeouts = {
  gitMs: 15 * 60_000,
  installMs: 60 * 60_000,
  detectMs: 2 * 60_000,
  kernelTestsMs: 60 * 60_000,
  microbenchMs: 30 * 60_000,
  serverReadyMs: 30 * 60_000,
  benchMs: 60 * 60_000,
  e2eModelMs: 2 * 60 * 60_000,
  gpuMemoryReleaseMs: 2 * 60_000,
};

/** What the pipeline needs from the rest of the tool and the world; tests pass their own. */
export interface PipelineDeps {
  /** environment the commands run in (the runner's) */
  env: Record<string, string | undefined>;
  /** cached clones: ~/.cache/vllm-kernel-ci/repos */
  reposDir: string;
  fetchVllmSource?: (version: string) => Promise<string>;
  applyBundle?: (o: ApplyBundleOptions) => Promise<Patch>;
  /** e2e cells too close to call, re-run once before the verdict */
  isBorderline?: (cell: E2eCell) => boolean;
  /** keeps secrets out of log tails */
  scrub?: (text: string) => string;
  timeouts?: Partial<StepTimeouts>;
  pickPort?: () => Promise<number>;
  /** root of the action (kernels/ lives there) */
  actionRoot?: string;
}

export interface PipelineOutcome {
  result: RunResult;
  /** set when a step stopped the run (nothing after it could run) */
  stopped?: string;
}

function identityFromEnv(env: Record<string, string | undefined>): Partial<RunResult['identity']> {
  const out: Partial<RunResult['identity']> = {};
  if (env.GITHUB_REPOSITORY) out.repository = env.GITHUB_REPOSITORY;
  if (env.GITHUB_RUN_ID) {
    out.runId = env.GITHUB_RUN_ID;
    if (env.GITHUB_REPOSITORY) {
      out.runUrl = `${env.GITHUB_SERVER_URL ?? 'https://github.com'}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}`;
    }
  }
  if (env.GITHUB_SHA) out.headSha = env.GITHUB_SHA;
  return out;
}

async function identityFromEvent(path: string | undefined): Promise<Partial<RunResult['identity']>> {
  if (!path) return {};
  try {
    const event = JSON.parse(await readFile(path, 'utf8')) as {
      pull_request?: { number?: unknown; head?: { sha?: unknown } };
    };
    const pr = event.pull_request;
    const out: Partial<RunResult['identity']> = {};
    if (typeof pr?.number === 'number' && pr.number > 0) out.pr = pr.number;
    if (typeof pr?.head?.sha === 'string') out.headSha = pr.head.sha;
    return out;
  } catch {
    return {};
  }
}

async function findFile(dir: string, pattern: RegExp): Promise<string | undefined> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter((n) => pattern.test(n)).sort()[0];
}

export function emptyResult(config: Config, host: Host): RunResult {
  const now = new Date().toISOString();
  return {
    schema: RUN_RESULT_SCHEMA_VERSION,
    tool: { name: 'vllm-kernel-ci', version: TOOL_VERSION },
    identity: {
      runner: config.runnerLabel ?? host.env.RUNNER_NAME ?? hostname(),
      vllmRepo: config.vllm.repository,
      vllmRef: config.vllm.ref,
      bundle: config.bundle,
      bundleHash: '',
      startedAt: now,
      finishedAt: now,
    },
    device: { vendor: 'unknown', name: 'unknown', count: 0 },
    steps: STEP_NAMES.map((name) => ({ name, status: 'not-available', seconds: 0, reason: 'did not run' })),
    settings: {},
  };
}

/**
 * Runs every step it can and records each one as it ends; never throws for a failed step.
 * The caller writes the RunResult and the report (also when this throws).
 */
export async function runPipeline(
  config: Config,
  host: Host,
  outDir: string,
  result: RunResult,
  deps: PipelineDeps,
): Promise<PipelineOutcome> {
  const t = { ...DEFAULT_TIMEOUTS, ...deps.timeouts };
  const env = deps.env;
  const steps = new StepRecorder({ result, outDir, host, scrub: deps.scrub ?? ((s) => s) });
  Object.assign(
    result.identity,
    identityFromEnv(host.env),
    await identityFromEvent(host.env.GITHUB_EVENT_PATH),
  );
  const root = deps.actionRoot ?? actionRoot();

  const bundleDir = await resolveBundle(config.bundle, root);
  result.identity.bundleHash = await bundleHash(bundleDir);

  let tree: CheckedOut | undefined;
  tree = await steps.run('checkout', (step) =>
    checkout(step, {
      repository: config.vllm.repository,
      ref: config.vllm.ref,
      reposDir: deps.reposDir,
      env,
      timeoutMs: t.gitMs,
      fetchVllmSource: deps.fetchVllmSource,
    }),
  );
  if (!tree) {
    const reason = 'checkout failed: no vLLM tree to work on';
    for (const name of STEP_NAMES.slice(1)) steps.record(name, 'skipped', reason);
    const why = result.steps.find((s) => s.name === 'checkout')?.reason ?? 'checkout failed';
    return { result, stopped: why };
  }
  result.identity.vllmSha = tree.sha;
  const vllmDir = tree.dir;

  let patch: Patch | undefined;
  const applyBundle = deps.applyBundle;
  if (!applyBundle)
    steps.record('apply-bundle', 'not-available', 'the patch step is not available in this build');
  else {
    patch = await steps.run('apply-bundle', async (step) => {
      const p = await applyBundle({ vllmDir, bundleDir, mode: 'apply', python: config.python });
      result.patch = p;
      for (const s of p.sites) {
        await step.log(
          `${s.status.padEnd(15)} ${s.file}:${s.line}  ${s.source.trim()}${s.reason ? `  (${s.reason})` : ''}`,
        );
      }
      for (const c of p.copied) await step.log(`copied ${c.from} → ${c.to}`);
      const drift = p.sites.filter((s) => s.status === 'unmatched' || s.status === 'missing-file');
      if (drift.length > 0) {
        step.finish(
          'failed',
          `patch drift: ${drift.length} of ${p.sites.length} sites not recognised (${drift
            .slice(0, 3)
            .map((s) => `${s.file}:${s.line} ${s.status}${s.reason ? `: ${s.reason}` : ''}`)
            .join(', ')})`,
        );
      } else if (p.sites.length === 0)
        step.finish('failed', 'patch drift: no gate call site found in the vLLM tree');
      return p;
    });
  }
  const applied = steps.status('apply-bundle') === 'passed';

  const quickRocm = /amd|rocm/i.test(`${env.ROCM_PATH ?? ''}${env.HIP_PLATFORM ?? ''}`);
  const installed: Installed | undefined = await steps.run('install', (step) =>
    install(step, {
      method: config.install,
      python: config.python,
      vllmDir,
      rocm: quickRocm,
      env,
      timeoutMs: t.installMs,
      releaseWheel: config.vllm.repository === 'pypi' ? () => releaseWheelUrl(config.vllm.ref) : undefined,
    }),
  );

  const detected: DetectedDevice | undefined = await steps.run('detect-device', async (step) => {
    const d = await detectDevice(step, { python: config.python, env, timeoutMs: t.detectMs });
    result.device = { ...d.device, ...(installed ? { vllm: installed.vllmVersion } : {}), vllmSha: tree.sha };
    result.settings = d.settings;
    for (const [k, v] of Object.entries(d.settings)) await step.log(`setting ${k} = ${v}`);
    if (d.noGpuReason) await step.log(d.noGpuReason);
    return d;
  });
  const noGpu = detected ? detected.noGpuReason : 'device detection failed';

  // in the vLLM tree when vLLM is installed and the bundle put its test there; else from the bundle
  await steps.run('kernel-tests', async (step) => {
    // the bundle's correctness matrix is test_<bundle>.py; other test files check the bundle's scripts
    const bundleTest =
      (await findFile(bundleDir, new RegExp(`^test_${basename(bundleDir)}\\.py$`))) ??
      (await findFile(bundleDir, /^test_.*\.py$/));
    if (!bundleTest) throw fail(`the bundle ${bundleDir} has no test_*.py`);
    const inTree =
      installed?.fromTree && applied
        ? patch?.copied.find((c) => /(^|\/)tests\/.*test_[^/]*\.py$/.test(c.to))
        : undefined;
    const where = inTree ? { cwd: vllmDir, target: inTree.to } : { cwd: bundleDir, target: bundleTest };
    await step.log(`running ${where.target} in ${where.cwd}`);
    const outcome = await runKernelTests(step, {
      python: config.python,
      cwd: where.cwd,
      target: where.target,
      device: result.device,
      env,
      pluginDir: join(root, 'kernels'),
      timeoutMs: t.kernelTestsMs,
    });
    result.tests = outcome.tests;
  });

  await steps.run('microbench', async (step) => {
    if (noGpu) throw skip(`GPU only: ${noGpu}`);
    const script = await findFile(bundleDir, /^benchmark_.*\.py$/);
    if (!script) throw skip('the bundle has no benchmark_*.py');
    const json = join(outDir, 'microbench.json');
    const r = await step.run(config.python, [script, '--json', json], {
      cwd: bundleDir,
      env,
      timeoutMs: t.microbenchMs,
    });
    if (r.timedOut) throw new Error(`${script} timed out after ${Math.round(t.microbenchMs / 1000)} s`);
    if (r.exitCode !== 0) throw fail(`${script} exited ${r.exitCode ?? r.signal}`);
    result.microbench = parseMicrobench(await readFile(json, 'utf8').catch(() => ''), 'microbench.json');
    await step.log(
      `${result.microbench.cells.length} cells; copy ceiling ${result.microbench.copyGbps.toFixed(0)} GB/s`,
    );
  });

  await steps.run('e2e', async (step) => {
    const choice = config.e2e.backend;
    if (choice === 'none') throw skip('e2e-backend: none');
    if (noGpu) {
      if (choice === 'auto') throw skip(`GPU only: ${noGpu}`);
      throw fail(`e2e-backend ${choice} needs a GPU: ${noGpu}`);
    }
    if (!applied) throw fail('the bundle is not applied, so both arms would run the same code');
    // vllm serve runs the bundle only when the vLLM it imports is the patched tree
    const vllmThere = Boolean(installed?.fromTree);
    const backend = choice === 'auto' ? (vllmThere ? 'vllm-serve' : 'model') : choice;
    const why = installed
      ? installed.fromTree
        ? 'vLLM is installed from the patched tree'
        : `vLLM imports from ${installed.vllmPath}, not from the patched tree`
      : 'vLLM is not installed';
    await step.log(`backend: ${backend}${choice === 'auto' ? ` (auto: ${why})` : ''}`);
    if (backend === 'model') {
      const script = await findFile(bundleDir, /^e2e_.*\.py$/);
      if (!script) throw fail('the bundle has no e2e_*.py driver for the model backend');
      result.e2e = await runModelAb(step, {
        python: config.python,
        script,
        cwd: bundleDir,
        repeats: config.e2e.repeats,
        aa: config.e2e.aa,
        env,
        timeoutMs: t.e2eModelMs,
      });
    } else {
      if (!installed)
        throw fail('e2e-backend vllm-serve needs vLLM installed (install: existing or precompiled)');
      if (!installed.fromTree) {
        throw fail(
          `vLLM imports from ${installed.vllmPath}, not from the patched tree ${vllmDir}, so both arms would run the same code; ` +
            'use install: precompiled (an editable install of the patched tree)',
        );
      }
      const vendor = result.device.vendor;
      const floor = detected?.memoryUsedMiB;
      result.e2e = await runServeAb(step, {
        vllm: await vllmExecutable(config.python),
        model: config.e2e.model,
        tensorParallelSize: config.e2e.tensorParallelSize,
        shapes: config.e2e.shapes,
        concurrencies: config.e2e.concurrencies,
        repeats: config.e2e.repeats,
        aa: config.e2e.aa,
        swap: config.e2e.swap === 'auto' ? undefined : config.e2e.swap,
        budgetMinutes: config.e2e.budgetMinutes,
        env,
        vendor,
        readyTimeoutMs: t.serverReadyMs,
        benchTimeoutMs: t.benchMs,
        isBorderline: deps.isBorderline,
        pickPort: deps.pickPort,
        waitForGpuMemory: () =>
          waitForGpuMemory(
            async () => gpuMemoryUsed(step, vendor, { env, timeoutMs: t.detectMs }),
            floor,
            t.gpuMemoryReleaseMs,
          ),
      });
    }
    const failed = result.e2e.cells.filter((c) => c.status === 'failed');
    if (failed.length > 0) {
      step.finish(
        'failed',
        `${failed.length} of ${result.e2e.cells.length} cells failed: ${failed[0].id}: ${failed[0].reason ?? ''}`,
      );
    }
  });
  return { result };
}

/** `vllm` beside the configured python (its venv's entry point), else the one on PATH. */
async function vllmExecutable(python: string): Promise<string> {
  if (!python.includes('/')) return 'vllm';
  const candidate = join(dirname(python), 'vllm');
  return (await stat(candidate).catch(() => undefined))?.isFile() ? candidate : 'vllm';
}

/** Polls GPU memory until every card is back near what it used before the first server started. */
export async function waitForGpuMemory(
  read: () => Promise<number[] | undefined>,
  floorMiB: number[] | undefined,
  timeoutMs: number,
  toleranceMiB = 2_048,
  pollMs = 500,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const used = await read();
    if (!used) return true; // nothing to read it with: the process group is already gone
    if (used.every((u, i) => u <= (floorMiB?.[i] ?? 0) + toleranceMiB)) return true;
    if (Date.now() > deadline) return false;
    await sleep(pollMs);
  }
}
