// The patch engine on vLLM trees shaped like kernel pull requests: the tree's own kernel and call sites are
// found and reported, and bundle mode never overwrites them silently.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyBundle, PatchError, scanTreeKernel } from '../src/patch/engine.js';
import { loadManifest } from '../src/patch/manifest.js';
import { resolveBundle } from '../src/pipeline/bundle.js';
import { runNode } from './helpers.js';
import {
  buildPrTrees,
  PR_CALL,
  PR_KERNEL_PATH,
  PR_TEST_PATH,
  type PrBranch,
  type PrTrees,
  QWEN2_MOE,
  QWEN3_MOE,
  removePrTrees,
} from './support/pr-trees.js';

const exec = promisify(execFile);
const PYTHON = process.env.VLLM_KERNEL_CI_PYTHON ?? 'python3';
const BUNDLE = await resolveBundle('fused_shared_expert_gate');
const OP = 'fused_shared_expert_gate';

let trees: PrTrees;
beforeAll(async () => {
  trees = await buildPrTrees();
}, 300_000);

// checkouts cost seconds each: the tests that only read share one per branch
const readOnly = new Map<PrBranch, Promise<string>>();
function lookAt(branch: PrBranch): Promise<string> {
  if (!readOnly.has(branch)) readOnly.set(branch, trees.worktree(branch));
  return readOnly.get(branch) as Promise<string>;
}
afterAll(() => removePrTrees(), 600_000);

async function git(dir: string, ...args: string[]): Promise<string> {
  const { stdout } = await exec('git', ['-C', dir, ...args], { maxBuffer: 64 * 1024 * 1024 });
  return stdout.trim();
}
const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

/** The PR's two call sites as the scan reports them, read from the branch itself. */
async function prSites(branch: PrBranch) {
  const sites = [];
  for (const [file, cls] of [
    [QWEN2_MOE, 'Qwen2MoeMLP'],
    [QWEN3_MOE, 'Qwen3MoeMLP'],
  ]) {
    const text = await git(trees.dir, 'show', `${branch}:${file}`);
    sites.push({
      file,
      line: lineOf(text, PR_CALL),
      status: 'tree-native',
      source: PR_CALL,
      symbol: `${cls}.forward`,
      form: 'call',
      // the weight followed to the block's `self.shared_expert_gate = ReplicatedLinear(hidden_size, 1, ...)`
      args: [
        { source: 'x' },
        {
          source: 'self.expert_gate.weight',
          shapes: ['[1, K]'],
          origin: `${file}:${lineOf(text, 'self.shared_expert_gate = ReplicatedLinear(')}`,
        },
        { source: 'out' },
      ],
    });
  }
  return sites;
}

describe('scanTreeKernel', () => {
  it('finds the PR kernel file, its blob and both unconditional call sites, and writes nothing', async () => {
    const dir = await lookAt('pr');
    const kernel = await scanTreeKernel(dir, BUNDLE, PYTHON);
    const source = await readFile(join(dir, PR_KERNEL_PATH), 'utf8');
    expect(kernel).toEqual({
      path: PR_KERNEL_PATH,
      line: lineOf(source, `def ${OP}(`),
      symbol: OP,
      blobSha: await git(dir, 'rev-parse', `pr:${PR_KERNEL_PATH}`),
      sites: await prSites('pr'),
      definitions: [
        {
          file: PR_KERNEL_PATH,
          line: lineOf(source, `def ${OP}(`),
          symbol: OP,
          params: ['x', 'weight', 'out'],
        },
      ],
      sameAsBundle: false,
      contract: { sites: 2, params: { weight: ['[1, K]'] } },
    });
    expect(await git(dir, 'status', '--porcelain', '--untracked-files=all')).toBe('');
  });

  it('tells a follow-up kernel from the PR kernel by its blob', async () => {
    const pr = await scanTreeKernel(await lookAt('pr'), BUNDLE, PYTHON);
    const followup = await scanTreeKernel(await lookAt('followup'), BUNDLE, PYTHON);
    expect(followup?.path).toBe(PR_KERNEL_PATH);
    expect(followup?.blobSha).toBe(await git(trees.dir, 'rev-parse', `followup:${PR_KERNEL_PATH}`));
    expect(followup?.blobSha).not.toBe(pr?.blobSha);
  });

  it('finds a kernel defined inline in qwen2_moe.py and its one call site', async () => {
    const dir = await lookAt('inline');
    const kernel = await scanTreeKernel(dir, BUNDLE, PYTHON);
    const text = await readFile(join(dir, QWEN2_MOE), 'utf8');
    expect(kernel).toMatchObject({
      path: QWEN2_MOE,
      line: lineOf(text, `def ${OP}(`),
      symbol: OP,
      blobSha: await git(dir, 'rev-parse', `inline:${QWEN2_MOE}`),
      sameAsBundle: false,
    });
    expect(kernel?.sites).toEqual([(await prSites('inline'))[0]]);
  });

  it('finds nothing in vLLM as published; a tree patched with the bundle carries the bundle kernel', async () => {
    const dir = await trees.worktree('base');
    expect(await scanTreeKernel(dir, BUNDLE, PYTHON)).toBeUndefined();
    await applyBundle({ vllmDir: dir, bundleDir: BUNDLE, mode: 'apply', python: PYTHON });
    const kernel = await scanTreeKernel(dir, BUNDLE, PYTHON);
    expect(kernel).toMatchObject({ path: PR_KERNEL_PATH, symbol: OP, sameAsBundle: true });
    expect(kernel?.blobSha).toBe(await git(dir, 'hash-object', join(BUNDLE, 'shared_expert_gate.py')));
    // the rewritten sites call the op behind the bundle's switch
    expect(kernel?.sites.map((s) => `${s.file} ${s.symbol} ${s.form}`)).toContain(
      `${QWEN2_MOE} Qwen2MoeMLP.forward conditional call`,
    );
    expect(kernel?.sites.every((s) => s.status === 'tree-native')).toBe(true);
  });
});

