// Step e2e: choose the backend and the arms (bundle: its switch off/on; tree kernel: the PR's base against its head)
// and run the A/B.
import { stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { probeTarget } from '../arm-probe.js';
import { shareBuildProducts } from '../base-head.js';
import type { DetectedDevice } from '../device.js';
import { gpuMemoryUsed } from '../device.js';
import { runModelAb, runServeAb } from '../e2e.js';
import type { ArmSpec, ServeArms } from '../e2e-plan.js';
import { planRates } from '../e2e-rates.js';
import { type Installed, linkBuildProducts } from '../install.js';
import { sleep } from '../process.js';
import { fail, type StepHandle, skip } from '../step.js';
import type { CheckedOutTree } from './checkout.js';
import { type PipelineContext, verdictSettings } from './context.js';
import type { KernelSource } from './kernel-source.js';
import { findFile } from './kernel-tests.js';

/** The arms of a tree kernel's A/B: the base worktree and the head tree, each first on PYTHONPATH (A/A: the base twice). */
function worktreeArms(
  env: Record<string, string | undefined>,
  base: { dir: string; commit: string; impl?: string },
  head: { dir: string; sha: string },
  aa: boolean,
): ServeArms {
  const arm = (what: string, dir: string, commit: string, claims: ArmSpec['claims']): ArmSpec => ({
    label: `the ${what} worktree at ${commit.slice(0, 12)}, first on PYTHONPATH`,
    env: { PYTHONPATH: [dir, env.PYTHONPATH].filter(Boolean).join(':') },
    claims,
  });
  // a follow-up's base carries a kernel of the op too; a first PR's base runs the original expression
  const baseline = arm('base', base.dir, base.commit, base.impl ? 'fused' : 'original');
  return { baseline, patched: aa ? baseline : arm('head', head.dir, head.sha, 'fused') };
}

export async function e2eStep(
  ctx: PipelineContext,
  step: StepHandle,
  tree: CheckedOutTree,
  kernel: KernelSource | undefined,
  installed: Installed | undefined,
  detected: DetectedDevice | undefined,
): Promise<void> {
  const { config, result, env, timeouts, bundleDir } = ctx;
  const noGpu = detected ? detected.noGpuReason : 'device detection failed';
  const choice = config.e2e.backend;
  if (choice === 'none') throw skip('e2e-backend: none');
  const compiled = kernel?.base?.changes.compiled ?? [];
  if (kernel?.source === 'tree' && compiled.length > 0)
    throw skip(
      `needs a build per arm: base..head changes ${compiled.slice(0, 5).join(', ')}${compiled.length > 5 ? ` and ${compiled.length - 5} more` : ''}`,
    );
  if (noGpu) {
    if (choice === 'auto') throw skip(`GPU only: ${noGpu}`);
    throw fail(`e2e-backend ${choice} needs a GPU: ${noGpu}`);
  }
  if (!kernel) throw fail('no kernel under test: the apply-bundle step failed');
  if (kernel.source === 'bundle' && !kernel.applied)
    throw fail('the bundle is not applied, so both arms would run the same code');
  // vllm serve runs the kernel under test only when the vLLM it imports is the checked-out tree
  const vllmThere = Boolean(installed?.fromTree);
  const backend = choice === 'auto' ? (vllmThere ? 'vllm-serve' : 'model') : choice;
  const tested = kernel.source === 'tree' ? 'the tree' : 'the patched tree';
  const why = installed
    ? installed.fromTree
      ? `vLLM is installed from ${tested}`
      : `vLLM imports from ${installed.vllmPath}, not from ${tested}`
    : 'vLLM is not installed';
  await step.log(`backend: ${backend}${choice === 'auto' ? ` (auto: ${why})` : ''}`);
  // the looks follow the method the RunResult records, so the report judges the cells as they were run
  const { repeats: _firstLook, ...method } = result.verdicts ?? verdictSettings(config);
  if (backend === 'model') {
    const script = await findFile(bundleDir, /^e2e_.*\.py$/);
    if (!script) throw fail('the bundle has no e2e_*.py driver for the model backend');
    const impls =
      kernel.source === 'tree' && kernel.impl
        ? { baseline: kernel.base?.impl ?? 'reference', patched: kernel.impl }
        : undefined;
    if (impls) await step.log(`arms: baseline ${impls.baseline}, patched ${impls.patched}`);
    result.e2e = await runModelAb(step, {
      python: config.python,
      script,
      cwd: bundleDir,
      method,
      aa: config.e2e.aa,
      impls,
      env,
      timeoutMs: timeouts.e2eModelMs,
    });
  } else {
    if (!installed)
      throw fail('e2e-backend vllm-serve needs vLLM installed (install: existing or precompiled)');
    if (!installed.fromTree) {
      throw fail(
        `vLLM imports from ${installed.vllmPath}, not from ${tested} ${tree.dir}, so both arms would run the same code; ` +
          `use install: precompiled (an editable install of ${tested})`,
      );
    }
    let arms: ServeArms | undefined;
    if (kernel.source === 'tree') {
      if (!kernel.base)
        throw fail(
          "a tree kernel's vllm-serve A/B runs the PR's base against its head: pass base-ref or run on a pull_request event",
        );
      if (installed.buildProductsFrom) {
        const n = await linkBuildProducts(installed.buildProductsFrom, join(kernel.base.dir, 'vllm'));
        await step.log(`linked ${n} build products of ${installed.buildProductsFrom} into the base worktree`);
      } else
        await shareBuildProducts(step, {
          dir: tree.dir,
          baseDir: kernel.base.dir,
          env,
          timeoutMs: timeouts.gitMs,
        });
      arms = worktreeArms(env, kernel.base, { dir: tree.dir, sha: tree.sha }, config.e2e.aa);
      await step.log(`arms: baseline ${kernel.base.dir} (${kernel.base.commit}), patched ${tree.dir}`);
    }
    const vendor = result.device.vendor;
    const floor = detected?.memoryUsedMiB;
    const rates = await planRates(config.e2e.model, config.e2e.ratesFile);
    if (rates.warning) await step.log(`warning: ${rates.warning}; the plan uses the published figures`);
    else if (config.e2e.ratesFile) await step.log(`rates: ${rates.rates.source}`);
    result.e2e = await runServeAb(step, {
      vllm: await vllmExecutable(config.python),
      // vLLM's client imported once for every run of the e2e (kernels/bench_session.py), not once per run
      benchSession: { python: config.python, script: join(ctx.actionRoot, 'kernels', 'bench_session.py') },
      model: config.e2e.model,
      tensorParallelSize: config.e2e.tensorParallelSize,
      shapes: config.e2e.shapes,
      concurrencies: config.e2e.concurrencies,
      repeats: config.e2e.repeats,
      aa: config.e2e.aa,
      arms,
      swap: config.e2e.swap === 'auto' ? undefined : config.e2e.swap,
      budgetMinutes: config.e2e.budgetMinutes,
      rates: rates.rates,
      ratesAssumed: rates.assumed,
      env,
      vendor,
      readyTimeoutMs: timeouts.serverReadyMs,
      benchTimeoutMs: timeouts.benchMs,
      method,
      pickPort: ctx.deps.pickPort,
      runSeconds: config.e2e.runSeconds,
      probe: result.kernel
        ? {
            siteDir: join(ctx.actionRoot, 'kernels', 'arm_probe'),
            op: probeTarget(result.kernel.path, result.kernel.symbol),
            recordsDir: join(ctx.outDir, 'e2e-probe'),
          }
        : undefined,
      waitForGpuMemory: () =>
        waitForGpuMemory(
          async () => gpuMemoryUsed(step, vendor, { env, timeoutMs: timeouts.detectMs }),
          floor,
          timeouts.gpuMemoryReleaseMs,
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
