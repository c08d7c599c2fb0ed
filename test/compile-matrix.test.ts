// The compile matrix: real Triton compiling kernels for AMD and NVIDIA targets on this CPU machine, the step
// that fails naming the target and configuration, the parser, and the report's table and per-card roofline.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { compileStep } from '../src/pipeline/compile.js';
import { StepRecorder } from '../src/pipeline/step.js';
import { compilePart } from '../src/report/compile.js';
import { serialise } from '../src/report/markdown.js';
import { renderRunnerSection } from '../src/report/render.js';
import type { CompileMatrix } from '../src/results/compile-matrix.js';
import { compileFailures, parseCompileMatrix } from '../src/results/parsers/compile-matrix.js';
import { parseRunResult, type RunResult } from '../src/results/run-result.js';
import { analyseRun } from '../src/stats/analyse.js';
import { rooflines } from '../src/stats/roofline.js';
import { recordingHost } from './fakes/world.js';
import { ROOT, tempDir } from './helpers.js';

const python = process.env.VLLM_KERNEL_CI_PYTHON ?? 'python3';
const KERNELS = join(ROOT, 'test/fixtures/compile-kernels');
const FIXTURE = join(ROOT, 'fixtures/compile/matrix-bundle-cpu.json');

function baseResult(device: RunResult['device'] = { vendor: 'cpu', name: 'cpu', count: 0 }): RunResult {
  return parseRunResult(
    {
      schema: 1,
      tool: { name: 'vllm-kernel-ci', version: '0.0.0' },
      identity: {
        runner: 'r1',
        vllmRepo: 'pypi',
        vllmRef: '0.33.0',
        bundle: 'fused_shared_expert_gate',
        bundleHash: 'x',
        startedAt: '2026-12-01T00:00:00Z',
        finishedAt: '2026-12-01T00:00:00Z',
      },
      device,
      steps: [],
      settings: {},
    },
    'test RunResult',
  );
}

async function runCompile(impl: string, extra: { targets: string[]; k?: number[]; dtypes?: string[] }) {
  const result = baseResult();
  const recorder = new StepRecorder({
    result,
    outDir: await tempDir('vkci-compile-'),
    host: recordingHost(),
    scrub: (s) => s,
  });
  await recorder.run('compile', (step) =>
    compileStep(step, { result, python, bundleDir: KERNELS, root: ROOT, env: process.env, impl, ...extra }),
  );
  const step = result.steps.find((s) => s.name === 'compile');
  if (!step) throw new Error('the compile step was not recorded');
  return { result, step };
}