describe('applyBundle on a PR tree', () => {
  it('refuses to overwrite the PR kernel and test, naming each file and both blob SHAs; nothing written', async () => {
    const dir = await lookAt('pr');
    const manifest = await loadManifest(BUNDLE);
    const testFrom = manifest.files.find((f) => f.to === PR_TEST_PATH)?.from;
    for (const mode of ['apply', 'check'] as const) {
      const refused = applyBundle({ vllmDir: dir, bundleDir: BUNDLE, mode, python: PYTHON });
      await expect(refused).rejects.toThrow(PatchError);
      const message = await refused.catch((e: Error) => e.message);
      expect(message).toContain(
        `${PR_KERNEL_PATH} (tree blob ${await git(dir, 'rev-parse', `HEAD:${PR_KERNEL_PATH}`)}, bundle's shared_expert_gate.py blob ${await git(dir, 'hash-object', join(BUNDLE, 'shared_expert_gate.py'))})`,
      );
      if (testFrom) expect(message).toContain(`${PR_TEST_PATH} (tree blob `);
      expect(message).toContain('test it with kernel-source tree (or auto), or pass --force');
    }
    expect(await git(dir, 'status', '--porcelain', '--untracked-files=all')).toBe('');
  });

  it('with force overwrites the kernel and still reports the PR call sites as tree-native', async () => {
    const dir = await trees.worktree('pr');
    const patch = await applyBundle({
      vllmDir: dir,
      bundleDir: BUNDLE,
      mode: 'apply',
      python: PYTHON,
      force: true,
    });
    expect(await readFile(join(dir, PR_KERNEL_PATH))).toEqual(
      await readFile(join(BUNDLE, 'shared_expert_gate.py')),
    );
    const models = patch.sites.filter((s) => s.file === QWEN2_MOE || s.file === QWEN3_MOE);
    expect(models).toEqual(await prSites('pr'));
    expect(patch.sites.filter((s) => s.status === 'unmatched')).toEqual([]);
  });

  it('the CLI refuses with exit 2 and the message, and --force goes ahead', async () => {
    const dir = await trees.worktree('pr-wrong');
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
    const args = ['dist/cli.js', 'patch', '--vllm-dir', dir, '--python', PYTHON];
    const refused = await runNode(args, env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`error: Refusing to overwrite`);
    expect(refused.stderr).toContain(`${PR_KERNEL_PATH} (tree blob `);
    expect(await git(dir, 'status', '--porcelain')).toBe('');
    const forced = await runNode([...args, '--force'], env);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toMatch(
      /tree-native +vllm\/model_executor\/models\/qwen2_moe\.py:\d+ +Qwen2MoeMLP\.forward/,
    );
    expect(forced.stdout).toMatch(/, 2 tree-native$/m);
    expect(await git(dir, 'status', '--porcelain')).toContain(PR_KERNEL_PATH);
  });
});
