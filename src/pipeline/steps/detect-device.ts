// Step detect-device: the GPU (or none), its software, and the vLLM settings that change what the gate costs.
import { type DetectedDevice, detectDevice } from '../device.js';
import type { Installed } from '../install.js';
import type { StepHandle } from '../step.js';
import type { PipelineContext } from './context.js';

export async function detectDeviceStep(
  ctx: PipelineContext,
  step: StepHandle,
  installed: Installed | undefined,
  vllmSha: string,
): Promise<DetectedDevice> {
  const { result } = ctx;
  const detected = await detectDevice(step, {
    python: ctx.config.python,
    env: ctx.env,
    timeoutMs: ctx.timeouts.detectMs,
  });
  result.device = { ...detected.device, ...(installed ? { vllm: installed.vllmVersion } : {}), vllmSha };
  result.settings = detected.settings;
  for (const [k, v] of Object.entries(detected.settings)) await step.log(`setting ${k} = ${v}`);
  if (detected.noGpuReason) await step.log(detected.noGpuReason);
  return detected;
}
