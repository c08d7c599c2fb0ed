// What nvidia-smi, amd-smi, rocm-smi and the torch probe print → Device fields. Pure.
import { createHash } from 'node:crypto';

export interface GpuInfo {
  names: string[];
  driver?: string;
  cuda?: string;
  rocm?: string;
  memoryUsedMiB?: number[];
  /** the cards' UUIDs (nvidia-smi's `uuid`), when the query asked for them */
  uuids?: string[];
}

/** `nvidia-smi --query-gpu=index,name,driver_version,memory.total,memory.used[,uuid] --format=csv,noheader,nounits` */
export function parseNvidiaQuery(csv: string): GpuInfo {
  const rows = csv
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^index\b/i.test(l))
    .map((l) => l.split(',').map((c) => c.trim()));
  const good = rows.filter((r) => r.length >= 3 && /^\d+$/.test(r[0]));
  if (good.length === 0)
    throw new Error(`nvidia-smi printed no GPU rows: ${JSON.stringify(csv.slice(0, 200))}`);
  return {
    names: good.map((r) => r[1]),
    driver: good[0][2],
    memoryUsedMiB: good.map((r) => Number(r[4])).filter((n) => Number.isFinite(n)),
    ...(good.every((r) => /^GPU-[0-9a-f-]+$/i.test(r[5] ?? '')) ? { uuids: good.map((r) => r[5]) } : {}),
  };
}

/** The CUDA version from `nvidia-smi`'s banner ("CUDA Version: 12.8") or `nvidia-smi --version`. */
export function parseNvidiaCudaVersion(text: string): string | undefined {
  return /CUDA Version\s*:\s*([\d.]+)/i.exec(text)?.[1];
}

/** `nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits`, one line a GPU. */
export function parseNvidiaMemoryUsed(csv: string): number[] {
  return csv
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^\d+(\.\d+)?$/.test(l))
    .map(Number);
}

function findValues(node: unknown, key: string, out: unknown[] = []): unknown[] {
  if (Array.isArray(node)) for (const n of node) findValues(n, key, out);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === key) out.push(v);
      findValues(v, key, out);
    }
  }
  return out;
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string' && v.trim() && v !== 'N/A') return v.trim();
  if (v && typeof v === 'object' && 'value' in v) return str((v as { value: unknown }).value);
  return undefined;
}

/** `amd-smi static --asic --driver --json` (a list of GPUs, or {gpu_data: [...]} in newer releases). */
export function parseAmdSmiStatic(json: string): GpuInfo {
  const data: unknown = JSON.parse(json);
  const names = findValues(data, 'market_name')
    .map(str)
    .filter((s): s is string => !!s);
  if (names.length === 0) throw new Error('amd-smi static printed no GPU with a market_name');
  const driver = findValues(data, 'driver')
    .map((d) => (d && typeof d === 'object' ? str((d as Record<string, unknown>).version) : undefined))
    .find(Boolean);
  return { names, driver };
}

/** `amd-smi version --json`: the ROCm version when the tool reports it. */
export function parseAmdSmiVersion(json: string): string | undefined {
  try {
    return findValues(JSON.parse(json), 'rocm_version').map(str).find(Boolean);
  } catch {
    return /ROCm version:\s*([\d.]+)/i.exec(json)?.[1];
  }
}

/** `rocm-smi --showproductname --showdriverversion --json` */
export function parseRocmSmi(json: string): GpuInfo {
  const data = JSON.parse(json) as Record<string, Record<string, string>>;
  const cards = Object.entries(data).filter(([k]) => /^card\d+$/.test(k));
  if (cards.length === 0) throw new Error('rocm-smi printed no card');
  return {
    names: cards.map(([, v]) => v['Card Series'] ?? v['Card series'] ?? v['Card Model'] ?? 'AMD GPU'),
    driver: data.system?.['Driver version'],
  };
}

/** `rocm-smi --showmeminfo vram --json`: used VRAM per card, MiB. */
export function parseRocmSmiMemoryUsed(json: string): number[] {
  const data = JSON.parse(json) as Record<string, Record<string, string>>;
  return Object.entries(data)
    .filter(([k]) => /^card\d+$/.test(k))
    .map(([, v]) => Number(v['VRAM Total Used Memory (B)'] ?? Number.NaN) / 2 ** 20)
    .filter((n) => Number.isFinite(n));
}

