// The pipeline's parts: checkout of every ref kind from a real repository, the parsers on the real tools' formats.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config.js';
import { runValidate } from '../src/modes/validate.js';
import { type CheckedOut, checkout, classifyRepository } from '../src/pipeline/checkout.js';
import {
  gateSettings,
  parseAmdSmiStatic,
  parseAmdSmiVersion,
  parseNvidiaCudaVersion,
  parseNvidiaQuery,
  parseRocmSmi,
} from '../src/pipeline/device-parse.js';
import { benchArgs, progressLine } from '../src/pipeline/e2e.js';
import { parseCollected, shard } from '../src/pipeline/kernel-tests.js';
import { type StepHandle, StepRecorder } from '../src/pipeline/step.js';
import { parseBenchServe } from '../src/results/parsers/bench-serve.js';
import { parseE2eModel } from '../src/results/parsers/e2e-model.js';
import { caseShape, parseJunit } from '../src/results/parsers/junit.js';
import { parseMicrobench } from '../src/results/parsers/microbench.js';
import { parseRunResult, type RunResult, type Step } from '../src/results/run-result.js';
import { deps, fakeEnv, makeBundle, makeVllmRepo, pipelineConfig, recordingHost } from './fakes/world.js';
import { ROOT, tempDir } from './helpers.js';

const git = promisify(execFile);

async function inStep<T>(body: (step: StepHandle) => Promise<T>): Promise<{ value?: T; step: Step }> {
  const result = { steps: [] } as unknown as RunResult;
  const recorder = new StepRecorder({
    result,
    outDir: await tempDir('vkci-step-'),
    host: recordingHost(),
    scrub: (s) => s,
  });
  const value = await recorder.run('checkout', body);
  return { value, step: result.steps[0] };
}

