// `vllm-kernel-ci patch` from a terminal (dist/cli.js), and the engine's answers to trees it cannot patch cleanly.
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { applyBundle, PatchError, scanTreeKernel } from '../src/patch/engine.js';
import { resolveBundle } from '../src/pipeline/bundle.js';
import { Patch } from '../src/results/run-result.js';
import { toolRoot } from '../src/root.js';
import { fetchVllmSource } from '../src/vllm/pypi.js';
import { ROOT, runNode, tempDir } from './helpers.js';

const PYTHON = process.env.VLLM_KERNEL_CI_PYTHON ?? 'python3';
const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
const MODEL = 'vllm/model_executor/models/qwen2_moe.py';
// the two-line form of 0.5.5, as its sdist has it
const SITE = /shared_output = F\.sigmoid\(\n\s+self\.shared_expert_gate\(hidden_states\)\) \* shared_output/;

const made: string[] = [];
afterAll(async () => {
  await Promise.all(made.map((d) => rm(d, { recursive: true, force: true })));
});

async function release055(): Promise<string> {
  const parent = await tempDir('vkci-patch-');
  made.push(parent);
  const dir = join(parent, 'vllm');
  await cp(await fetchVllmSource('0.5.5'), dir, { recursive: true });
  return dir;
}

function lineOf(text: string, index: number): number {
  return text.slice(0, index).split('\n').length;
}

