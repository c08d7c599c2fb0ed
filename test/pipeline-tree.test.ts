// Validate on a PR-shaped vLLM tree: the tree's own kernel is tested (never written over), base against head.
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { runValidate } from '../src/modes/validate.js';
import { parseRunResult, type RunResult } from '../src/results/run-result.js';
import {
  deps,
  FAKE_PYTHON,
  fakeEnv,
  GATE_LINE,
  makeVllmRepo,
  pipelineConfig,
  recordingHost,
} from './fakes/world.js';
import { ROOT } from './helpers.js';

const run = promisify(execFile);
const PYTHON = process.env.VLLM_KERNEL_CI_PYTHON;
const KERNEL_PATH = 'vllm/model_executor/layers/fused_moe/shared_expert_gate.py';
const CALL = '            out = fused_shared_expert_gate(x, self.expert_gate.weight, out)';
const IMPORT = `from vllm.model_executor.layers.fused_moe.shared_expert_gate import fused_shared_expert_gate\n`;

/**
 * vLLM 0.33.0's Qwen MoE files (tag v0.33.0) with branches shaped like the kernel PR: `pr` (the bundle's kernel
 * as the PR's file, unconditional call sites, the PR's own test), `pr-wrong` (wrong above 64 rows), `csrc` (pr
 * plus a compiled source).
 */
async function makePrRepo(): Promise<{ dir: string; base: string }> {
  const { dir, sha: base } = await makeVllmRepo();
  const git = (...args: string[]) =>
    run('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: dir });
  const kernel = await readFile(join(ROOT, 'kernels/fused_shared_expert_gate/shared_expert_gate.py'), 'utf8');
  await git('checkout', '--quiet', '-b', 'pr');
  await mkdir(join(dir, 'vllm/model_executor/layers/fused_moe'), { recursive: true });
  await writeFile(join(dir, KERNEL_PATH), kernel);
  for (const model of ['qwen2_moe', 'qwen3_moe']) {
    const file = join(dir, `vllm/model_executor/models/${model}.py`);
    const text = await readFile(file, 'utf8');
    if (!text.includes(GATE_LINE)) throw new Error(`${model}.py has no gate line`);
    await writeFile(
      file,
      text
        .replace(GATE_LINE, CALL)
        .replace('import torch.nn.functional as F\n', `import torch.nn.functional as F\n${IMPORT}`),
    );
  }
  await writeFile(
    join(dir, 'tests/kernels/moe/test_fused_shared_expert_gate.py'),
    'import torch\n\nfrom vllm.model_executor.layers.fused_moe.shared_expert_gate import fused_shared_expert_gate\n\n\ndef test_gate():\n    x = torch.randn(4, 64)\n    assert fused_shared_expert_gate(x, torch.randn(1, 64), x).shape == x.shape\n',
  );
  await git('add', '-A');
  await git('commit', '--quiet', '-m', 'Fused shared-expert gate kernel');
  await git('checkout', '--quiet', '-b', 'pr-wrong');
  const row = 'row = tl.program_id(0).to(tl.int64)';
  if (!kernel.includes(row)) throw new Error('the kernel no longer computes its row as expected');
  await writeFile(join(dir, KERNEL_PATH), kernel.replace(row, `${row} % 64`));
  await git('commit', '--quiet', '-am', 'A kernel wrong above 64 rows');
  await git('checkout', '--quiet', '-b', 'csrc', 'pr');
  await mkdir(join(dir, 'csrc'), { recursive: true });
  await writeFile(join(dir, 'csrc/gate.cu'), '// a compiled source\n');
  await git('add', '-A');
  await git('commit', '--quiet', '-m', 'A compiled source');
  await git('checkout', '--quiet', 'main');
  return { dir, base };
}

let repo: { dir: string; base: string };
beforeAll(async () => {
  repo = await makePrRepo();
}, 120_000);

interface Validated {
  result: RunResult;
  report: string;
  exitCode: number;
  /** the checked-out vLLM tree */
  tree: string;
}

async function validate(
  ref: string,
  inputs: Record<string, string> = {},
  fake: Record<string, string> = {},
): Promise<Validated> {
  const env = await fakeEnv({ FAKE_GPU: 'none', ...fake });
  const config = await pipelineConfig({
    'vllm-repository': repo.dir,
    'vllm-ref': ref,
    'base-ref': 'v0.33.0',
    install: 'none',
    python: PYTHON ?? FAKE_PYTHON,
    ...inputs,
  });
  const d = await deps(env);
  const outcome = await runValidate(config, recordingHost(), d);
  const result = parseRunResult(
    JSON.parse(await readFile(outcome.resultPath as string, 'utf8')),
    'run-result.json',
  );
  const clones = (await readdir(d.reposDir)).filter((n) => !n.endsWith('.base'));
  return {
    result,
    report: await readFile(outcome.reportPath as string, 'utf8'),
    exitCode: outcome.exitCode,
    tree: join(d.reposDir, clones[0]),
  };
}

const step = (r: RunResult, name: string) => r.steps.find((s) => s.name === name);
const headOf = async (ref: string) => (await run('git', ['rev-parse', ref], { cwd: repo.dir })).stdout.trim();

describe.runIf(PYTHON)('validate a PR-shaped tree with its own kernel (Triton interpreter)', () => {
  it('a correct PR kernel passes; the tree is untouched; the report names the kernel and both test groups', {
    timeout: 180_000,
  }, async () => {
    const v = await validate('pr');
    const kernel = v.result.kernel;
    const blob = (await run('git', ['rev-parse', `pr:${KERNEL_PATH}`], { cwd: repo.dir })).stdout.trim();
    expect(kernel).toEqual({
      source: 'tree',
      path: KERNEL_PATH,
      symbol: 'fused_shared_expert_gate',
      blobSha: blob,
      commit: await headOf('pr'),
      base: { commit: repo.base },
    });
    expect(v.result.identity.baseSha).toBe(repo.base);
    expect(step(v.result, 'apply-bundle')).toMatchObject({ status: 'skipped' });
    expect(step(v.result, 'apply-bundle')?.reason).toContain(
      `the tree's own kernel ${KERNEL_PATH} is tested`,
    );
    expect(v.result.patch?.sites.map((s) => [s.file, s.status, s.symbol])).toEqual([
      ['vllm/model_executor/models/qwen2_moe.py', 'tree-native', 'Qwen2MoeMLP.forward'],
      ['vllm/model_executor/models/qwen3_moe.py', 'tree-native', 'Qwen3MoeMLP.forward'],
    ]);
    expect(v.result.patch?.copied).toEqual([]);
    const status = await run('git', ['status', '--porcelain', '--untracked-files=all'], { cwd: v.tree });
    expect(status.stdout).toBe('');

    const conformance = (v.result.tests ?? []).filter((t) => t.group === 'conformance');
    expect(conformance.filter((t) => t.status === 'passed').length).toBeGreaterThan(10);
    expect(conformance.filter((t) => t.status === 'failed')).toEqual([]);
    expect(v.result.testGroups?.map((g) => [g.group, g.status])).toEqual([
      ['conformance', 'ran'],
      ['pr', 'skipped'],
    ]);
    expect(v.result.testGroups?.[1].reason).toContain('vLLM is not importable from the tree');
    expect(v.result.testGroups?.[1].reason).toContain('tests/kernels/moe/test_fused_shared_expert_gate.py');
    expect(step(v.result, 'kernel-tests')?.status).toBe('passed');
    expect(v.exitCode).toBe(0);

    expect(v.report).toContain("**Kernel under test** tree: the tree's own kernel");
    expect(v.report).toContain(blob.slice(0, 12));
    expect(v.report).toContain('which has no kernel of the op');
    expect(v.report).toContain('✅ conformance (the public signature)');
    expect(v.report).toContain("⏭️ the PR's own tests: skipped, vLLM is not importable from the tree");
    expect(v.report).toContain('Qwen2MoeMLP.forward');
  });

  it('a PR kernel wrong above 64 rows fails the run, naming the failing cases', {
    timeout: 180_000,
  }, async () => {
    const v = await validate('pr-wrong');
    const failed = (v.result.tests ?? []).filter((t) => t.status === 'failed');
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.every((t) => t.group === 'conformance')).toBe(true);
    expect(failed.map((t) => t.id).join(' ')).toContain('N129');
    expect(step(v.result, 'kernel-tests')?.status).toBe('failed');
    expect(step(v.result, 'kernel-tests')?.reason).toMatch(/^conformance: \d+ of \d+ cases failed: .*N129/);
    expect(v.exitCode).toBe(1);
    expect(v.report).toMatch(/❌ conformance \(the public signature\): \d+ passed, \d+ failed.*N129/);
  });
});