/** What `python -c PROBE` prints: one JSON object. */
export interface TorchProbe {
  python: string;
  torch?: string;
  torchCuda?: string;
  torchHip?: string;
  gpuAvailable?: boolean;
  deviceCount?: number;
  deviceName?: string;
  triton?: string;
  vllm?: string;
  env: Record<string, string>;
  errors: string[];
}

/** Settings that change what the gate costs; probed from the environment the steps run in. */
export const SETTINGS_ENV = [
  'VLLM_SHARED_EXPERTS_STREAM_TOKEN_THRESHOLD',
  'VLLM_ROCM_USE_AITER',
  'VLLM_ROCM_USE_AITER_MOE',
  'VLLM_ROCM_USE_AITER_FUSION_SHARED_EXPERTS',
  'VLLM_FUSED_SHARED_EXPERT_GATE',
  'CUDA_VISIBLE_DEVICES',
  'HIP_VISIBLE_DEVICES',
] as const;

export const TORCH_PROBE = `
import importlib.metadata as md, json, os, platform, sys
out = {"python": platform.python_version(), "env": {}, "errors": []}
for k in ${JSON.stringify(SETTINGS_ENV)}:
    if k in os.environ:
        out["env"][k] = os.environ[k]
try:
    import torch
    out["torch"] = torch.__version__
    out["torchCuda"] = torch.version.cuda
    out["torchHip"] = getattr(torch.version, "hip", None)
    out["gpuAvailable"] = bool(torch.cuda.is_available())
    out["deviceCount"] = torch.cuda.device_count() if out["gpuAvailable"] else 0
    if out["gpuAvailable"]:
        out["deviceName"] = torch.cuda.get_device_name(0)
except Exception as e:
    out["errors"].append("torch: %s" % e)
for name in ("triton", "vllm"):
    try:
        out[name] = md.version(name)
    except Exception:
        pass
print(json.dumps(out))
`;

export function parseTorchProbe(stdout: string): TorchProbe {
  const line = stdout
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.trim().startsWith('{'));
  if (!line) throw new Error(`the python probe printed no JSON: ${JSON.stringify(stdout.slice(-200))}`);
  const data = JSON.parse(line) as Partial<TorchProbe> & Record<string, unknown>;
  const clean = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  return {
    python: clean(data.python) ?? 'unknown',
    torch: clean(data.torch),
    torchCuda: clean(data.torchCuda),
    torchHip: clean(data.torchHip),
    gpuAvailable: typeof data.gpuAvailable === 'boolean' ? data.gpuAvailable : undefined,
    deviceCount: typeof data.deviceCount === 'number' ? data.deviceCount : undefined,
    deviceName: clean(data.deviceName),
    triton: clean(data.triton),
    vllm: clean(data.vllm),
    env: (data.env as Record<string, string>) ?? {},
    errors: Array.isArray(data.errors) ? data.errors.map(String) : [],
  };
}

/** The settings row of the RunResult: what is set, and vLLM's default where it is not. */
export function gateSettings(vendor: string, env: Record<string, string>): Record<string, string> {
  const settings: Record<string, string> = {};
  const value = (name: string, fallback: string) =>
    env[name] !== undefined ? env[name] : `${fallback} (vLLM default)`;
  if (vendor === 'nvidia') {
    // on CUDA the shared expert overlaps the routed experts on a side stream up to this many tokens
    settings.VLLM_SHARED_EXPERTS_STREAM_TOKEN_THRESHOLD = value(
      'VLLM_SHARED_EXPERTS_STREAM_TOKEN_THRESHOLD',
      '256',
    );
  }
  if (vendor === 'amd') {
    settings.VLLM_ROCM_USE_AITER = value('VLLM_ROCM_USE_AITER', 'False');
    // when on (with AITER), the shared expert is folded into the routed MoE kernel and the gate is bypassed
    settings.VLLM_ROCM_USE_AITER_FUSION_SHARED_EXPERTS = value(
      'VLLM_ROCM_USE_AITER_FUSION_SHARED_EXPERTS',
      'False',
    );
  }
  for (const name of ['CUDA_VISIBLE_DEVICES', 'HIP_VISIBLE_DEVICES'])
    if (env[name] !== undefined) settings[name] = env[name];
  return settings;
}

/** A short stable name for the cards a run used: the same cards give the same id; the UUIDs stay private. */
export function cardIdentity(uuids: readonly string[]): string {
  return createHash('sha256')
    .update(
      [...uuids]
        .map((u) => u.toLowerCase())
        .sort()
        .join(','),
    )
    .digest('hex')
    .slice(0, 12);
}
