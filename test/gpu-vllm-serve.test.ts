// The first vllm-serve A/B on a real vLLM (0.20.2, H200, 2026-12-03): its raw bench files and arm-probe records,
// read back with the project's own parsers (fixtures/gpu/vllm-serve-h200/NOTES.md says what ran and what did not).
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { judgeIntegrity, readProbeRecords, summariseProbe } from '../src/pipeline/arm-probe.js';
import { parseBenchServe } from '../src/results/parsers/bench-serve.js';
import type { E2eCell } from '../src/results/run-result.js';
import { cellDrift } from '../src/stats/drift.js';
import { compareCell } from '../src/stats/e2e.js';
import { ROOT } from './helpers.js';

const DIR = join(ROOT, 'fixtures/gpu/vllm-serve-h200/ab-first-rounds');
const OP = 'vllm.model_executor.layers.fused_moe.shared_expert_gate';

async function bench(name: string) {
  return parseBenchServe(await readFile(join(DIR, 'bench', name), 'utf8'), name);
}

async function cell(id: string): Promise<E2eCell> {
  const samples = async (arm: string) => {
    const out: number[] = [];
    for (let r = 1; r <= 6; r++) out.push((await bench(`${id}-${arm}-r${r}.json`)).outputThroughput);
    return out;
  };
  return {
    id,
    params: {},
    metric: 'output_throughput',
    unit: 'tok/s',
    higherIsBetter: true,
    baseline: await samples('baseline'),
    patched: await samples('patched'),
    status: 'ok',
    reruns: 0,
  };
}

describe('the real vllm serve A/B on the H200 (vLLM 0.20.2, first rounds)', () => {
  it('every bench file is a clean sample: all requests completed, none failed', async () => {
    const names = (await readdir(join(DIR, 'bench'))).filter((n) => n.endsWith('.json'));
    expect(names.length).toBe(49);
    for (const name of names) {
      const b = await bench(name);
      expect(b.failed, name).toBe(0);
      expect(b.completed, name).toBeGreaterThanOrEqual(8);
    }
  });

  it('arm integrity: the patched server launched the kernel on all 4 layers, the baseline never', async () => {
    const arm = async (name: 'baseline' | 'patched', claims: 'original' | 'fused') =>
      summariseProbe((await readProbeRecords(join(DIR, 'probe', name))).records, claims, OP);
    const baseline = await arm('baseline', 'original');
    const patched = await arm('patched', 'fused');
    expect(baseline).toMatchObject({ kernelLaunches: 0, opCalls: 0, layers: 0 });
    expect(baseline?.tritonLaunches).toBeGreaterThan(1000); // vLLM's own Triton kernels: the probe was alive
    expect(patched).toMatchObject({
      kernelLaunches: 1424,
      opCalls: 1424,
      layers: 4,
      kernels: ['_shared_expert_gate_kernel'],
    });
    const verdict = judgeIntegrity(
      { baseline, patched },
      { op: `${OP}:fused_shared_expert_gate`, expectedLayers: 4 },
    );
    expect(verdict.status).toBe('ok');
  });

  it('runs of 2–4 s are too noisy to call anything: no cell is called, and the warm-up did not settle within 2%', async () => {
    for (const id of ['in512-out256-c4', 'in512-out256-c32']) {
      const c = await cell(id);
      const drift = cellDrift(c.baseline, c.patched);
      const verdict = compareCell({ ...c, ...(drift ? { drift } : {}) }, { minEffectPct: 2 });
      expect(['too-noisy', 'no-significant-change']).toContain(verdict.verdict);
    }
    const warm: number[] = [];
    for (let n = 2; n <= 6; n++)
      warm.push((await bench(`in512-out256-c4-baseline-warmup${n}.json`)).outputThroughput);
    const steps = warm.slice(1).map((v, i) => Math.abs(v / warm[i] - 1) * 100);
    expect(Math.min(...steps)).toBeGreaterThan(2);
  });
});