describe('checkout from a real git repository', () => {
  let repo: { dir: string; sha: string };
  let older: string;
  let prHead: string;
  let reposDir: string;
  beforeAll(async () => {
    repo = await makeVllmRepo();
    const g = (...args: string[]) =>
      git('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: repo.dir });
    older = repo.sha;
    await writeFile(join(repo.dir, 'README.md'), 'second\n');
    await g('commit', '--quiet', '-am', 'x', '--allow-empty');
    await g('add', '-A');
    await g('commit', '--quiet', '-m', 'second commit on main');
    await g('checkout', '--quiet', '-b', 'feature');
    await writeFile(join(repo.dir, 'pr.txt'), 'pr\n');
    await g('add', '-A');
    await g('commit', '--quiet', '-m', 'the PR head');
    prHead = (await g('rev-parse', 'HEAD')).stdout.trim();
    // as GitHub publishes a PR head
    await g('update-ref', 'refs/pull/7/head', prHead);
    await g('checkout', '--quiet', 'main');
    reposDir = await tempDir('vkci-repos-');
  });

  const get = (ref: string, repository = repo.dir) =>
    inStep((step) => checkout(step, { repository, ref, reposDir, env: process.env, timeoutMs: 60_000 }));

  it.each([
    ['a tag', 'v0.33.0', () => older],
    ['a branch', 'feature', () => prHead],
    ['a full SHA', '', () => older],
    ['a pull-request ref', 'refs/pull/7/head', () => prHead],
  ])('checks out %s', async (_, ref, expected) => {
    const { value, step } = await get(ref || older);
    expect(step.status).toBe('passed');
    expect((value as CheckedOut).sha).toBe(expected());
    const head = await git('git', ['rev-parse', 'HEAD'], { cwd: (value as CheckedOut).dir });
    expect(head.stdout.trim()).toBe(expected());
  });

  it('reuses the cached objects under a fresh tree: nothing a previous run changed survives', async () => {
    const first = (await get('main')).value as CheckedOut;
    await writeFile(join(first.dir, 'vllm/model_executor/models/qwen2_moe.py'), 'patched\n');
    await writeFile(join(first.dir, 'leftover.py'), '');
    const second = await get('main');
    expect(second.value?.dir).toBe(first.dir);
    expect(second.step.logTail).toContain('a fresh tree over the cached objects');
    // no background gc that could still be packing when the next step reads or removes the clone
    const gc = await git('git', ['config', '--get-regexp', '^(gc\\.auto|maintenance\\.auto)$'], {
      cwd: first.dir,
    });
    expect(gc.stdout.trim().split('\n').sort()).toEqual(['gc.auto 0', 'maintenance.auto false']);
    expect(await readFile(join(first.dir, 'vllm/model_executor/models/qwen2_moe.py'), 'utf8')).toContain(
      'F.sigmoid',
    );
    await expect(readFile(join(first.dir, 'leftover.py'))).rejects.toThrow();
  });

  it('names a ref that does not exist', async () => {
    const { step } = await get('no-such-branch');
    expect(step.status).toBe('failed');
    expect(step.reason).toBe(
      `vllm-ref 'no-such-branch' is not a branch, tag, commit or pull ref of '${repo.dir}'.`,
    );
  });

  it('names a local path that is not a git repository', async () => {
    const dir = await tempDir('vkci-notgit-');
    const { step } = await get('main', dir);
    expect(step.status).toBe('failed');
    expect(step.reason).toContain(`Cannot read vLLM repository '${dir}': ${dir} is not a git repository.`);
  });

  it('reads every form of vllm-repository', () => {
    expect(classifyRepository('pypi')).toEqual({ kind: 'pypi', url: 'pypi' });
    expect(classifyRepository('vllm-project/vllm')).toEqual({
      kind: 'github',
      url: 'https://github.com/vllm-project/vllm.git',
    });
    expect(classifyRepository('https://gitlab.example/a/vllm.git').kind).toBe('url');
    expect(classifyRepository('git@github.com:me/vllm.git').kind).toBe('url');
    expect(classifyRepository('./vllm')).toMatchObject({ kind: 'path' });
    expect(classifyRepository('/srv/vllm')).toEqual({ kind: 'path', url: 'file:///srv/vllm' });
  });
});

describe('parsers on the formats the tools print', () => {
  it('JUnit from real pytest, with recorded parameters and with labelled ids', async () => {
    const xml = await readFile(join(import.meta.dirname, 'fakes/data/pytest-junit-xunit1.xml'), 'utf8');
    const cases = parseJunit(xml);
    expect(cases.map((c) => c.status)).toEqual(['passed', 'passed', 'passed', 'failed', 'skipped', 'error']);
    expect(cases[0]).toMatchObject({
      id: 'test_gate.py::test_gate[1-1024-dtype0]',
      dtype: 'bfloat16',
      k: 1024,
      n: 1,
    });
    expect(cases[3].message).toBe(
      "AssertionError: mismatch <here> & 'quote'\nassert (7 != 7 or torch.float16 != torch.float16)\n +  where torch.float16 = torch.float16",
    );
    expect(cases[4].message).toBe('needs GPU');
    expect(cases[5].message).toBe('failed on setup with "RuntimeError: fixture"');
    expect(caseShape('test_matches_reference[bfloat16-K2048-N7177]')).toEqual({
      dtype: 'bfloat16',
      k: 2048,
      n: 7177,
    });
    expect(caseShape('test_x[dtype0-1-1024]')).toEqual({});
  });

  it('the real JUnit, microbench and e2e files of the lent H200', async () => {
    const gpu = join(ROOT, 'fixtures/gpu');
    const cases = parseJunit(await readFile(join(gpu, 'junit-h200.xml'), 'utf8'));
    expect(cases).toHaveLength(79);
    expect(cases.filter((c) => c.status === 'passed')).toHaveLength(77);
    expect(cases.filter((c) => c.status === 'skipped')).toHaveLength(2);
    expect(cases.find((c) => c.id.endsWith('test_matches_reference[bfloat16-K2048-N7177]'))).toMatchObject({
      id: 'fused_shared_expert_gate/test_fused_shared_expert_gate.py::test_matches_reference[bfloat16-K2048-N7177]',
      dtype: 'bfloat16',
      k: 2048,
      n: 7177,
    });
    const micro = parseMicrobench(await readFile(join(gpu, 'microbench-h200.json'), 'utf8'));
    expect(micro.copyGbps).toBeGreaterThan(3000);
    expect(micro.cells.some((c) => c.impl === 'fused' && c.k === 2048 && c.n === 8192)).toBe(true);
    const e2e = parseE2eModel(await readFile(join(gpu, 'e2e-model-ab-h200.json'), 'utf8'));
    expect(e2e.backend).toBe('model');
    expect(e2e.cells.length).toBeGreaterThan(0);
  });

  it('JUnit cut short is an error, not zero tests', () => {
    expect(() =>
      parseJunit('<?xml version="1.0"?><testsuites><testsuite name="pytest"><testcase name="a"'),
    ).toThrow(/truncated/);
    expect(() => parseJunit('')).toThrow(/not a JUnit report/);
  });

  it('vllm bench serve JSON: the keys vllm/benchmarks/serve.py writes', async () => {
    const text = await readFile(join(import.meta.dirname, 'fakes/data/bench-serve-result.json'), 'utf8');
    const r = parseBenchServe(text);
    expect(r).toMatchObject({ completed: 64, failed: 0, maxConcurrency: 16, outputThroughput: 1873.4 });
    expect(r.meanTtftMs).toBe(412.6);
    expect(() => parseBenchServe(text.slice(0, 200), 'x.json')).toThrow(
      'x.json is not valid JSON (truncated or corrupt)',
    );
    expect(() => parseBenchServe(JSON.stringify({ ...JSON.parse(text), completed: 0, failed: 64 }))).toThrow(
      /no request completed \(64 failed\)/,
    );
  });

  it('microbench JSON must declare its schema and shape', () => {
    const ok = { schema: 'vllm-kernel-ci/microbench@1', copyGbps: 3002, cells: [] };
    expect(parseMicrobench(JSON.stringify(ok)).copyGbps).toBe(3002);
    expect(() => parseMicrobench(JSON.stringify({ ...ok, schema: 'x' }))).toThrow(/does not declare/);
    expect(() => parseMicrobench(JSON.stringify({ ...ok, copyGbps: -1 }))).toThrow(/copyGbps/);
  });

  it('nvidia-smi, amd-smi and rocm-smi output', async () => {
    const tools = join(ROOT, 'fixtures/gpu/tools');
    // the real banner of the lent H200
    expect(parseNvidiaCudaVersion(await readFile(join(tools, 'nvidia-smi.txt'), 'utf8'))).toBe('13.0');
    expect(parseNvidiaCudaVersion('CUDA Version        : 13.0')).toBe('13.0');
    expect(
      parseNvidiaQuery('0, NVIDIA H200, 580.159.04, 143771, 0\n1, NVIDIA H200, 580.159.04, 143771, 70001\n'),
    ).toEqual({ names: ['NVIDIA H200', 'NVIDIA H200'], driver: '580.159.04', memoryUsedMiB: [0, 70001] });
    const amd = parseAmdSmiStatic(
      JSON.stringify({
        gpu_data: [
          {
            gpu: 0,
            asic: { market_name: 'AMD Instinct MI355X' },
            driver: { name: 'amdgpu', version: '6.12.12' },
          },
        ],
      }),
    );
    expect(amd).toEqual({ names: ['AMD Instinct MI355X'], driver: '6.12.12' });
    expect(parseAmdSmiVersion('[{"tool": "AMDSMI Tool", "rocm_version": "6.4.1"}]')).toBe('6.4.1');
    expect(
      parseRocmSmi(
        '{"card0": {"Card Series": "AMD Instinct MI300X"}, "system": {"Driver version": "6.8.5"}}',
      ),
    ).toEqual({
      names: ['AMD Instinct MI300X'],
      driver: '6.8.5',
    });
    expect(gateSettings('amd', { VLLM_ROCM_USE_AITER: '1' })).toEqual({
      VLLM_ROCM_USE_AITER: '1',
      VLLM_ROCM_USE_AITER_FUSION_SHARED_EXPERTS: 'False (vLLM default)',
    });
  });

  it('pytest --collect-only, sharding, progress and the bench command line', () => {
    expect(parseCollected('a/test_x.py::t[1]\na/test_x.py::t[2]\n\n2 tests collected in 0.1s\n')).toEqual([
      'a/test_x.py::t[1]',
      'a/test_x.py::t[2]',
    ]);
    expect(shard([1, 2, 3, 4, 5], 2)).toEqual([
      [1, 3, 5],
      [2, 4],
    ]);
    expect(progressLine(3, 18, 240)).toBe('3/18 done, elapsed 4 min, about 20 min left');
    const args = benchArgs({
      model: 'm',
      port: 8001,
      shape: { inputLen: 1024, outputLen: 8192 },
      concurrency: 16,
      numPrompts: 64,
      seed: 0,
      resultDir: '/o',
      resultFilename: 'f.json',
      label: 'baseline-r1',
      metadata: { arm: 'baseline' },
    });
    expect(args.join(' ')).toContain(
      '--dataset-name random --random-input-len 1024 --random-output-len 8192 --random-range-ratio 0.0 --num-prompts 64 --max-concurrency 16',
    );
  });
});

describe('other runners', () => {
  it('AMD MI355X: amd-smi device, ROCm, the AITER settings', { timeout: 60_000 }, async () => {
    const repo = await makeVllmRepo();
    const env = await fakeEnv({ FAKE_GPU: 'amd', FAKE_VLLM_VERSION: '0.33.0', VLLM_ROCM_USE_AITER: '1' });
    const config = await pipelineConfig({
      'vllm-repository': repo.dir,
      'vllm-ref': 'main',
      bundle: await makeBundle(),
      install: 'existing',
      'e2e-backend': 'none',
    });
    const outcome = await runValidate(config, recordingHost(), await deps(env));
    const r = parseRunResult(JSON.parse(await readFile(outcome.resultPath as string, 'utf8')), 'r');
    expect(r.device).toMatchObject({
      vendor: 'amd',
      name: 'AMD Instinct MI355X',
      count: 1,
      driver: '6.12.12',
      rocm: '6.4.1',
    });
    expect(r.settings).toEqual({
      VLLM_ROCM_USE_AITER: '1',
      VLLM_ROCM_USE_AITER_FUSION_SHARED_EXPERTS: 'False (vLLM default)',
    });
  });

  it('two GPUs: one pytest worker per GPU, results merged; the model backend when vLLM is absent', {
    timeout: 60_000,
  }, async () => {
    const repo = await makeVllmRepo();
    const env = await fakeEnv({ FAKE_GPU: 'nvidia', FAKE_GPU_COUNT: '2' });
    const config = await pipelineConfig({
      'vllm-repository': repo.dir,
      'vllm-ref': 'main',
      bundle: await makeBundle(),
      install: 'none',
      repeats: '3',
    });
    const outcome = await runValidate(config, recordingHost(), await deps(env));
    const r = parseRunResult(JSON.parse(await readFile(outcome.resultPath as string, 'utf8')), 'r');
    expect(r.device.count).toBe(2);
    expect(r.tests?.filter((t) => t.group === 'conformance')).toHaveLength(27);
    const log = await readFile(join(config.outputDir, 'logs/kernel-tests.log'), 'utf8');
    expect(log).toContain('27 cases over 2 workers, one GPU each');
    const junit0 = await readFile(join(config.outputDir, 'junit-0.xml'), 'utf8');
    const junit1 = await readFile(join(config.outputDir, 'junit-1.xml'), 'utf8');
    expect(junit0).toContain('name="visible_devices" value="0"');
    expect(junit1).toContain('name="visible_devices" value="1"');
    expect(r.e2e?.backend).toBe('model');
    // the sequential rule's first look: 4 pairs, whatever `repeats` asks the budget to pay for
    expect(r.e2e?.cells[0].baseline).toHaveLength(4);
    expect(r.steps.find((s) => s.name === 'e2e')?.status).toBe('passed');
  });

  it('the model backend looks after its first 4 pairs: both cells called, so both stop there', {
    timeout: 60_000,
  }, async () => {
    const env = await fakeEnv({ FAKE_GPU: 'nvidia' });
    const config = await pipelineConfig({
      'vllm-repository': (await makeVllmRepo()).dir,
      'vllm-ref': 'main',
      bundle: await makeBundle(),
      install: 'none',
      repeats: '8',
    });
    const outcome = await runValidate(config, recordingHost(), await deps(env));
    const r = parseRunResult(JSON.parse(await readFile(outcome.resultPath as string, 'utf8')), 'r');
    const log = await readFile(join(config.outputDir, 'logs/e2e.log'), 'utf8');
    // the fake's patched arm is 5% faster in every pair: both cells are called at the first look
    expect(log).toContain('--repeats 4');
    expect(log).not.toContain('--first-pair');
    expect(r.verdicts).toMatchObject({ rule: 'sequential', lookEvery: 4, maxPairs: 24, repeats: 4 });
    for (const cell of r.e2e?.cells ?? []) {
      expect(cell).toMatchObject({ status: 'ok', reruns: 0 });
      expect(cell.baseline).toHaveLength(4);
    }
    const report = await readFile(outcome.reportPath as string, 'utf8');
    expect(report).toMatch(/decode-b1[^\n]*improved/);
    expect(report).not.toMatch(/decode-b\d+[^\n]*†/);
  });
});

describe('install: existing, with a vLLM that is not the checked-out tree', () => {
  it('kernel tests from the bundle; auto picks the model backend; vllm-serve by name fails saying why', {
    timeout: 60_000,
  }, async () => {
    const repo = await makeVllmRepo();
    const bundle = await makeBundle();
    const run = async (backend: string) => {
      const env = await fakeEnv({ FAKE_GPU: 'nvidia', FAKE_VLLM_VERSION: '0.32.0' });
      const config = await pipelineConfig({
        'vllm-repository': repo.dir,
        'vllm-ref': 'main',
        bundle,
        install: 'existing',
        'e2e-backend': backend,
        repeats: '3',
      });
      const outcome = await runValidate(config, recordingHost(), await deps(env));
      const r = parseRunResult(JSON.parse(await readFile(outcome.resultPath as string, 'utf8')), 'r');
      return { r, log: (s: string) => readFile(join(config.outputDir, 'logs', `${s}.log`), 'utf8') };
    };
    const auto = await run('auto');
    expect(auto.r.device.vllm).toBe('0.32.0');
    expect(await auto.log('kernel-tests')).toContain(`running test_fused_shared_expert_gate.py in ${bundle}`);
    expect(auto.r.e2e?.backend).toBe('model');
    expect(await auto.log('e2e')).toContain(
      'backend: model (auto: vLLM imports from /opt/venv/lib/python3.12/site-packages/vllm, not from the patched tree)',
    );
    const named = await run('vllm-serve');
    expect(named.r.steps.find((s) => s.name === 'e2e')).toMatchObject({ status: 'failed' });
    expect(named.r.steps.find((s) => s.name === 'e2e')?.reason).toMatch(
      /^vLLM imports from \/opt\/venv\/lib\/python3.12\/site-packages\/vllm, not from the patched tree .*use install: precompiled/,
    );
  });
});

describe('a run stopped before any step', () => {
  it('an unknown bundle is a configuration error: one message naming it, no RunResult and no report', async () => {
    const env = await fakeEnv();
    const config = await pipelineConfig({ bundle: 'no_such_bundle', 'vllm-repository': '/nonexistent' });
    const outcome = runValidate(config, recordingHost(), await deps(env));
    await expect(outcome).rejects.toThrow(ConfigError);
    await expect(outcome).rejects.toThrow(
      /^Invalid bundle 'no_such_bundle'. Expected a bundle name under kernels\/ \(fused_shared_expert_gate\)/,
    );
    expect(existsSync(join(config.outputDir, 'run-result.json'))).toBe(false);
    expect(existsSync(join(config.outputDir, 'report.md'))).toBe(false);
  });
});
