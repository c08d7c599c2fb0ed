// Issue 23, breaks 5 and 7: committed links, special files and a 200,000-term expression in the tree.
import { lstat, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { applyBundle, scanTreeKernel } from '../src/patch/engine.js';
import { assertPlainDirectory, readNoFollow, writeNoFollow } from '../src/security/files.js';
import { ROOT, tempDir } from './helpers.js';

const PYTHON = process.env.VLLM_KERNEL_CI_PYTHON ?? 'python3';
const BUNDLE = join(ROOT, 'kernels/fused_shared_expert_gate');
const KERNEL = join(ROOT, 'test/fixtures/pr-shapes/shared_expert_gate.py');
const OP_FILE = 'vllm/model_executor/layers/fused_moe/shared_expert_gate.py';
const MODEL = 'vllm/model_executor/models/qwen2_moe.py';
const GATE = [
  'import torch.nn.functional as F',
  'class Qwen2MoeSparseMoeBlock:',
  '    def forward(self, x, out):',
  '        out = F.sigmoid(self.shared_expert_gate(x)) * out',
  '        return out',
  '',
].join('\n');

/** A small vLLM-shaped tree: the gate site in one model file and the PR's kernel at the op's path. */
async function tree(): Promise<string> {
  const dir = await tempDir('vkci-hostile-files-');
  await mkdir(join(dir, 'vllm/model_executor/models'), { recursive: true });
  await mkdir(join(dir, 'vllm/model_executor/layers/fused_moe'), { recursive: true });
  await writeFile(join(dir, MODEL), GATE);
  await writeFile(join(dir, OP_FILE), await readFile(KERNEL));
  return dir;
}

describe('the scanner on hostile files', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await tree();
  });

  it('refuses a committed link to /dev/zero (it used to read until memory ran out), naming it', async () => {
    await symlink('/dev/zero', join(dir, 'vllm/zero.py'));
    const kernel = await scanTreeKernel(dir, BUNDLE, PYTHON);
    expect(kernel?.path).toBe(OP_FILE);
    expect(kernel?.sites).toContainEqual(
      expect.objectContaining({
        file: 'vllm/zero.py',
        status: 'unmatched',
        reason: 'not read: vllm/zero.py is a symbolic link',
      }),
    );
  }, 60_000);

  it('makes a 200,000-term expression an unmatched site with its reason, and scans the rest', async () => {
    const deep = `from vllm.model_executor.layers.fused_moe.shared_expert_gate import fused_shared_expert_gate\nx = ${Array(200_000).fill('a').join(' + ')}\n`;
    await writeFile(join(dir, 'vllm/model_executor/models/deep.py'), deep);
    const kernel = await scanTreeKernel(dir, BUNDLE, PYTHON);
    const site = kernel?.sites.find((s) => s.file === 'vllm/model_executor/models/deep.py');
    expect(site?.status).toBe('unmatched');
    expect(site?.reason).toMatch(/too deeply nested .*RecursionError|maximum recursion depth/);
    expect(kernel?.path).toBe(OP_FILE);
  }, 60_000);

  it('the rewriter: a linked model file is an unmatched site, never read or written through', async () => {
    const outside = join(await tempDir('vkci-outside-'), 'installed_vllm_model.py');
    await writeFile(outside, GATE);
    await symlink(outside, join(dir, 'vllm/model_executor/models/qwen3_moe.py'));
    const patch = await applyBundle({
      vllmDir: dir,
      bundleDir: BUNDLE,
      mode: 'apply',
      python: PYTHON,
      force: true,
    });
    expect(patch.sites).toContainEqual(
      expect.objectContaining({ file: 'vllm/model_executor/models/qwen3_moe.py', status: 'unmatched' }),
    );
    expect(await readFile(outside, 'utf8')).toBe(GATE);
    // the regular model file beside it is patched
    expect(patch.sites).toContainEqual(expect.objectContaining({ file: MODEL, status: 'applied' }));
  }, 60_000);

  it("the bundle copy: a committed link at a target (to the runner's installed vLLM) is not written through", async () => {
    const outside = join(await tempDir('vkci-outside-'), 'site-packages-shared_expert_gate.py');
    await writeFile(outside, 'the installed one\n');
    await rm(join(dir, OP_FILE));
    await symlink(outside, join(dir, OP_FILE));
    const patch = await applyBundle({
      vllmDir: dir,
      bundleDir: BUNDLE,
      mode: 'apply',
      python: PYTHON,
      force: true,
    });
    expect(await readFile(outside, 'utf8')).toBe('the installed one\n');
    expect(patch.sites).toContainEqual(
      expect.objectContaining({
        file: OP_FILE,
        status: 'unmatched',
        reason: `not written: ${OP_FILE} is a symbolic link`,
      }),
    );
    expect(patch.copied.map((c) => c.to)).not.toContain(OP_FILE);
  }, 60_000);

  it('a link on the way: a directory of the target path linked outside the tree', async () => {
    const outside = await tempDir('vkci-outside-dir-');
    await mkdir(join(dir, 'tests'), { recursive: true });
    await symlink(outside, join(dir, 'tests/kernels'));
    const patch = await applyBundle({
      vllmDir: dir,
      bundleDir: BUNDLE,
      mode: 'apply',
      python: PYTHON,
      force: true,
    });
    expect(patch.sites).toContainEqual(
      expect.objectContaining({
        file: 'tests/kernels/moe/test_fused_shared_expert_gate.py',
        status: 'unmatched',
      }),
    );
    await expect(lstat(join(outside, 'moe'))).rejects.toThrow();
  }, 60_000);
});

describe('the output directory', () => {
  it('refuses an existing one that holds a link (run-result.json -> ~/.gitconfig)', async () => {
    const out = await tempDir('vkci-out-');
    const victim = join(await tempDir('vkci-home-'), '.gitconfig');
    await writeFile(victim, '[user]\n');
    await symlink(victim, join(out, 'run-result.json'));
    await expect(assertPlainDirectory(out)).rejects.toThrow(
      /holds .*run-result\.json, a symbolic link: refused/,
    );
    await expect(writeNoFollow(join(out, 'run-result.json'), '{}')).rejects.toThrow(/symbolic link/);
    expect(await readFile(victim, 'utf8')).toBe('[user]\n');
  });

  it('reads a sandbox output only when it is a regular file', async () => {
    const dir = await tempDir('vkci-scratch-');
    await symlink('/dev/zero', join(dir, 'junit.xml'));
    await expect(readNoFollow(join(dir, 'junit.xml'))).rejects.toThrow(/symbolic link/);
  });
});
