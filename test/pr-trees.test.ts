// The PR-shaped vLLM trees: each branch carries what its shape says, and its kernel computes as designed.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import {
  buildPrTrees,
  CSRC_PATH,
  INLINE_IMPORT,
  ORIGINAL_CALL,
  PR_BRANCHES,
  PR_CALL,
  PR_IMPORT,
  PR_KERNEL_PATH,
  PR_SHAPES_DIR,
  PR_TEST_PATH,
  type PrBranch,
  type PrTrees,
  QWEN2_MOE,
  QWEN3_MOE,
  readShape,
  removePrTrees,
} from './support/pr-trees.js';

const exec = promisify(execFile);
const PYTHON = process.env.VLLM_KERNEL_CI_PYTHON ?? 'python3';
const CHECK = join(import.meta.dirname, 'support/pr_kernel_check.py');

let trees: PrTrees;
beforeAll(async () => {
  trees = await buildPrTrees();
}, 300_000);
afterAll(() => removePrTrees(), 600_000);

async function git(...args: string[]): Promise<string> {
  const { stdout } = await exec('git', ['-C', trees.dir, ...args], { maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}
const show = (branch: PrBranch, path: string) => git('show', `${branch}:${path}`);
const changed = async (from: PrBranch, to: PrBranch) =>
  (await git('diff', '--name-only', from, to, '--')).split('\n').filter(Boolean).sort();
const has = async (branch: PrBranch, path: string) =>
  git('cat-file', '-e', `${branch}:${path}`).then(
    () => true,
    () => false,
  );

describe('the PR-shaped trees', () => {
  it('is one clean git repository at base with every branch, gc off, the same base commit on every machine', async () => {
    expect(Object.keys(trees.branches)).toEqual([...PR_BRANCHES]);
    // fixed identity and dates: the sdist (pinned by its sha256) always gives this commit
    expect(trees.branches.base).toBe('79783fef4f0cf5d321e163e8c3b581864a79281e');
    expect((await git('rev-parse', 'HEAD')).trim()).toBe(trees.branches.base);
    expect(await git('status', '--porcelain')).toBe('');
    expect((await git('config', 'gc.auto')).trim()).toBe('0');
    expect((await readFile(join(trees.dir, 'PKG-INFO'), 'utf8')).includes('Version: 0.33.0')).toBe(true);
    // a second call in the process is the same clone
    expect((await buildPrTrees()).dir).toBe(trees.dir);
  });

  it('base is vLLM 0.33.0 as published: the original gate expression, no kernel, no PR test', async () => {
    for (const model of [QWEN2_MOE, QWEN3_MOE]) {
      const text = await show('base', model);
      expect(text).toContain(ORIGINAL_CALL);
      expect(text).not.toContain('fused_shared_expert_gate');
    }
    expect(await has('base', PR_KERNEL_PATH)).toBe(false);
    expect(await has('base', PR_TEST_PATH)).toBe(false);
    // git grep exits 1 when nothing matches
    const grep = await git('grep', '-l', 'fused_shared_expert_gate', 'base', '--', 'vllm').catch((e) => e);
    expect(grep).toMatchObject({ code: 1, stdout: '' });
  });

  it.each([
    ['pr', 'shared_expert_gate.py'],
    ['pr-wrong', 'shared_expert_gate_wrong.py'],
    ['pr-int32', 'shared_expert_gate_int32.py'],
    ['pr-original', 'shared_expert_gate_original.py'],
  ] as const)(
    '%s: the kernel file, the unconditional call in both models, the PR test',
    async (branch, shape) => {
      expect(await changed('base', branch)).toEqual(
        [PR_KERNEL_PATH, QWEN2_MOE, QWEN3_MOE, PR_TEST_PATH].sort(),
      );
      expect(await show(branch, PR_KERNEL_PATH)).toBe(await readShape(shape));
      expect(await show(branch, PR_TEST_PATH)).toBe(await readShape('test_fused_shared_expert_gate.py'));
      for (const model of [QWEN2_MOE, QWEN3_MOE]) {
        const text = await show(branch, model);
        expect(text.split(PR_CALL)).toHaveLength(2);
        expect(text).not.toContain('F.sigmoid(self.expert_gate');
        expect(text.split('\n')).toContain(PR_IMPORT);
      }
      // the PR's test in vLLM's style: through vllm's import path and platform
      const test = await show(branch, PR_TEST_PATH);
      expect(test).toContain('from vllm.model_executor.layers.fused_moe.shared_expert_gate import');
      expect(test).toContain('current_platform');
    },
  );

  it('followup changes only the kernel, on top of pr; csrc adds a csrc/ change on top of pr', async () => {
    expect((await git('rev-parse', '--verify', 'followup^')).trim()).toBe(trees.branches.pr);
    expect(await changed('pr', 'followup')).toEqual([PR_KERNEL_PATH]);
    expect(await show('followup', PR_KERNEL_PATH)).toBe(await readShape('shared_expert_gate_followup.py'));
    expect((await git('rev-parse', '--verify', 'csrc^')).trim()).toBe(trees.branches.pr);
    expect(await changed('pr', 'csrc')).toEqual([CSRC_PATH]);
  });

  it('inline: the kernel and wrapper inside qwen2_moe.py after the logger, the same call swapped', async () => {
    expect(await changed('base', 'inline')).toEqual([QWEN2_MOE]);
    expect(await has('inline', PR_KERNEL_PATH)).toBe(false);
    const text = await show('inline', QWEN2_MOE);
    const block = (await readShape('inline_kernel.py')).trimEnd();
    expect(text).toContain(`logger = init_logger(__name__)\n\n\n${block}\n`);
    expect(text.split('\n')).toContain(INLINE_IMPORT);
    expect(text.split(PR_CALL)).toHaveLength(2);
    expect(text).not.toContain(PR_IMPORT);
    expect(await show('inline', QWEN3_MOE)).toContain(ORIGINAL_CALL);
  });

  it('every changed Python file parses; a worktree of a branch holds its files', async () => {
    const dir = await tempDir('vkci-pr-parse-');
    const files: string[] = [];
    for (const branch of PR_BRANCHES) {
      for (const path of await changed('base', branch)) {
        if (!path.endsWith('.py')) continue;
        const file = join(dir, `${branch}-${path.replaceAll('/', '_')}`);
        await writeFile(file, await show(branch, path));
        files.push(file);
      }
    }
    const parse = 'import ast, sys\nfor f in sys.argv[1:]: ast.parse(open(f).read(), f)';
    await exec(PYTHON, ['-c', parse, ...files]);
    expect(files.length).toBeGreaterThanOrEqual(4 * 3 + 2);
    const worktree = await trees.worktree('pr');
    expect(await readFile(join(worktree, PR_KERNEL_PATH), 'utf8')).toBe(
      await readShape('shared_expert_gate.py'),
    );
  });
});

interface CaseResult {
  maxAbsErr: number;
  shape: number[];
  contiguous: boolean;
}

// error of the rounded result against an fp64 reference, |out| ~ up to 5
const TOLERANCE: Record<string, number> = { fp32: 1e-5, fp16: 5e-3, bf16: 4e-2 };
const ok = (results: Record<string, CaseResult>) =>
  Object.entries(results)
    .filter(([c, r]) => r.maxAbsErr > TOLERANCE[c.split(',')[2]])
    .map(([c, r]) => `${c}: ${r.maxAbsErr}`);

describe('the PR kernels under the Triton interpreter', () => {
  const SMALL = ['1,1024,fp16', '7,2048,bf16', '64,1024,fp32', '65,1024,fp16', '130,256,bf16'];
  const LAYOUTS = ['33,1024,bf16,sliced', '16,1024,fp16,strided', '8,1024,bf16,3d'];
  let results: Record<string, Record<string, CaseResult>>;

  // one interpreter process runs every branch's kernel, as each branch carries it
  beforeAll(async () => {
    const dir = await tempDir('vkci-pr-kernel-');
    const job = async (branch: PrBranch, cases: string[]) => {
      const path = join(dir, `${branch}.py`);
      await writeFile(path, await show(branch, PR_KERNEL_PATH));
      return { path, cases };
    };
    const request = {
      pr: await job('pr', [...SMALL, ...LAYOUTS]),
      followup: await job('followup', [...SMALL, ...LAYOUTS]),
      'pr-wrong': await job('pr-wrong', ['1,1024,fp16', '64,1024,fp32', '65,1024,fp32', '130,256,bf16']),
      'pr-int32': await job('pr-int32', SMALL),
      'pr-original': await job('pr-original', [...SMALL, ...LAYOUTS]),
      inline: {
        path: join(PR_SHAPES_DIR, 'inline_kernel.py'),
        inline: true,
        cases: ['65,1024,fp16', '7,1024,bf16', '16,1024,fp16,strided'],
      },
    };
    const child = exec(PYTHON, [CHECK], {
      env: { ...process.env, TRITON_INTERPRET: '1', PYTHONDONTWRITEBYTECODE: '1' },
    });
    child.child.stdin?.end(JSON.stringify(request));
    results = JSON.parse((await child).stdout);
  }, 300_000);

  it('pr and followup compute correctly, kernel path and fallbacks alike, with a contiguous output', () => {
    for (const branch of ['pr', 'followup']) {
      expect(ok(results[branch])).toEqual([]);
      expect(results[branch]['33,1024,bf16,sliced'].contiguous).toBe(true);
      expect(results[branch]['8,1024,bf16,3d'].shape).toEqual([2, 8, 1024]);
    }
  });

  it('pr-wrong is right up to 64 rows and wrong from 65', () => {
    expect(ok(results['pr-wrong'])).toEqual([
      expect.stringMatching(/^65,1024,fp32: /),
      expect.stringMatching(/^130,256,bf16: /),
    ]);
    expect(results['pr-wrong']['65,1024,fp32'].maxAbsErr).toBeGreaterThan(0.1);
  });

  it('pr-int32 is right at sizes far below 2**31 elements (its fault needs the GPU large-offset case)', () => {
    expect(ok(results['pr-int32'])).toEqual([]);
  });

  it('pr-original (32-bit offsets, the unfused path for any weight but [1, K]) is right at these sizes', () => {
    expect(ok(results['pr-original'])).toEqual([]);
  });

  it('the inline block computes correctly in the namespace of qwen2_moe.py', () => {
    expect(ok(results.inline)).toEqual([]);
  });
});
