// Step install: vLLM into the runner's python as configured (src/pipeline/install.ts does the work).
import { releaseWheelUrl } from '../../vllm/wheel.js';
import { type Installed, install } from '../install.js';
import type { StepHandle } from '../step.js';
import type { PipelineContext } from './context.js';

/** ROCm tools in the environment select vLLM's ROCm variant of the install. */
function isRocmRunner(env: Record<string, string | undefined>): boolean {
  return /amd|rocm/i.test(`${env.ROCM_PATH ?? ''}${env.HIP_PLATFORM ?? ''}`);
}

export async function installStep(
  ctx: PipelineContext,
  step: StepHandle,
  vllmDir: string,
): Promise<Installed | undefined> {
  const installed = await install(step, {
    method: ctx.config.install,
    python: ctx.config.python,
    vllmDir,
    rocm: isRocmRunner(ctx.env),
    env: ctx.env,
    timeoutMs: ctx.timeouts.installMs,
    releaseWheel:
      ctx.config.vllm.repository === 'pypi' ? () => releaseWheelUrl(ctx.config.vllm.ref) : undefined,
  });
  // every later step (kernel tests, the servers) then imports vLLM from the tree
  if (installed?.pythonPath)
    ctx.env = {
      ...ctx.env,
      PYTHONPATH: [installed.pythonPath, ctx.env.PYTHONPATH].filter(Boolean).join(':'),
    };
  return installed;
}
