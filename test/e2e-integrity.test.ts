// Arm integrity and the steady state on the fake vLLM: its model worker runs the tree's op where the tree has it,
// and the arm probe (kernels/arm_probe/) in every server process counts what ran.
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runServeAb, type ServeAbOptions } from '../src/pipeline/e2e.js';
import { gateSwitchArms } from '../src/pipeline/e2e-plan.js';
import { compareCell } from '../src/stats/e2e.js';
import { FAKE_BIN, fakeEnv, stepHandle } from './fakes/world.js';
import { oneLook, ROOT, tempDir } from './helpers.js';

const OP_PATH = 'vllm/model_executor/layers/fused_moe/shared_expert_gate.py';
const OP = 'vllm.model_executor.layers.fused_moe.shared_expert_gate:fused_shared_expert_gate';

/** A tree holding only the bundle's kernel where the manifest puts it, first on PYTHONPATH. */
async function treeWithOp(): Promise<string> {
  const tree = await tempDir('vkci-optree-');
  await mkdir(join(tree, 'vllm/model_executor/layers/fused_moe'), { recursive: true });
  await copyFile(join(ROOT, 'kernels/fused_shared_expert_gate/shared_expert_gate.py'), join(tree, OP_PATH));
  return tree;
}

async function ab(more: Partial<ServeAbOptions> = {}, fake: Record<string, string> = {}) {
  const tree = await treeWithOp();
  const env = await fakeEnv({ FAKE_GPU: 'nvidia', PYTHONPATH: tree, FAKE_VLLM_LAYERS: '3', ...fake });
  const step = await stepHandle('e2e');
  return runServeAb(step, {
    vllm: join(FAKE_BIN, 'vllm'),
    model: 'Qwen/Qwen1.5-MoE-A2.7B',
    tensorParallelSize: 1,
    shapes: [{ inputLen: 1024, outputLen: 1024 }],
    concurrencies: [4],
    repeats: 2,
    method: oneLook(2),
    env,
    vendor: 'nvidia',
    readyTimeoutMs: 20_000,
    benchTimeoutMs: 30_000,
    waitForGpuMemory: async () => true,
    weightsGiB: 10,
    probe: {
      siteDir: join(ROOT, 'kernels/arm_probe'),
      op: OP,
      recordsDir: join(step.outDir, 'e2e-probe'),
      expectedLayers: 3,
    },
    ...more,
  });
}

const hasPython = Boolean(process.env.VLLM_KERNEL_CI_PYTHON);

describe.skipIf(!hasPython)(
  'arm integrity on the fake vLLM (VLLM_KERNEL_CI_PYTHON runs its model worker)',
  () => {
    it('ok: the patched arm launched the kernel on every layer, the baseline never; warm-ups recorded', {
      timeout: 120_000,
    }, async () => {
      const e2e = await ab({ runSeconds: 30 }, { FAKE_NOISE: '0' });
      expect(e2e.integrity).toMatchObject({
        status: 'ok',
        expectedLayers: 3,
        arms: {
          baseline: { claims: 'original', kernelLaunches: 0, opCalls: 0 },
          patched: { claims: 'fused', kernelLaunches: 3, opCalls: 3, layers: 3 },
        },
      });
      const [cell] = e2e.cells;
      expect(cell.status).toBe('ok');
      // noiseless: each arm is steady after its first two agreeing warm-ups (the baseline's first also sizes the runs)
      expect(cell.warmups).toEqual({ baseline: 3, patched: 2 });
      expect(e2e.method).toContain('Arm integrity (probe in each server');
      // the first warm-up sized the runs for 30 s of requests at the tok/s it measured (1000 at c4 ^0.73 scaling)
      expect(cell.baseline).toHaveLength(2);
    });

    it('violated: a baseline that runs the kernel fails every cell with that reason, samples kept', {
      timeout: 120_000,
    }, async () => {
      const arms = gateSwitchArms();
      // the switch left on in the baseline: it claims the original expression but runs the op
      const wrong = { ...arms, baseline: { ...arms.baseline, env: { VLLM_FUSED_SHARED_EXPERT_GATE: '1' } } };
      const e2e = await ab({ arms: wrong, warmup: false });
      expect(e2e.integrity?.status).toBe('violated');
      expect(e2e.integrity?.reason).toMatch(
        /baseline arm claims the original expression but launched the op's kernels 3 times/,
      );
      expect(e2e.cells[0]).toMatchObject({ status: 'failed' });
      expect(e2e.cells[0].reason).toContain('arm integrity');
      expect(e2e.cells[0].baseline).toHaveLength(2);
    });

    it('violated: a patched arm on fewer layers than the model has', { timeout: 120_000 }, async () => {
      const e2e = await ab({ warmup: false }, { FAKE_VLLM_LAYERS: '2' });
      expect(e2e.integrity?.reason).toBe(
        "the patched arm ran the op on 2 of the model's 3 shared-expert layers",
      );
    });

    it('unknown: no probe record (the probe did not load) says it cannot tell, and judges nothing away', {
      timeout: 120_000,
    }, async () => {
      const empty = await tempDir('vkci-noprobe-');
      const step = await stepHandle('e2e');
      const e2e = await ab({
        warmup: false,
        probe: { siteDir: empty, op: OP, recordsDir: join(step.outDir, 'e2e-probe') },
      });
      expect(e2e.integrity?.status).toBe('unknown');
      expect(e2e.method).toContain('cannot tell whether the kernel ran');
      expect(e2e.cells[0].status).toBe('ok');
    });
  },
);

describe('drift across a cell', () => {
  const cell = (baseline: number[], patched: number[]) => ({
    id: 'c',
    params: {},
    metric: 'output_throughput',
    unit: 'tok/s',
    higherIsBetter: true,
    baseline,
    patched,
    status: 'ok' as const,
    reruns: 0,
  });

  it('a warm-up curve in both arms is too noisy, not a call', () => {
    // the first contact's shape: both arms rising run by run, the patched one a little ahead
    const rising = cell([3133, 3423, 4000, 4500, 5200, 6636], [3300, 3600, 4150, 4700, 5400, 6900]);
    const noDrift = compareCell(rising, { minEffectPct: 2 });
    expect(noDrift.verdict).toBe('improved');
    const drift = { pct: 110, noisePct: 2 };
    const judged = compareCell({ ...rising, drift }, { minEffectPct: 2 });
    expect(judged.verdict).toBe('too-noisy');
    expect(judged.reason).toMatch(/drifted \+110\.0% across the cell, beyond its noise of 2\.0%/);
  });

  it('a drift within the noise leaves the verdict alone', () => {
    const flat = cell([1000, 1010, 990, 1005, 995, 1000], [1050, 1060, 1040, 1055, 1045, 1050]);
    expect(compareCell({ ...flat, drift: { pct: 0.5, noisePct: 0.6 } }, { minEffectPct: 2 }).verdict).toBe(
      'improved',
    );
  });
});
