// Validate on a PR-shaped vLLM tree: the tree's own kernel is tested (never written over), base against head.
import { execFile } from 'node:child_process';
import { copyFile, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { runValidate } from '../src/modes/validate.js';
import { parseRunResult, type RunResult } from '../src/results/run-result.js';
import { deps, FAKE_PYTHON, fakeEnv, pipelineConfig, recordingHost } from './fakes/world.js';
import { ROOT } from './helpers.js';
import {
  buildPrTrees,
  CSRC_PATH,
  PR_KERNEL_PATH,
  PR_TEST_PATH,
  type PrBranch,
  type PrTrees,
  QWEN2_MOE,
} from './support/pr-trees.js';

const run = promisify(execFile);
const PYTHON = process.env.VLLM_KERNEL_CI_PYTHON;
const OP = 'fused_shared_expert_gate';

let trees: PrTrees;
/** `pr` with the bundle's kernel as the PR's file: a correct kernel behind the PR's call sites */
let bundleKernelCommit: string;
beforeAll(async () => {
  trees = await buildPrTrees();
  const work = await trees.worktree('pr');
  await copyFile(
    join(ROOT, 'kernels/fused_shared_expert_gate/shared_expert_gate.py'),
    join(work, PR_KERNEL_PATH),
  );
  const git = (...args: string[]) =>
    run('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', '-c', 'commit.gpgsign=false', ...args], {
      cwd: work,
    });
  await git('commit', '--quiet', '-am', "The bundle's kernel as the PR's file");
  await git('branch', 'pr-bundle-kernel');
  bundleKernelCommit = (await git('rev-parse', 'HEAD')).stdout.trim();
}, 300_000);

interface Validated {
  result: RunResult;
  report: string;
  exitCode: number;
  /** the checked-out vLLM tree */
  tree: string;
  /** the fakes' state directory (FAKE_STATE_DIR) */
  state: string;
  log: (step: string) => Promise<string>;
}

