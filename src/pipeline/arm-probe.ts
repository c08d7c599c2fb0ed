// Arm integrity: what each arm's `vllm serve` ran, from the probe records its processes wrote
// (kernels/arm_probe/), judged against what the arm claims. Reading is the only I/O here.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { ArmIntegrity, ArmProbe } from '../results/run-result.js';
import { readNoFollow } from '../security/files.js';

/** The probe's variables (kernels/arm_probe/kernel_ci_probe.py); not VLLM_*, so vLLM does not warn about them. */
export const PROBE_DIR_ENV = 'KERNEL_CI_PROBE_DIR';
export const PROBE_OP_ENV = 'KERNEL_CI_PROBE_OP';

const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
/** One process's record; the server runs the tree's code, so every field is bounded and checked. */
const ProbeRecord = z.object({
  pid: count,
  launches: z.record(z.string().max(300), count).refine((r) => Object.keys(r).length <= 5_000),
  opModuleLaunches: count,
  opCalls: count,
  opTraced: count,
  weights: count,
  errors: z.array(z.string().max(2_000)).max(10),
});
type ProbeRecord = z.infer<typeof ProbeRecord>;

/** `vllm/model_executor/layers/x.py` + `op` → `vllm.model_executor.layers.x:op` (what the probe watches). */
export function probeTarget(path: string, symbol: string): string {
  const module = path
    .replace(/\.py$/, '')
    .replace(/\/__init__$/, '')
    .split('/')
    .join('.');
  return `${module}:${symbol}`;
}

/** The records of one arm's probe directory (all its servers' processes); unreadable files are skipped. */
export async function readProbeRecords(dir: string): Promise<{ records: ProbeRecord[]; unreadable: number }> {
  const names = (await readdir(dir).catch(() => [] as string[]))
    .filter((n) => /^probe-\d+\.json$/.test(n))
    .slice(0, 200);
  const records: ProbeRecord[] = [];
  let unreadable = 0;
  for (const name of names) {
    // written by the served tree's process: never followed through a link
    const text = await readNoFollow(join(dir, name), 1_000_000)
      .then((b) => b.toString('utf8'))
      .catch(() => '');
    try {
      const parsed = ProbeRecord.safeParse(JSON.parse(text.slice(0, 1_000_000)));
      if (parsed.success) records.push(parsed.data);
      else unreadable++;
    } catch {
      unreadable++;
    }
  }
  return { records, unreadable };
}

/** One arm's counts over its processes; `undefined` when no process wrote a record. */
export function summariseProbe(
  records: readonly ProbeRecord[],
  claims: ArmProbe['claims'],
  opModule: string,
): ArmProbe | undefined {
  if (records.length === 0) return undefined;
  const kernels = new Set<string>();
  let tritonLaunches = 0;
  for (const r of records)
    for (const [name, n] of Object.entries(r.launches)) {
      tritonLaunches += n;
      if (name.startsWith(`${opModule}.`) && n > 0) kernels.add(name.slice(opModule.length + 1));
    }
  const sum = (f: (r: ProbeRecord) => number) => records.reduce((s, r) => s + f(r), 0);
  return {
    claims,
    processes: records.length,
    tritonLaunches,
    kernelLaunches: sum((r) => r.opModuleLaunches),
    opCalls: sum((r) => r.opCalls),
    opTraced: sum((r) => r.opTraced),
    layers: Math.max(...records.map((r) => r.weights)),
    kernels: [...kernels].sort().slice(0, 20),
    errors: records.flatMap((r) => r.errors.map((e) => e.slice(0, 300))).slice(0, 10),
  };
}

function armFinding(
  arm: 'baseline' | 'patched',
  p: ArmProbe | undefined,
  expectedLayers?: number,
): string | undefined {
  if (!p) return undefined;
  if (p.claims === 'original') {
    return p.kernelLaunches > 0
      ? `the ${arm} arm claims the original expression but launched the op's kernels ${p.kernelLaunches} times (${p.kernels.join(', ')})`
      : undefined;
  }
  if (p.kernelLaunches === 0)
    return p.opCalls > 0
      ? `the ${arm} arm called the op ${p.opCalls} times but never launched its Triton kernel (a fallback path ran)`
      : `the ${arm} arm claims the op under test but never launched its kernel`;
  if (expectedLayers !== undefined && p.opCalls > 0 && p.layers < expectedLayers)
    return `the ${arm} arm ran the op on ${p.layers} of the model's ${expectedLayers} shared-expert layers`;
  return undefined;
}

/**
 * ok: each arm ran what it claims (the original expression: no launch of the op's kernels; the op: launches on
 * every shared-expert layer); violated: one did not, so its samples measure something else; unknown: an arm's
 * server wrote no record (the probe did not load there), so nothing can be said.
 */
export function judgeIntegrity(
  arms: { baseline?: ArmProbe; patched?: ArmProbe },
  o: { op: string; expectedLayers?: number },
): ArmIntegrity {
  const findings = (['baseline', 'patched'] as const)
    .map((arm) => armFinding(arm, arms[arm], o.expectedLayers))
    .filter((f): f is string => f !== undefined);
  const missing = (['baseline', 'patched'] as const).filter((arm) => !arms[arm]);
  const base = {
    op: o.op,
    arms,
    ...(o.expectedLayers !== undefined ? { expectedLayers: o.expectedLayers } : {}),
  };
  if (findings.length > 0) return { ...base, status: 'violated', reason: findings.join('; ') };
  if (missing.length > 0)
    return {
      ...base,
      status: 'unknown',
      reason: `no probe record from the ${missing.join(' and ')} arm's server: cannot tell which gate it ran`,
    };
  const said = (p: ArmProbe) =>
    p.claims === 'original'
      ? `no launch of the op's kernels (${p.tritonLaunches} other Triton launches)`
      : `${p.kernelLaunches} launches of ${p.kernels.join(', ')}${p.opCalls > 0 ? ` on ${p.layers} layers` : ' (calls traced by torch.compile)'}`;
  return {
    ...base,
    status: 'ok',
    reason: `baseline: ${said(arms.baseline as ArmProbe)}; patched: ${said(arms.patched as ArmProbe)}`,
  };
}

/** Layers whose MoE block has a shared expert with its gate, from a Hugging Face config.json; undefined if unknown. */
export function sharedExpertLayers(config: unknown): number | undefined {
  if (typeof config !== 'object' || config === null) return undefined;
  const c = ((config as Record<string, unknown>).text_config ?? config) as Record<string, unknown>;
  const layers = c.num_hidden_layers;
  const shared = c.shared_expert_intermediate_size;
  if (typeof layers !== 'number' || typeof shared !== 'number') return undefined;
  if (shared <= 0) return 0;
  const step =
    typeof c.decoder_sparse_step === 'number' && c.decoder_sparse_step > 0 ? c.decoder_sparse_step : 1;
  const mlpOnly = new Set(Array.isArray(c.mlp_only_layers) ? c.mlp_only_layers : []);
  let n = 0;
  for (let i = 0; i < layers; i++) if (!mlpOnly.has(i) && (i + 1) % step === 0) n++;
  return n;
}