describe('vllm-kernel-ci patch', () => {
  it('--help describes every option', async () => {
    const r = await runNode(['dist/cli.js', 'patch', '--help'], env);
    expect(r.code).toBe(0);
    for (const flag of [
      '--vllm-dir',
      '--bundle',
      '--check',
      '--revert',
      '--force',
      '--strict',
      '--json',
      '--python',
    ]) {
      expect(r.stdout).toContain(flag);
    }
    const main = await runNode(['dist/cli.js', '--help'], env);
    expect(main.stdout).toContain('  patch ');
  });

  it('applies, then --check finds every site already applied and writes nothing, then --revert restores', async () => {
    const dir = await release055();
    const original = await readFile(join(dir, MODEL), 'utf8');
    const applied = await runNode(['dist/cli.js', 'patch', '--vllm-dir', dir, '--python', PYTHON], env);
    expect(applied.code).toBe(0);
    expect(applied.stdout).toMatch(
      /applied +vllm\/model_executor\/models\/qwen2_moe\.py:\d+ {2}Qwen2MoeSparseMoeBlock\.forward/,
    );
    expect(applied.stdout).toContain(
      'shared_output = F.sigmoid( self.shared_expert_gate(hidden_states)) * shared_output',
    );
    const patched = await readFile(join(dir, MODEL), 'utf8');
    expect(patched).not.toBe(original);

    const check = await runNode(
      ['dist/cli.js', 'patch', '--vllm-dir', dir, '--check', '--json', '--python', PYTHON],
      env,
    );
    expect(check.code).toBe(0);
    const patch = Patch.parse(JSON.parse(check.stdout));
    expect(patch.mode).toBe('check');
    expect(patch.sites.filter((s) => s.file === MODEL).map((s) => s.status)).toEqual(['already-applied']);
    expect(await readFile(join(dir, MODEL), 'utf8')).toBe(patched);

    const reverted = await runNode(
      ['dist/cli.js', 'patch', '--vllm-dir', dir, '--revert', '--python', PYTHON],
      env,
    );
    expect(reverted.code).toBe(0);
    expect(reverted.stdout).toMatch(/reverted +vllm\/model_executor\/models\/qwen2_moe\.py/);
    expect(await readFile(join(dir, MODEL), 'utf8')).toBe(original);
  });

  it('reports a site edited by hand into an unknown form as unmatched with its line; --strict fails', async () => {
    const dir = await release055();
    const text = await readFile(join(dir, MODEL), 'utf8');
    const found = SITE.exec(text);
    expect(found).not.toBeNull();
    const edited = `${text.slice(0, found?.index)}shared_output = shared_output.mul(F.sigmoid(self.shared_expert_gate(hidden_states)))${text.slice((found?.index ?? 0) + (found?.[0].length ?? 0))}`;
    await writeFile(join(dir, MODEL), edited);
    const line = lineOf(edited, found?.index ?? 0);

    const lenient = await runNode(
      ['dist/cli.js', 'patch', '--vllm-dir', dir, '--json', '--python', PYTHON],
      env,
    );
    expect(lenient.code).toBe(0);
    const sites = Patch.parse(JSON.parse(lenient.stdout)).sites.filter((s) => s.file === MODEL);
    expect(sites).toEqual([
      expect.objectContaining({
        line,
        status: 'unmatched',
        source: 'shared_output = shared_output.mul(F.sigmoid(self.shared_expert_gate(hidden_states)))',
        symbol: 'Qwen2MoeSparseMoeBlock.forward',
      }),
    ]);
    expect(await readFile(join(dir, MODEL), 'utf8')).toBe(edited);

    const strict = await runNode(
      ['dist/cli.js', 'patch', '--vllm-dir', dir, '--strict', '--python', PYTHON],
      env,
    );
    expect(strict.code).toBe(1);
    expect(strict.stdout).toContain(`unmatched       ${MODEL}:${line}`);
    expect(strict.stderr).toContain('--strict: 1 unmatched site(s)');
  });

  it('--strict fails on a missing target file', async () => {
    const dir = await tempDir('vkci-patch-');
    await mkdir(join(dir, 'vllm/model_executor/models'), { recursive: true });
    const r = await runNode(
      ['dist/cli.js', 'patch', '--vllm-dir', dir, '--check', '--strict', '--python', PYTHON],
      env,
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/missing-file +vllm\/model_executor\/models\/qwen2_moe\.py/);
  });

  it('says clearly that a directory is not a vLLM tree', async () => {
    const dir = await tempDir('vkci-not-vllm-');
    const r = await runNode(['dist/cli.js', 'patch', '--vllm-dir', dir], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${dir} is not a vLLM source tree: no vllm/model_executor/models/ in it`);
    await expect(
      applyBundle({
        vllmDir: dir,
        bundleDir: await resolveBundle('fused_shared_expert_gate'),
        mode: 'check',
        python: PYTHON,
      }),
    ).rejects.toThrow('is not a vLLM source tree');
  });

  it('rejects bad usage: no --vllm-dir, --check with --revert, an unknown bundle, a missing Python', async () => {
    const noDir = await runNode(['dist/cli.js', 'patch'], env);
    expect(noDir.code).toBe(2);
    expect(noDir.stderr).toContain('--vllm-dir is required');
    const dir = await release055();
    const both = await runNode(['dist/cli.js', 'patch', '--vllm-dir', dir, '--check', '--revert'], env);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--check and --revert exclude each other');
    const bundle = await runNode(
      ['dist/cli.js', 'patch', '--vllm-dir', dir, '--bundle', 'no_such_bundle'],
      env,
    );
    expect(bundle.code).toBe(2);
    expect(bundle.stderr).toContain(
      `Invalid bundle 'no_such_bundle'. Expected a bundle name under kernels/ (fused_shared_expert_gate) or a path to a bundle directory (one holding manifest.json); there is no directory at ${join(ROOT, 'kernels/no_such_bundle')} or ${join(ROOT, 'no_such_bundle')}.`,
    );
    const notBundle = await runNode(['dist/cli.js', 'patch', '--vllm-dir', dir, '--bundle', './test'], env);
    expect(notBundle.code).toBe(2);
    expect(notBundle.stderr).toContain(
      `${join(ROOT, 'test')} is not a kernel bundle: it has no manifest.json`,
    );
    const python = await runNode(
      ['dist/cli.js', 'patch', '--vllm-dir', dir, '--python', 'no-such-python3'],
      env,
    );
    expect(python.code).toBe(2);
    expect(python.stderr).toContain("Cannot run Python 'no-such-python3': not found");
  });

  it('finds its own files from the sources and from the bundle alike; one resolver names a bundle', async () => {
    expect(toolRoot()).toBe(ROOT);
    expect(toolRoot(join(ROOT, 'dist/chunks/any.js'))).toBe(ROOT);
    expect(await resolveBundle('fused_shared_expert_gate')).toBe(
      join(ROOT, 'kernels/fused_shared_expert_gate'),
    );
    expect(await resolveBundle('./kernels/fused_shared_expert_gate')).toBe(
      join(process.cwd(), 'kernels/fused_shared_expert_gate'),
    );
    await expect(resolveBundle('./my-bundle')).rejects.toThrow(
      `there is no directory at ${join(process.cwd(), 'my-bundle')}.`,
    );
  });
});

describe('the op a bundle names', () => {
  const BUNDLE = join(ROOT, 'kernels/fused_shared_expert_gate');

  async function bundleWith(change: (manifest: Record<string, unknown>) => void): Promise<string> {
    const dir = await tempDir('vkci-bundle-');
    made.push(dir);
    await cp(BUNDLE, dir, { recursive: true });
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
    change(manifest);
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
    return dir;
  }

  async function toyTree(files: Record<string, string>): Promise<string> {
    const dir = await tempDir('vkci-toy-vllm-');
    made.push(dir);
    await mkdir(join(dir, 'vllm/model_executor/models'), { recursive: true });
    for (const [path, text] of Object.entries(files)) {
      await mkdir(join(dir, path, '..'), { recursive: true });
      await writeFile(join(dir, path), text);
    }
    return dir;
  }

  it('is needed to look for the tree kernel; a tree calling an op it defines nowhere is an error', async () => {
    const tree = await toyTree({
      'vllm/model_executor/models/toy.py':
        'def forward(x, w, out):\n    return fused_shared_expert_gate(x, w, out)\n',
    });
    const noOp = await bundleWith((m) => {
      delete m.op;
    });
    await expect(scanTreeKernel(tree, noOp, PYTHON)).rejects.toThrow('names no op in its manifest.json');
    const scan = scanTreeKernel(tree, BUNDLE, PYTHON);
    await expect(scan).rejects.toThrow(PatchError);
    await expect(scan).rejects.toThrow(
      'The tree calls fused_shared_expert_gate (vllm/model_executor/models/toy.py:2) but defines it nowhere under vllm/',
    );
    // a bundle without an op still patches: it just cannot report the tree's own calls
    const patch = await applyBundle({ vllmDir: tree, bundleDir: noOp, mode: 'check', python: PYTHON });
    expect(patch.sites.filter((s) => s.status === 'tree-native')).toEqual([]);
  });
});
