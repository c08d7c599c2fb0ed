// What every step of the validate pipeline reads: the config, the RunResult it fills, the world it may touch.
import type { Config } from '../../config.js';
import type { RunResult } from '../../results/run-result.js';
import type { PipelineDeps, StepTimeouts } from '../validate-pipeline.js';

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
