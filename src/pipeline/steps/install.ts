// Step install: vLLM into the runner's python as configured (src/pipeline/install.ts does the work).
import { releaseWheelUrl } from '../../vllm/wheel.js';
import { type Installed, install } from '../install.js';
import type { StepHandle } from '../step.js';
import type { PipelineContext } from './context.js';

/** ROCm tools in the environment select vLLM's ROCm variant of the install. */
function isRocmRunner(env: Record<string, string | undefined>): boolean {
  return /amd|rocm/i.test(`${env.ROCM_PATH ?? ''}${env.HIP_PLATFORM ?? ''}`);
}

export function installStep(
  ctx: PipelineContext,
  step: StepHandle,
  vllmDir: string,
): Promise<Installed | undefined> {
  return install(step, {
    method: ctx.config.install,
    python: ctx.config.python,
    vllmDir,
    rocm: isRocmRunner(ctx.env),
    env: ctx.env,
    timeoutMs: ctx.timeouts.installMs,
    releaseWheel:
      ctx.config.vllm.repository === 'pypi' ? () => releaseWheelUrl(ctx.config.vllm.ref) : undefined,
  });
}
