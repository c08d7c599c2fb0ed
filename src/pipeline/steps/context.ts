// What every step of the validate pipeline reads: the config, the RunResult it fills, the world it may touch.
import type { Config } from '../../config.js';
import type { ApplyBundleOptions } from '../../patch/engine.js';
import type { Patch, RunResult } from '../../results/run-result.js';
import type { SandboxPolicy } from '../../security/sandbox.js';
import { defaultMethod } from '../../stats/e2e.js';

export interface PipelineContext {
  config: Config;
  result: RunResult;
  deps: PipelineDeps;
  /** environment the commands run in (the runner's) */
  env: Record<string, string | undefined>;
  timeouts: StepTimeouts;
  outDir: string;
  /** root of the action (kernels/ lives there) */
  actionRoot: string;
  bundleDir: string;
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
  applyBundle?: (options: ApplyBundleOptions) => Promise<Patch>;
  /** keeps secrets out of log tails */
  scrub?: (text: string) => string;
  timeouts?: Partial<StepTimeouts>;
  pickPort?: () => Promise<number>;
  /** root of the action (kernels/ lives there) */
  actionRoot?: string;
  /** the sandbox the tree's code runs in (security/sandbox.ts); none when left out */
  sandbox?: SandboxPolicy;
  /** why this stage does not run at all (an e2e stage whose kernel stage did not pass); every step is skipped */
  blocked?: string;
}

/**
 * The method validate records and its e2e runners follow, so a later report judges the cells as this job chose
 * its looks. `repeats`: the pairs of a cell's first look.
 */
export function verdictSettings(config: Config): NonNullable<RunResult['verdicts']> {
  const method = defaultMethod(config.thresholds.minEffectPct);
  return { ...method, repeats: method.lookEvery ?? config.e2e.repeats };
}
