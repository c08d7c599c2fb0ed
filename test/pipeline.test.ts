// The validate pipeline end to end: a real git repository, the fake GPU tools on PATH, a RunResult and a report.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runValidate } from '../src/modes/validate.js';
import { parseRunResult, type RunResult } from '../src/results/run-result.js';
import { deps, fakeEnv, makeBundle, makeVllmRepo, pipelineConfig, recordingHost } from './fakes/world.js';

async function readResult(path: string | undefined): Promise<RunResult> {
  expect(path).toBeTruthy();
  return parseRunResult(JSON.parse(await readFile(path as string, 'utf8')), path as string);
}

const stepOf = (r: RunResult, name: string) => r.steps.find((s) => s.name === name);

describe('validate on an NVIDIA runner (fake tools), vLLM installed', () => {
  it('runs every step, records device, tests, microbench and an interleaved A/B, writes the raw files', {
    timeout: 120_000,
  }, async () => {
    const repo = await makeVllmRepo();
    const bundle = await makeBundle();
    const env = await fakeEnv({ FAKE_GPU: 'nvidia', FAKE_VLLM_VERSION: '0.33.0', FAKE_GATE_GAIN: '0.05' });
    const config = await pipelineConfig({
      'vllm-repository': repo.dir,
      'vllm-ref': 'v0.33.0',
      bundle,
      install: 'precompiled',
      shapes: '1024x1024,8192x1024',
      concurrencies: '4',
      repeats: '2',
      model: 'Qwen/Qwen1.5-MoE-A2.7B',
    });
    const host = recordingHost({ GITHUB_REPOSITORY: 'example/vllm', GITHUB_RUN_ID: '42' });
    const outcome = await runValidate(config, host, await deps(env));
    expect(outcome.exitCode).toBe(0);
    const r = await readResult(outcome.resultPath);

    expect(r.steps.map((s) => [s.name, s.status])).toEqual([
      ['checkout', 'passed'],
      ['apply-bundle', 'passed'],
      ['install', 'passed'],
      ['detect-device', 'passed'],
      ['compile', 'passed'],
      ['kernel-tests', 'passed'],
      ['microbench', 'passed'],
      ['e2e', 'passed'],
    ]);
    expect(r.compile?.targets.map((t) => t.target)).toContain('gfx950');
    expect(r.identity.vllmSha).toBe(repo.sha);
    expect(r.identity.runUrl).toBe('https://github.com/example/vllm/actions/runs/42');
    expect(r.identity.bundleHash).toMatch(/^[0-9a-f]{64}$/);
    expect(r.device).toMatchObject({
      vendor: 'nvidia',
      name: 'NVIDIA H200',
      count: 1,
      driver: '580.159.04',
      cuda: '13.0',
      torch: '2.11.0+cu130',
      triton: '3.6.0',
      python: '3.12.3',
      vllm: '0.33.0',
      vllmSha: repo.sha,
    });
    expect(r.settings.VLLM_SHARED_EXPERTS_STREAM_TOKEN_THRESHOLD).toBe('256 (vLLM default)');

    // vLLM's documented Python-only install, of the patched tree
    const install = await readFile(join(config.outputDir, 'logs/install.log'), 'utf8');
    expect(install).toMatch(/uv pip install --python \S+ --editable \. --torch-backend=auto/);
    expect(install).toContain('vllm.entrypoints.cli.main download-kernels');
    expect(install).toContain('(the checked-out tree)');
    // the bundle's unit tests ran inside the vLLM tree, where the bundle put them; conformance from the bundle
    expect(stepOf(r, 'kernel-tests')?.logTail).toContain(
      'tests/kernels/moe/test_fused_shared_expert_gate.py',
    );
    expect(r.tests?.filter((t) => t.group === 'conformance')).toHaveLength(27);
    expect(r.tests?.filter((t) => t.group === 'bundle')).toHaveLength(14);
    expect(r.testGroups?.map((g) => [g.group, g.status])).toEqual([
      ['conformance', 'ran'],
      ['pr', 'skipped'],
      ['bundle', 'ran'],
    ]);
    expect(r.kernel).toMatchObject({
      source: 'bundle',
      path: 'vllm/model_executor/layers/fused_moe/shared_expert_gate.py',
      commit: repo.sha,
    });
    expect(r.tests?.find((t) => t.id.endsWith('test_matches_reference[bfloat16-K2048-N7177]'))).toMatchObject(
      {
        status: 'passed',
        dtype: 'bfloat16',
        k: 2048,
        n: 7177,
      },
    );
    expect(r.microbench?.copyGbps).toBe(3002);
    expect(r.microbench?.cells).toHaveLength(9);

    expect(r.e2e?.backend).toBe('vllm-serve');
    expect(r.e2e?.cells.map((c) => c.id)).toEqual(['in1024-out1024-c4', 'in8192-out1024-c4']);
    for (const cell of r.e2e?.cells ?? []) {
      expect(cell.status).toBe('ok');
      // the sequential rule's first look (4 pairs) calls the fake's 5% at once, so each cell stops there
      expect(cell.baseline).toHaveLength(4);
      expect(cell.patched).toHaveLength(4);
      // the fake server's patched path is 5% faster: the arms really differ by the gate switch
      expect(Math.min(...cell.patched)).toBeGreaterThan(Math.max(...cell.baseline));
    }
    const e2eLog = await readFile(join(config.outputDir, 'logs/e2e.log'), 'utf8');
    // one server per arm, the idle one asleep (the H200 of the fakes cannot hold two unknown-size models)
    const starts = [...e2eLog.matchAll(/starting vllm serve \((\w+) arm: (\S+); swap (\w+)\)/g)].map(
      (m) => `${m[1]} ${m[2]} ${m[3]}`,
    );
    expect(starts).toEqual([
      'baseline VLLM_FUSED_SHARED_EXPERT_GATE=0 sleep',
      'patched VLLM_FUSED_SHARED_EXPERT_GATE=1 sleep',
    ]);
    // counterbalanced A B B A B A A B within each cell, cell after cell
    const runs = [...e2eLog.matchAll(/^e2e (\S+) (\w+) arm, repeat (\d)/gm)].map(
      (m) => `${m[1]} ${m[2]}${m[3]}`,
    );
    const look = [
      'baseline1',
      'patched1',
      'patched2',
      'baseline2',
      'patched3',
      'baseline3',
      'baseline4',
      'patched4',
    ];
    expect(runs).toEqual([
      ...look.map((r) => `in1024-out1024-c4 ${r}`),
      ...look.map((r) => `in8192-out1024-c4 ${r}`),
    ]);
    expect(e2eLog).toMatch(/baseline arm put to sleep in [\d.]+ s\n/);
    expect(e2eLog).toMatch(/baseline arm woken in [\d.]+ s\n/);
    expect(r.e2e?.swap).toBe('sleep');
    expect(r.e2e?.plan?.serverStarts).toBe(2);
    expect(r.e2e?.method).toContain('counterbalanced A B B A, B A A B in looks of 4 pairs');
    expect(e2eLog).not.toContain('look 2');
    expect(e2eLog).toContain('8/16 done');
    expect(e2eLog).toMatch(/16\/16 done, elapsed \d+ s, about 0 s left/);
    expect(e2eLog).not.toContain('NOT released');

    const out = config.outputDir;
    const raw = await readdir(join(out, 'e2e'));
    // 16 samples, and each arm's warm-up runs before its first sample of a cell
    expect(raw.filter((f) => f.endsWith('.json') && !f.includes('-warmup'))).toHaveLength(16);
    expect(raw.filter((f) => f.includes('-warmup')).length).toBeGreaterThanOrEqual(4);
    // arm integrity: the fake's model worker ran the patched tree's op on its 2 layers, the baseline did not
    expect(r.e2e?.integrity).toMatchObject({
      status: 'ok',
      arms: {
        baseline: { claims: 'original', kernelLaunches: 0 },
        patched: { claims: 'fused', kernelLaunches: 2, layers: 2, kernels: ['_shared_expert_gate_kernel'] },
      },
    });
    expect(r.e2e?.method).toContain('Arm integrity');
    const bench = JSON.parse(await readFile(join(out, 'e2e', 'in1024-out1024-c4-patched-r1.json'), 'utf8'));
    expect(bench).toMatchObject({ arm: 'patched', max_concurrency: 4, VLLM_FUSED_SHARED_EXPERT_GATE: '1' });
    for (const f of [
      'junit.xml',
      'junit-bundle.xml',
      'microbench.json',
      'report.md',
      'logs/checkout.log',
      'logs/e2e-server-patched-1.log',
    ]) {
      expect((await stat(join(out, f))).isFile()).toBe(true);
    }
    // the whole output directory, as one artifact named for the runner
    expect(host.uploads).toHaveLength(1);
    expect(host.uploads[0].name).toBe('vllm-kernel-ci-out-test-runner');
    expect(host.uploads[0].rootDir).toBe(out);
    const uploaded = host.uploads[0].files.map((f) => f.slice(out.length + 1)).sort();
    expect(uploaded).toEqual(
      expect.arrayContaining(['run-result.json', 'report.md', 'junit.xml', 'logs/e2e.log']),
    );
    expect(uploaded.filter((f) => f.startsWith('e2e/') && !f.includes('-warmup'))).toHaveLength(16);
    expect(host.groups.map((g) => g.split(' ')[0])).toEqual([
      'checkout',
      'apply-bundle',
      'install',
      'detect-device',
      'compile',
      'kernel-tests',
      'microbench',
      'e2e',
    ]);
  });
});

