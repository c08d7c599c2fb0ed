// Step detect-device: nvidia-smi, then amd-smi / rocm-smi, then torch through the configured python.
import type { Device } from '../results/run-result.js';
import {
  cardIdentity,
  type GpuInfo,
  gateSettings,
  parseAmdSmiStatic,
  parseAmdSmiVersion,
  parseNvidiaCudaVersion,
  parseNvidiaMemoryUsed,
  parseNvidiaQuery,
  parseRocmSmi,
  parseRocmSmiMemoryUsed,
  parseTorchProbe,
  TORCH_PROBE,
  type TorchProbe,
} from './device-parse.js';
import type { StepHandle } from './step.js';

export interface DetectedDevice {
  device: Device;
  settings: Record<string, string>;
  probe?: TorchProbe;
  /** GPU memory in use per card when detection ran, MiB (the floor a stopped server must return to) */
  memoryUsedMiB?: number[];
  /** why GPU steps cannot run here; undefined when a GPU is usable */
  noGpuReason?: string;
}

export interface DetectOptions {
  python: string;
  env: Record<string, string | undefined>;
  timeoutMs: number;
}

type Tried = { tool: string; note: string };

async function tryNvidia(step: StepHandle, o: DetectOptions, tried: Tried[]): Promise<GpuInfo | undefined> {
  const q = await step.run(
    'nvidia-smi',
    ['--query-gpu=index,name,driver_version,memory.total,memory.used,uuid', '--format=csv,noheader,nounits'],
    { env: o.env, timeoutMs: o.timeoutMs },
  );
  if (q.spawnError || q.exitCode !== 0) {
    tried.push({ tool: 'nvidia-smi', note: q.spawnError ? 'not found' : `exit ${q.exitCode ?? q.signal}` });
    return undefined;
  }
  const info = parseNvidiaQuery(q.stdout);
  const banner = await step.run('nvidia-smi', [], { env: o.env, timeoutMs: o.timeoutMs });
  info.cuda = parseNvidiaCudaVersion(banner.stdout);
  return info;
}

async function tryAmd(step: StepHandle, o: DetectOptions, tried: Tried[]): Promise<GpuInfo | undefined> {
  const s = await step.run('amd-smi', ['static', '--asic', '--driver', '--json'], {
    env: o.env,
    timeoutMs: o.timeoutMs,
  });
  if (!s.spawnError && s.exitCode === 0) {
    const info = parseAmdSmiStatic(s.stdout);
    const v = await step.run('amd-smi', ['version', '--json'], { env: o.env, timeoutMs: o.timeoutMs });
    info.rocm = parseAmdSmiVersion(v.stdout);
    return info;
  }
  tried.push({ tool: 'amd-smi', note: s.spawnError ? 'not found' : `exit ${s.exitCode ?? s.signal}` });
  const r = await step.run('rocm-smi', ['--showproductname', '--showdriverversion', '--json'], {
    env: o.env,
    timeoutMs: o.timeoutMs,
  });
  if (!r.spawnError && r.exitCode === 0) return parseRocmSmi(r.stdout);
  tried.push({ tool: 'rocm-smi', note: r.spawnError ? 'not found' : `exit ${r.exitCode ?? r.signal}` });
  return undefined;
}

