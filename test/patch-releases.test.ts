// The engine against vLLM's real source as published on PyPI, one release per era of the gate's form.
import { execFile } from 'node:child_process';
import { cp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { applyBundle } from '../src/patch/engine.js';
import { loadManifest } from '../src/patch/manifest.js';
import { resolveBundle } from '../src/pipeline/bundle.js';
import { fetchVllmSource } from '../src/vllm/pypi.js';
import { tempDir } from './helpers.js';

const exec = promisify(execFile);
const PYTHON = process.env.VLLM_KERNEL_CI_PYTHON ?? 'python3';
const BUNDLE = await resolveBundle('fused_shared_expert_gate');

// What each release holds (read from the sdists): the forms drifted from a two-line nn.Linear gate in the
// sparse MoE block to a one-line ReplicatedLinear gate in the reused MLP, plus the transformers-backend fuser.
const RELEASES: Record<string, string[]> = {
  '0.5.5': ['vllm/model_executor/models/qwen2_moe.py Qwen2MoeSparseMoeBlock.forward sigmoid(gate(x)) * out'],
  '0.10.2': [
    'vllm/model_executor/models/qwen2_moe.py Qwen2MoeSparseMoeBlock.forward sigmoid(gate(x)) * out',
    'vllm/model_executor/models/qwen3_next.py Qwen3NextSparseMoeBlock.forward sigmoid(gate(x)) * out',
  ],
  '0.19.1': [
    'vllm/model_executor/models/qwen2_moe.py Qwen2MoeMLP.forward sigmoid(gate(x)[0]) * out',
    'vllm/model_executor/models/qwen3_moe.py Qwen3MoeMLP.forward sigmoid(gate(x)[0]) * out',
  ],
  '0.33.0': [
    'vllm/model_executor/models/k2_horizon.py K2HorizonMLP.forward sigmoid(gate(x)[0]) * out',
    'vllm/model_executor/models/qwen2_moe.py Qwen2MoeMLP.forward sigmoid(gate(x)[0]) * out',
    'vllm/model_executor/models/qwen3_moe.py Qwen3MoeMLP.forward sigmoid(gate(x)[0]) * out',
    'vllm/model_executor/models/transformers/fusers/moe.py SharedExpertMLP.forward sigmoid(gate(x)[0]) * out',
  ],
};

// models that reach the patched Qwen2MoeMLP by importing it
const COVERED: Record<string, string[]> = {
  '0.19.1': ['qwen3_next (Qwen2MoeMLP as Qwen3NextMLP from qwen2_moe)'],
  '0.33.0': [
    'qwen3_next (Qwen2MoeMLP as Qwen3NextMLP from qwen2_moe)',
    'alice_ai (Qwen2MoeMLP from qwen2_moe)',
  ],
};

// An independent count, not the engine's matcher: `sigmoid(<anything calling self.*gate*>) * y` products
// that are not the fallback branch of a fused-gate conditional.
const UNPATCHED_GATES = `
import ast, pathlib, sys
root = pathlib.Path(sys.argv[1])
left = []
for path in sorted(root.glob("vllm/**/*.py")):
    data = path.read_bytes()
    if b"sigmoid" not in data:
        continue
    tree = ast.parse(data)
    fallbacks = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.IfExp) and "use_fused_shared_expert_gate" in ast.dump(node.test):
            fallbacks.update(id(n) for n in ast.walk(node.orelse))
    for node in ast.walk(tree):
        if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult)) or id(node) in fallbacks:
            continue
        for side in (node.left, node.right):
            if not (isinstance(side, ast.Call) and getattr(side.func, "attr", getattr(side.func, "id", "")) == "sigmoid"):
                continue
            calls = [n for a in side.args for n in ast.walk(a) if isinstance(n, ast.Call)]
            if any(isinstance(c.func, ast.Attribute) and isinstance(c.func.value, ast.Name)
                   and c.func.value.id == "self" and c.func.attr.endswith("gate") for c in calls):
                left.append(f"{path.relative_to(root)}:{node.lineno}")
print("\\n".join(left))
`;

async function git(cwd: string, ...args: string[]): Promise<string> {
  // gc.auto=0: committing a whole vLLM tree would start a background `git gc` racing the removal in afterAll
  const config = ['-c', 'user.name=t', '-c', 'user.email=t@example.com', '-c', 'gc.auto=0'];
  const { stdout } = await exec('git', [...config, ...args], {
    cwd,
    maxBuffer: 256 * 1024 * 1024,
  });
  return stdout;
}

async function unpatchedGates(dir: string): Promise<string[]> {
  const { stdout } = await exec(PYTHON, ['-c', UNPATCHED_GATES, dir], { maxBuffer: 16 * 1024 * 1024 });
  return stdout.split('\n').filter(Boolean);
}

// each copy of a release is up to ~300 MB with its git objects: removed when the file's tests end
const made: string[] = [];
afterAll(async () => {
  await Promise.all(made.map((d) => rm(d, { recursive: true, force: true })));
});

/** A git repository made from the release, so that `git diff` shows exactly what the patch changed. */
async function repoFrom(version: string): Promise<string> {
  const source = await fetchVllmSource(version);
  const parent = await tempDir(`vkci-vllm-${version}-`);
  made.push(parent);
  const dir = join(parent, 'vllm');
  await cp(source, dir, { recursive: true });
  await git(dir, 'init', '-q');
  await git(dir, 'config', 'gc.auto', '0');
  await git(dir, 'add', '-A');
  await git(dir, 'commit', '-q', '--no-gpg-sign', '-m', `vLLM ${version} sdist`);
  return dir;
}

describe.each(Object.entries(RELEASES))('vLLM %s from PyPI', (version, expected) => {
  it('applies every gate site once, compiles, changes only the intended lines, and reverts byte for byte', async () => {
    const manifest = await loadManifest(BUNDLE);
    const importLine = `${manifest.rewrite.imports[0]}  # ${manifest.rewrite.marker}`;
    const dir = await repoFrom(version);
    const before = await unpatchedGates(dir);
    expect(before).toHaveLength(expected.length);

    const patch = await applyBundle({ vllmDir: dir, bundleDir: BUNDLE, mode: 'apply', python: PYTHON });
    const gateSites = patch.sites.filter((s) => s.file.startsWith('vllm/model_executor/models/'));
    expect(gateSites.map((s) => `${s.file} ${s.symbol} ${s.form}`)).toEqual(expected);
    expect(gateSites.every((s) => s.status === 'applied')).toBe(true);
    expect(patch.sites.filter((s) => s.status === 'unmatched')).toEqual([]);
    for (const model of COVERED[version] ?? []) expect(patch.coveredModels).toContain(model);
    // a bundle file not written yet is reported, never skipped; every present one is copied
    for (const file of manifest.files) {
      const copied = patch.copied.some((c) => c.to === file.to);
      const missing = patch.sites.some((s) => s.file === file.to && s.status === 'missing-file');
      expect(copied !== missing).toBe(true);
    }
    expect(await unpatchedGates(dir)).toEqual([]);

    // only the site files changed; only the bundle's files are new
    const changed = (await git(dir, 'diff', '--name-only')).split('\n').filter(Boolean);
    expect(changed).toEqual([...new Set(expected.map((e) => e.split(' ')[0]))]);
    const untracked = (await git(dir, 'ls-files', '--others', '--exclude-standard'))
      .split('\n')
      .filter(Boolean);
    expect(untracked.sort()).toEqual(patch.copied.map((c) => c.to).sort());
    // bytecode goes elsewhere so the tree stays as git knows it
    await exec(PYTHON, ['-m', 'py_compile', ...[...changed, ...untracked].map((f) => join(dir, f))], {
      env: { ...process.env, PYTHONPYCACHEPREFIX: await tempDir('vkci-pyc-') },
    });

    // the only other added line is the import; each site's old lines come back verbatim in the new ones,
    // behind the fused branch `(fused_shared_expert_gate(...) if use_fused_shared_expert_gate(...) else ` and one `)`
    for (const file of changed) {
      const diff = await git(dir, 'diff', '-U0', '--', file);
      const removed = diff.split('\n').filter((l) => l.startsWith('-') && !l.startsWith('---'));
      const added = diff.split('\n').filter((l) => l.startsWith('+') && !l.startsWith('+++'));
      expect(added.filter((l) => l === `+${importLine}`)).toHaveLength(1);
      const rewritten = added.filter((l) => l !== `+${importLine}`);
      expect(rewritten).toHaveLength(removed.length);
      const sites = expected.filter((e) => e.startsWith(`${file} `)).length;
      const before = removed.map((l) => l.slice(1)).join('\n');
      const after = rewritten.map((l) => l.slice(1)).join('\n');
      const fusedBranch =
        /\(fused_shared_expert_gate\([^\n]*? if use_fused_shared_expert_gate\([^\n]*?\) else /g;
      expect(after.match(fusedBranch)).toHaveLength(sites);
      const kept = after.replace(fusedBranch, '');
      expect(kept.replaceAll(')', '')).toBe(before.replaceAll(')', ''));
      expect(kept.split(')').length - before.split(')').length).toBe(sites);
    }

    const diffAfterApply = await git(dir, 'diff');
    const second = await applyBundle({ vllmDir: dir, bundleDir: BUNDLE, mode: 'apply', python: PYTHON });
    expect(second.sites.filter((s) => s.file.startsWith('vllm/')).map((s) => s.status)).toEqual(
      expected.map(() => 'already-applied'),
    );
    expect(await git(dir, 'diff')).toBe(diffAfterApply);

    const reverted = await applyBundle({ vllmDir: dir, bundleDir: BUNDLE, mode: 'revert', python: PYTHON });
    expect(reverted.sites.filter((s) => s.status === 'applied')).toHaveLength(expected.length);
    expect(await git(dir, 'status', '--porcelain', '--untracked-files=all')).toBe('');
    const source = await fetchVllmSource(version);
    for (const file of changed) {
      expect((await readFile(join(dir, file))).equals(await readFile(join(source, file)))).toBe(true);
    }
  }, 300_000);
});