describe('base against head', () => {
  it('a base..head change under csrc/ skips the e2e with the reason; tests still run', {
    timeout: 60_000,
  }, async () => {
    const v = await validate('csrc', { python: FAKE_PYTHON, 'e2e-backend': 'model' }, { FAKE_GPU: 'nvidia' });
    expect(v.result.kernel?.source).toBe('tree');
    expect(step(v.result, 'e2e')).toMatchObject({
      status: 'skipped',
      reason: 'needs a build per arm: base..head changes csrc/gate.cu',
    });
    expect(step(v.result, 'kernel-tests')?.status).toBe('passed');
    expect(step(v.result, 'microbench')?.status).toBe('passed');
  });

  it('the model backend gets the head kernel and the reference as arms (the base has no kernel)', {
    timeout: 60_000,
  }, async () => {
    const v = await validate(
      'pr',
      { python: FAKE_PYTHON, 'e2e-backend': 'model', repeats: '2' },
      { FAKE_GPU: 'nvidia' },
    );
    expect(step(v.result, 'e2e')?.status).toBe('passed');
    const log = step(v.result, 'e2e')?.logTail ?? '';
    expect(log).toContain(
      `--baseline-impl reference --patched-impl ${v.tree}/${KERNEL_PATH}::fused_shared_expert_gate`,
    );
    const bench = step(v.result, 'microbench')?.logTail ?? '';
    expect(bench).toContain(`--impl ${v.tree}/${KERNEL_PATH}::fused_shared_expert_gate`);
    expect(bench).not.toContain('--base-impl');
  });
});