export async function detectDevice(step: StepHandle, o: DetectOptions): Promise<DetectedDevice> {
  const tried: Tried[] = [];
  let vendor: Device['vendor'] = 'cpu';
  let gpu = await tryNvidia(step, o, tried);
  if (gpu) vendor = 'nvidia';
  else {
    gpu = await tryAmd(step, o, tried);
    if (gpu) vendor = 'amd';
  }
  let probe: TorchProbe | undefined;
  const p = await step.run(o.python, ['-c', TORCH_PROBE], { env: o.env, timeoutMs: o.timeoutMs });
  if (p.exitCode === 0) probe = parseTorchProbe(p.stdout);
  else
    tried.push({
      tool: `${o.python} (torch probe)`,
      note: p.spawnError ? 'not found' : `exit ${p.exitCode}`,
    });
  for (const e of probe?.errors ?? []) await step.log(`probe: ${e}`);

  const device: Device = {
    vendor,
    name: gpu?.names[0] ?? probe?.deviceName ?? 'CPU',
    count: gpu?.names.length ?? probe?.deviceCount ?? 0,
    ...(gpu?.driver ? { driver: gpu.driver } : {}),
    // torch's build version says nothing about a machine without a GPU
    ...(gpu?.cuda || (probe?.gpuAvailable && probe.torchCuda) ? { cuda: gpu?.cuda ?? probe?.torchCuda } : {}),
    ...(gpu?.rocm || (probe?.gpuAvailable && probe.torchHip) ? { rocm: gpu?.rocm ?? probe?.torchHip } : {}),
    ...(probe?.torch ? { torch: probe.torch } : {}),
    ...(probe?.triton ? { triton: probe.triton } : {}),
    ...(probe?.python ? { python: probe.python } : {}),
    ...(probe?.vllm ? { vllm: probe.vllm } : {}),
    // which card and machine measured: a swapped card starts a new nightly series instead of a false alarm
    ...(gpu?.uuids?.length ? { card: cardIdentity(gpu.uuids) } : {}),
    ...(o.env.RUNNER_NAME ? { host: o.env.RUNNER_NAME } : {}),
  };
  if (vendor === 'cpu' && probe?.gpuAvailable) {
    // torch sees a GPU that no vendor tool reported (e.g. tools missing from a container)
    device.vendor = probe.torchHip ? 'amd' : 'nvidia';
    device.name = probe.deviceName ?? 'GPU';
    device.count = probe.deviceCount ?? 1;
  }
  let noGpuReason: string | undefined;
  if (device.vendor === 'cpu') {
    const notes = tried.map((t) => `${t.tool}: ${t.note}`).join('; ');
    noGpuReason = `no GPU on this machine (${notes}${probe ? `; torch ${probe.torch ?? 'missing'} sees no GPU` : ''})`;
  } else if (probe && !probe.gpuAvailable) {
    noGpuReason = `${device.name} found, but torch ${probe.torch ?? '(not installed)'} in ${o.python} cannot use it`;
  }
  await step.log(
    `device: ${device.vendor} ${device.name} ×${device.count}` +
      `${device.driver ? `, driver ${device.driver}` : ''}${device.cuda ? `, CUDA ${device.cuda}` : ''}` +
      `${device.rocm ? `, ROCm ${device.rocm}` : ''}; torch ${device.torch ?? '-'}, triton ${device.triton ?? '-'}, ` +
      `python ${device.python ?? '-'}, vllm ${device.vllm ?? '-'}`,
  );
  return {
    device,
    settings: gateSettings(device.vendor, { ...envStrings(o.env), ...(probe?.env ?? {}) }),
    probe,
    memoryUsedMiB: gpu?.memoryUsedMiB,
    noGpuReason,
  };
}

function envStrings(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

/** GPU memory in use per card, MiB, by the vendor's tool; undefined when it cannot tell. */
export async function gpuMemoryUsed(
  step: StepHandle,
  vendor: Device['vendor'],
  o: Omit<DetectOptions, 'python'>,
): Promise<number[] | undefined> {
  if (vendor === 'nvidia') {
    const r = await step.run('nvidia-smi', ['--query-gpu=memory.used', '--format=csv,noheader,nounits'], o);
    return r.exitCode === 0 ? parseNvidiaMemoryUsed(r.stdout) : undefined;
  }
  if (vendor === 'amd') {
    const r = await step.run('rocm-smi', ['--showmeminfo', 'vram', '--json'], o);
    if (r.exitCode !== 0) return undefined;
    try {
      return parseRocmSmiMemoryUsed(r.stdout);
    } catch {
      return undefined;
    }
  }
  return undefined;
}