async function validate(
  ref: PrBranch | 'pr-bundle-kernel',
  inputs: Record<string, string> = {},
  fake: Record<string, string> = {},
): Promise<Validated> {
  const env = await fakeEnv({ FAKE_GPU: 'none', ...fake });
  const config = await pipelineConfig({
    'vllm-repository': trees.dir,
    'vllm-ref': ref,
    'base-ref': 'base',
    install: 'none',
    python: PYTHON ?? FAKE_PYTHON,
    // one target is enough to compile the tree's kernel here; every target is test/compile-matrix.test.ts's
    'compile-targets': 'sm_90',
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
    state: env.FAKE_STATE_DIR,
    log: (name) => readFile(join(config.outputDir, 'logs', `${name}.log`), 'utf8'),
  };
}

const step = (r: RunResult, name: string) => r.steps.find((s) => s.name === name);
const blobOf = async (ref: PrBranch | 'pr-bundle-kernel', path: string) =>
  (await run('git', ['rev-parse', `${ref}:${path}`], { cwd: trees.dir })).stdout.trim();
const impl = (v: Validated, path: string) => `${v.tree}/${path}::${OP}`;

describe.runIf(PYTHON)('validate a PR-shaped tree with its own kernel (Triton interpreter)', () => {
  it('a correct kernel passes; the tree is untouched; the report names the kernel and both test groups', {
    timeout: 180_000,
  }, async () => {
    const v = await validate('pr-bundle-kernel');
    const kernel = v.result.kernel;
    const blob = await blobOf('pr-bundle-kernel', PR_KERNEL_PATH);
    expect(kernel).toEqual({
      source: 'tree',
      path: PR_KERNEL_PATH,
      symbol: 'fused_shared_expert_gate',
      blobSha: blob,
      commit: bundleKernelCommit,
      base: { commit: trees.branches.base },
      contract: { sites: 2, params: { weight: ['[1, K]'] } },
    });
    expect(v.result.identity.baseSha).toBe(trees.branches.base);
    expect(step(v.result, 'apply-bundle')).toMatchObject({ status: 'skipped' });
    expect(step(v.result, 'apply-bundle')?.reason).toContain(
      `the tree's own kernel ${PR_KERNEL_PATH} is tested`,
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
    expect(v.result.testGroups?.[1].reason).toContain(PR_TEST_PATH);
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

describe.runIf(PYTHON)("the op's contract from the tree's call sites (Triton interpreter)", () => {
  it("the original PR's kernel: the 1-D weight case is advisory, beyond the contract; the run passes", {
    timeout: 180_000,
  }, async () => {
    const v = await validate('pr-original');
    // both call sites pass self.expert_gate.weight, built as ReplicatedLinear(hidden_size, 1): [1, K]
    expect(v.result.kernel?.contract).toEqual({ sites: 2, params: { weight: ['[1, K]'] } });
    const cases = v.result.tests ?? [];
    const vector = cases.find((t) => t.id.endsWith('test_weight_as_row_or_vector[K]'));
    // the PR's unfused path for any weight but [1, K] raises on a 1-D weight: a real failure, outside the contract
    expect(vector).toMatchObject({ status: 'failed', callForm: { weight: '[K]' } });
    expect(vector?.beyondContract).toBe(
      "no call site passes this: weight [K]; the tree's 2 call sites pass weight [1, K]",
    );
    const row = cases.find((t) => t.id.endsWith('test_weight_as_row_or_vector[1xK]'));
    expect(row).toMatchObject({ status: 'passed', callForm: { weight: '[1, K]' } });
    expect(row?.beyondContract).toBeUndefined();
    expect(cases.filter((t) => t.status === 'failed').map((t) => t.id)).toEqual([vector?.id]);
    expect(step(v.result, 'kernel-tests')?.status).toBe('passed');
    expect(await v.log('kernel-tests')).toContain('1 beyond the contract failed (advisory)');
    expect(v.exitCode).toBe(0);
    expect(v.report).toContain('**Contract tested** weight \\[1, K] from 2 call sites');
    expect(v.report).toContain('⚠️ 1 beyond the contract failed (advisory)');
    expect(v.report).toContain('⚠️ test_weight_as_row_or_vector\\[K]: no call site passes this: weight \\[K]');
    // no failure mark anywhere but the legend
    expect(v.report.split('\n').filter((l) => l.includes('❌') && !l.startsWith('<sub>'))).toEqual([]);
  });

  it('a failure inside the contract stays a failure', { timeout: 180_000 }, async () => {
    const v = await validate('pr-wrong');
    expect(v.result.kernel?.contract).toEqual({ sites: 2, params: { weight: ['[1, K]'] } });
    const failed = (v.result.tests ?? []).filter((t) => t.status === 'failed');
    expect(failed.some((t) => t.id.includes('N129') && t.beyondContract === undefined)).toBe(true);
    expect(step(v.result, 'kernel-tests')?.status).toBe('failed');
    expect(v.exitCode).toBe(1);
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
      reason: `needs a build per arm: base..head changes ${CSRC_PATH}`,
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
      `--baseline-impl reference --patched-impl ${v.tree}/${PR_KERNEL_PATH}::fused_shared_expert_gate`,
    );
    const bench = step(v.result, 'microbench')?.logTail ?? '';
    expect(bench).toContain(`--impl ${impl(v, PR_KERNEL_PATH)}`);
    expect(bench).not.toContain('--base-impl');
  });
});

describe('a follow-up PR that changes an existing kernel', () => {
  it('compares the base kernel with the head kernel in the microbench and the model A/B', {
    timeout: 120_000,
  }, async () => {
    const v = await validate(
      'followup',
      { python: FAKE_PYTHON, 'e2e-backend': 'model', repeats: '2', 'base-ref': 'pr' },
      { FAKE_GPU: 'nvidia' },
    );
    expect(v.result.kernel).toMatchObject({
      source: 'tree',
      path: PR_KERNEL_PATH,
      blobSha: await blobOf('followup', PR_KERNEL_PATH),
      commit: trees.branches.followup,
      base: { commit: trees.branches.pr, path: PR_KERNEL_PATH, blobSha: await blobOf('pr', PR_KERNEL_PATH) },
    });
    const baseImpl = `${v.tree}.base/${PR_KERNEL_PATH}::${OP}`;
    expect(step(v.result, 'microbench')?.logTail).toContain(
      `--impl ${impl(v, PR_KERNEL_PATH)} --base-impl ${baseImpl}`,
    );
    expect(v.result.microbench?.ab?.map((c) => c.id)).toEqual(['bf16-K2048-N1024', 'bf16-K2048-N8192']);
    expect(step(v.result, 'e2e')?.logTail).toContain(
      `--baseline-impl ${baseImpl} --patched-impl ${impl(v, PR_KERNEL_PATH)}`,
    );
    expect(v.report).toMatch(/baseline: the base \S+ with its kernel in vllm\/model_executor/);
    expect(v.report).toContain('**Base kernel against head kernel**');
    // judged like an e2e cell: medians, Δ with its interval over the 8 pairs, the verdict (lower µs is better)
    expect(v.report).toContain('| bf16-K2048-N1024 | 5.035 | 4.835 | −4.0% \\[−4.0, −4.0] | 8 | ✅ |');
  });
});

describe.runIf(PYTHON)('a kernel defined inline in a model file', () => {
  it('is found where it is defined and its own definition is what conformance tests', {
    timeout: 180_000,
  }, async () => {
    const v = await validate('inline');
    expect(v.result.kernel).toMatchObject({
      source: 'tree',
      path: QWEN2_MOE,
      blobSha: await blobOf('inline', QWEN2_MOE),
    });
    expect(v.result.patch?.sites.map((s) => [s.file, s.symbol])).toContainEqual([
      QWEN2_MOE,
      'Qwen2MoeMLP.forward',
    ]);
    const matrix = (v.result.tests ?? []).filter((t) => t.id.includes('test_matches_reference'));
    expect(matrix.length).toBeGreaterThan(10);
    expect(matrix.filter((t) => t.status !== 'passed')).toEqual([]);
    expect(await v.log('kernel-tests')).toContain(`VLLM_KERNEL_CI_IMPL=${impl(v, QWEN2_MOE)}`);
  });
});

describe('kernel-source bundle on a tree that carries its own kernel file', () => {
  it('refuses to overwrite it, naming the file and both blobs, and leaves the tree as it was', {
    timeout: 120_000,
  }, async () => {
    const v = await validate('pr', { python: FAKE_PYTHON, 'kernel-source': 'bundle', 'e2e-backend': 'none' });
    const treeBlob = await blobOf('pr', PR_KERNEL_PATH);
    const bundleBlob = (
      await run('git', ['hash-object', 'kernels/fused_shared_expert_gate/shared_expert_gate.py'], {
        cwd: ROOT,
      })
    ).stdout.trim();
    expect(step(v.result, 'apply-bundle')?.status).toBe('failed');
    const reason = step(v.result, 'apply-bundle')?.reason;
    expect(reason).toMatch(/^Refusing to overwrite/);
    expect(reason).toContain(
      `${PR_KERNEL_PATH} (tree blob ${treeBlob}, bundle's shared_expert_gate.py blob ${bundleBlob})`,
    );
    expect(await v.log('apply-bundle')).toContain(
      'test it with kernel-source tree (or auto), or pass --force',
    );
    expect(v.exitCode).toBe(1);
    const status = await run('git', ['status', '--porcelain', '--untracked-files=all'], { cwd: v.tree });
    expect(status.stdout).toBe('');
  });
});

describe('vllm-serve on a tree kernel', () => {
  it('runs the base worktree and the head tree as the arms, each first on PYTHONPATH, on one install', {
    timeout: 180_000,
  }, async () => {
    const v = await validate(
      'pr',
      {
        python: FAKE_PYTHON,
        install: 'precompiled',
        'e2e-backend': 'vllm-serve',
        shapes: '1024x1024',
        concurrencies: '4',
        repeats: '2',
      },
      { FAKE_GPU: 'nvidia', FAKE_VLLM_VERSION: '0.33.0' },
    );
    const log = await v.log('e2e');
    expect(log).toContain(`arms: baseline ${v.tree}.base (${trees.branches.base}), patched ${v.tree}`);
    expect(log).toMatch(/linked \d+ build products of the head tree into the base worktree/);
    expect(step(v.result, 'e2e')?.status).toBe('passed');
    expect(v.result.e2e?.method).toMatch(
      /baseline \(the base worktree at [0-9a-f]{12}, first on PYTHONPATH\) against patched \(the head worktree at [0-9a-f]{12}, first on PYTHONPATH\)/,
    );
    expect(v.result.e2e?.cells[0].baseline.length).toBeGreaterThanOrEqual(4);
    // every bench client imported the base's vLLM, never the head's: the code under test does not measure itself
    const clients = (await readFile(join(v.state, 'bench-clients'), 'utf8')).trim().split('\n');
    expect(clients.length).toBeGreaterThanOrEqual(4);
    expect(new Set(clients)).toEqual(new Set([`${v.tree}.base`]));
    // the probe in each server: the base worktree (no op) launched none of it, the head tree's kernel ran
    expect(v.result.e2e?.integrity).toMatchObject({
      status: 'ok',
      arms: { baseline: { kernelLaunches: 0, opCalls: 0 }, patched: { kernelLaunches: 2, layers: 2 } },
    });
  });
});