describe('compile step on real Triton (no GPU)', () => {
  it('fails naming the target and configuration when a kernel spills there, and not where it fits', {
    timeout: 120_000,
  }, async () => {
    const { result, step } = await runCompile(`${KERNELS}/spill_gate.py::fused_shared_expert_gate`, {
      targets: ['gfx950', 'sm_90'],
      k: [2048],
      dtypes: ['bf16'],
    });
    expect(step.status).toBe('failed');
    expect(step.reason).toMatch(
      /^1 of 2 configurations fail: sm_90 bf16 BLOCK_K=8192 warps=1: spills \(\d+ bytes\)$/,
    );
    const [amd, nvidia] = result.compile?.targets ?? [];
    expect(amd).toMatchObject({ target: 'gfx950', status: 'ok' });
    expect(amd.configs[0]).toMatchObject({ status: 'ok', spills: 0, numWarps: 1 });
    expect(nvidia.configs[0].status).toBe('spill');
    expect(nvidia.configs[0].registers).toBe(255);
    expect(nvidia.configs[0].spills).toBeGreaterThan(0);
  });

  it('fails naming gfx950 when a kernel does not compile for AMD but does for sm_90', {
    timeout: 120_000,
  }, async () => {
    const { result, step } = await runCompile(`${KERNELS}/nvidia_only_gate.py::fused_shared_expert_gate`, {
      targets: ['gfx950', 'sm_90'],
      k: [2048],
      dtypes: ['bf16'],
    });
    expect(step.status).toBe('failed');
    expect(step.reason).toMatch(
      /^1 of 2 configurations fail: gfx950 bf16 BLOCK_K=2048 warps=4: does not compile: /,
    );
    expect(step.reason).toContain('invalid instruction');
    const [amd, nvidia] = result.compile?.targets ?? [];
    expect(amd).toMatchObject({ target: 'gfx950', status: 'failed' });
    expect(nvidia).toMatchObject({ target: 'sm_90', status: 'ok' });
    expect(nvidia.configs[0]).toMatchObject({ status: 'ok', spills: 0, vector16: true });
    // the report names it too
    const section = serialise(compilePart(result, rooflines(result)));
    expect(section).toMatch(/\| gfx950 \| MI355X \| ❌ 1 do not compile \|/);
    expect(section).toContain('invalid instruction');
  });

  it("the bundle's kernel: 16-byte loads and stores and no spill in every configuration on gfx950 and sm_90", {
    timeout: 180_000,
  }, async () => {
    const impl = `${ROOT}/kernels/fused_shared_expert_gate/shared_expert_gate.py::fused_shared_expert_gate`;
    const { result, step } = await runCompile(impl, { targets: ['gfx950', 'sm_90'] });
    expect(step.status).toBe('passed');
    for (const t of result.compile?.targets ?? []) {
      expect(t.configs.length).toBeGreaterThanOrEqual(8);
      for (const c of t.configs) {
        expect({ target: t.target, id: c.id, vector16: c.vector16, spills: c.spills }).toEqual({
          target: t.target,
          id: c.id,
          vector16: true,
          spills: 0,
        });
      }
    }
    // 64-thread wavefronts: half the warps of NVIDIA's for the same 16 bytes per thread
    const warps = (target: string) =>
      result.compile?.targets
        .find((t) => t.target === target)
        ?.configs.find((c) => c.k.includes(2048) && c.dtype === 'bf16')?.numWarps;
    expect([warps('gfx950'), warps('sm_90')]).toEqual([4, 8]);
  });
  it('is not available, not failed, when the op launches no kernel for the probe', {
    timeout: 120_000,
  }, async () => {
    const none =
      'the op launched no Triton kernel for CPU tensors (TRITON_INTERPRET=1), so none was compiled';
    const { step } = await runCompile(`${KERNELS}/cuda_only_gate.py::fused_shared_expert_gate`, {
      targets: ['gfx950', 'sm_90'],
      k: [2048],
      dtypes: ['bf16'],
    });
    expect(step).toMatchObject({
      status: 'not-available',
      reason: `nothing compiled: gfx950: ${none}; sm_90: ${none}`,
    });
  });
  it('fails naming the target whose launcher raises, from the target it was shown', {
    timeout: 120_000,
  }, async () => {
    const { result, step } = await runCompile(
      `${KERNELS}/nvidia_launcher_gate.py::fused_shared_expert_gate`,
      {
        targets: ['gfx950', 'sm_90'],
        k: [2048],
        dtypes: ['bf16'],
      },
    );
    expect(step).toMatchObject({
      status: 'failed',
      reason:
        '1 of 1 configurations fail: gfx950: the op raised NotImplementedError: no launch settings for gfx950 at bf16 K=2048',
    });
    expect(result.compile?.targets[1]).toMatchObject({ target: 'sm_90', status: 'ok' });
  });
});

describe('compile matrix JSON', () => {
  it('parses the real matrix and finds nothing failing in it', async () => {
    const m = parseCompileMatrix(await readFile(FIXTURE, 'utf8'));
    expect(m.targets.map((t) => t.target)).toEqual([
      'gfx950',
      'gfx942',
      'sm_80',
      'sm_89',
      'sm_90',
      'sm_100',
      'sm_120',
    ]);
    expect(compileFailures(m)).toEqual([]);
  });

  it('names every failing configuration, compile errors before spills', async () => {
    const m = parseCompileMatrix(await readFile(FIXTURE, 'utf8'));
    m.targets[4].configs[1] = { ...m.targets[4].configs[1], status: 'spill', spills: 96 };
    m.targets[0].configs[0] = {
      ...m.targets[0].configs[0],
      status: 'error',
      error: 'LLD failed\nerror: invalid instruction',
    };
    expect(compileFailures(m)).toEqual([
      `gfx950 ${m.targets[0].configs[0].id}: does not compile: error: invalid instruction`,
      `sm_90 ${m.targets[4].configs[1].id}: spills (96 bytes)`,
    ]);
  });

  it('rejects a file that is not a compile matrix, saying what it expected', () => {
    expect(() => parseCompileMatrix('{"schema": "vllm-kernel-ci/microbench@1"}', 'm.json')).toThrow(
      'm.json does not declare "schema": "vllm-kernel-ci/compile-matrix@1"',
    );
    expect(() =>
      parseCompileMatrix('{"schema": "vllm-kernel-ci/compile-matrix@1", "triton": "3.6.0"}', 'm.json'),
    ).toThrow(/m.json does not match the compile matrix shape: impl/);
  });
});

