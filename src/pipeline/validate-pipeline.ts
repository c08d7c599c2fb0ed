// The validate pipeline on one runner: checkout ► kernel source ► install ► detect device ► compile ► kernel tests
// ► microbench ► e2e. Each step's body lives in steps/; this file only orders them and records each one.
import { hostname } from 'node:os';
import type { Config } from '../config.js';
import { runResultIdentity, workflowContextOf } from '../github/context.js';
import type { Host } from '../host.js';
import { RUN_RESULT_SCHEMA_VERSION, type RunResult, STEP_NAMES } from '../results/run-result.js';
import { toolRoot } from '../root.js';
import { TOOL_VERSION } from '../version.js';
import { bundleHash, resolveBundle } from './bundle.js';
import { compileStep } from './compile.js';
import { StepRecorder } from './step.js';
import { checkoutStep } from './steps/checkout.js';
import {
  DEFAULT_TIMEOUTS,
  type PipelineContext,
  type PipelineDeps,
  verdictSettings,
} from './steps/context.js';
import { detectDeviceStep } from './steps/detect-device.js';
import { e2eStep } from './steps/e2e.js';
import { installStep } from './steps/install.js';
import { kernelSourceStep } from './steps/kernel-source.js';
import { kernelTestsStep } from './steps/kernel-tests.js';
import { microbenchStep } from './steps/microbench.js';

export { DEFAULT_TIMEOUTS, type PipelineDeps, type StepTimeouts } from './steps/context.js';

export interface PipelineOutcome {
  result: RunResult;
  /** set when a step stopped the run (nothing after it could run) */
  stopped?: string;
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
    verdicts: verdictSettings(config),
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
  const steps = new StepRecorder({
    result,
    outDir,
    host,
    scrub: deps.scrub ?? ((s) => s),
    sandbox: deps.sandbox,
  });
  Object.assign(result.identity, runResultIdentity(await workflowContextOf(host)));
  if (deps.blocked) {
    for (const name of STEP_NAMES) steps.record(name, 'skipped', deps.blocked);
    return { result };
  }
  const root = deps.actionRoot ?? toolRoot();
  const bundleDir = await resolveBundle(config.bundle, root);
  result.identity.bundleHash = await bundleHash(bundleDir);
  const ctx: PipelineContext = {
    config,
    result,
    deps,
    env: deps.env,
    timeouts: { ...DEFAULT_TIMEOUTS, ...deps.timeouts },
    outDir,
    actionRoot: root,
    bundleDir,
  };

  const tree = await steps.run('checkout', (step) => checkoutStep(ctx, step));
  if (!tree) {
    const reason = 'checkout failed: no vLLM tree to work on';
    for (const name of STEP_NAMES.slice(1)) steps.record(name, 'skipped', reason);
    const why = result.steps.find((s) => s.name === 'checkout')?.reason ?? 'checkout failed';
    return { result, stopped: why };
  }
  const kernel = await steps.run('apply-bundle', (step) => kernelSourceStep(ctx, step, tree));
  // a stage runs its own steps; the others are skipped, saying which stage they belong to
  const kernelStage = config.stage !== 'e2e';
  const e2eStage = config.stage !== 'kernel';
  const notThisStage = (name: (typeof STEP_NAMES)[number], other: string): undefined => {
    steps.record(name, 'skipped', `stage ${config.stage}: part of the ${other} stage`);
  };
  const installed = e2eStage
    ? await steps.run('install', (step) => installStep(ctx, step, tree.dir))
    : notThisStage('install', 'e2e');
  const detected = await steps.run('detect-device', (step) =>
    detectDeviceStep(ctx, step, installed, tree.sha),
  );
  const noGpu = detected ? detected.noGpuReason : 'device detection failed';
  if (kernelStage) {
    await steps.run('compile', (step) =>
      compileStep(step, {
        result,
        python: config.python,
        bundleDir,
        root,
        env: ctx.env,
        impl: kernel?.impl,
        targets: config.compileTargets,
      }),
    );
    await steps.run('kernel-tests', (step) => kernelTestsStep(ctx, step, tree, kernel, installed));
    await steps.run('microbench', (step) => microbenchStep(ctx, step, kernel, noGpu));
  } else for (const name of ['compile', 'kernel-tests', 'microbench'] as const) notThisStage(name, 'kernel');
  if (e2eStage) await steps.run('e2e', (step) => e2eStep(ctx, step, tree, kernel, installed, detected));
  else notThisStage('e2e', 'e2e');
  return { result };
}