describe('validate with e2e-aa: the noise floor', () => {
  it('runs the baseline in both arms, so a real gate gain cannot show', { timeout: 120_000 }, async () => {
    const repo = await makeVllmRepo();
    const bundle = await makeBundle();
    const env = await fakeEnv({ FAKE_GPU: 'nvidia', FAKE_VLLM_VERSION: '0.33.0', FAKE_GATE_GAIN: '0.05' });
    const config = await pipelineConfig({
      'vllm-repository': repo.dir,
      'vllm-ref': 'v0.33.0',
      bundle,
      install: 'precompiled',
      shapes: '1024x1024',
      concurrencies: '4',
      repeats: '2',
      'e2e-aa': 'true',
    });
    const outcome = await runValidate(config, recordingHost({}), await deps(env));
    const r = await readResult(outcome.resultPath);
    expect(r.e2e?.aa).toBe(true);
    expect(r.e2e?.method).toContain('A/A run');
    const out = config.outputDir;
    for (const arm of ['baseline', 'patched']) {
      const bench = JSON.parse(await readFile(join(out, 'e2e', `in1024-out1024-c4-${arm}-r1.json`), 'utf8'));
      expect(bench).toMatchObject({ arm, VLLM_FUSED_SHARED_EXPERT_GATE: '0' });
    }
    // the fake's patched path is 5% faster; with both arms on the baseline no sample shows it
    const cell = r.e2e?.cells[0];
    expect(Math.max(...(cell?.patched ?? []))).toBeLessThan(Math.min(...(cell?.baseline ?? [])) * 1.04);
    expect(await readFile(join(out, 'report.md'), 'utf8')).toContain('A/A: both arms ran the baseline');
  });
});