describe('report: compile table and per-card roofline', () => {
  async function withMatrix(device?: RunResult['device']): Promise<RunResult> {
    const result = baseResult(device);
    const { schema: _, ...matrix } = JSON.parse(await readFile(FIXTURE, 'utf8')) as CompileMatrix & {
      schema: string;
    };
    return parseRunResult({ ...result, compile: matrix }, 'test RunResult');
  }

  it('shows a row per target with registers, spills and vector widths, and each target behind a fold', async () => {
    const section = renderRunnerSection(
      analyseRun(await withMatrix(), { minEffectPct: 2, failOnRegression: false }),
    );
    expect(section).toContain('#### Compile matrix');
    expect(section).toMatch(
      /\| gfx950 \| MI355X \| ✅ ok \| 10 \| \d+–\d+ VGPR \| 0 \| \d+–\d+ \| 10\/10 \| [\d.]+ s \|/,
    );
    expect(section).toMatch(/\| gfx942 \| MI300X \| ✅ ok \| 10 \|/);
    expect(section).toMatch(/\| sm_90 \| H100, H200 \| ✅ ok \| 10 \| \d+–\d+ \| 0 \|/);
    expect(section).toContain('<summary>gfx950: 10 configurations</summary>');
    expect(section).toMatch(
      /\| bf16\/fp16 BLOCK_K=2048 NUM_SLICES=1 warps=4 \| 2048 \| ✅ ok \| \d+ VGPR, \d+ SGPR \| 0 \|/,
    );
  });

  it('predicts floors from published bandwidth, and uses the measured copy ceiling for the card on the runner', async () => {
    const cpu = rooflines(await withMatrix());
    const h200 = cpu.cards.find((c) => c.card === 'H200');
    // bf16 K2048 N8192: 3·8192·2048·2 + 2048·2 bytes over 4.8 TB/s
    expect(h200).toMatchObject({ gbps: 4800, source: 'published' });
    expect(h200?.floorUs[1]).toBeCloseTo((3 * 8192 * 2048 * 2 + 4096) / 4.8e6, 6);
    const onH200 = await withMatrix({ vendor: 'nvidia', name: 'NVIDIA H200', count: 1 });
    onH200.microbench = { copyGbps: 3900, cells: [] };
    const measured = rooflines(onH200).cards.find((c) => c.card === 'H200');
    expect(measured).toMatchObject({ gbps: 3900, source: 'measured' });
    expect(rooflines(onH200).cards.find((c) => c.card === 'MI355X')).toMatchObject({
      gbps: 8000,
      source: 'published',
    });
    const part = serialise(compilePart(onH200, rooflines(onH200)));
    expect(part).toMatch(/\| H200 \| sm_90 \| 3900 \(measured copy\) \|/);
    expect(part).toMatch(/\| MI355X \| gfx950 \| 8000 \(published\) \|/);
  });

  it('a card not in the table gets its own measured row; the H100 PCIe is not taken for the SXM', async () => {
    const pcie = await withMatrix({ vendor: 'nvidia', name: 'NVIDIA H100 PCIe', count: 1 });
    pcie.microbench = { copyGbps: 1700, cells: [] };
    const cards = rooflines(pcie).cards;
    expect(cards.find((c) => c.card === 'H100 SXM')).toMatchObject({ gbps: 3350, source: 'published' });
    expect(cards.at(-1)).toMatchObject({ card: 'NVIDIA H100 PCIe', gbps: 1700, source: 'measured' });
  });

  it('an old RunResult without a compile section still parses and renders without the part', () => {
    expect(compilePart(baseResult(), rooflines(baseResult()))).toEqual([]);
  });
});

describe('compile-targets input', () => {
  const config = (value?: string) => parseConfig((name) => (name === 'compile-targets' ? value : undefined));

  it('defaults to every target, takes a subset, and none skips the step', () => {
    expect(config().compileTargets).toEqual([
      'gfx950',
      'gfx942',
      'sm_80',
      'sm_89',
      'sm_90',
      'sm_100',
      'sm_120',
    ]);
    expect(config('gfx950, sm_90').compileTargets).toEqual(['gfx950', 'sm_90']);
    expect(config('none').compileTargets).toEqual([]);
  });

  it('names an unknown target and lists the known ones', () => {
    expect(() => config('gfx950,sm_75')).toThrow(
      "Invalid compile-targets 'gfx950,sm_75'. Expected a comma-separated list of gfx950, gfx942, sm_80, sm_89, sm_90, sm_100, sm_120, or none.",
    );
  });

  it('skips the step with none', async () => {
    const result = baseResult();
    const recorder = new StepRecorder({
      result,
      outDir: await tempDir('vkci-compile-'),
      host: recordingHost(),
      scrub: (s) => s,
    });
    await recorder.run('compile', (step) =>
      compileStep(step, { result, python, bundleDir: KERNELS, root: ROOT, env: process.env, targets: [] }),
    );
    expect(result.steps[0]).toMatchObject({
      name: 'compile',
      status: 'skipped',
      reason: 'compile-targets: none',
    });
  });
});
