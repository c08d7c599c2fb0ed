// Puts a kernel bundle into a vLLM tree: copies its files and rewrites its call sites (src/patch/rewrite.py).
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { z } from 'zod';
import { type Patch, PatchSite } from '../results/run-result.js';
import { loadManifest, type Manifest } from './manifest.js';

export type PatchMode = 'apply' | 'check' | 'revert';

export interface ApplyBundleOptions {
  vllmDir: string;
  bundleDir: string;
  mode: PatchMode;
  /** interpreter that runs the rewriter: any Python 3.8+, no torch needed */
  python: string;
  /** apply may overwrite a tree file whose content differs from the bundle's */
  force?: boolean;
}

export class PatchError extends Error {}

/** The tool's own root (package.json, kernels/, src/patch/rewrite.py): from src/patch/ or from dist/ alike. */
export function toolRoot(from: string = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src/patch/rewrite.py'))) return dir;
    dir = dirname(dir);
  }
  throw new PatchError(`Cannot find vllm-kernel-ci's own files above ${from}: reinstall the tool.`);
}

/** A bundle name under the tool's kernels/, or a path to a bundle directory. */
export function resolveBundleDir(nameOrPath: string, root: string = toolRoot()): string {
  if (isAbsolute(nameOrPath) || nameOrPath.includes('/') || nameOrPath.startsWith('.'))
    return resolve(nameOrPath);
  return join(root, 'kernels', nameOrPath);
}

export async function assertVllmTree(vllmDir: string): Promise<void> {
  const models = join(vllmDir, 'vllm/model_executor/models');
  const isDir = await stat(models).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir) {
    throw new PatchError(
      `${vllmDir} is not a vLLM source tree: no vllm/model_executor/models/ in it. Pass the root of a vLLM checkout (the folder holding vllm/ and setup.py) or an extracted release.`,
    );
  }
}

const RewriterAnswer = z.object({
  sites: z.array(PatchSite),
  written: z.array(z.string()),
  coveredModels: z.array(z.string()),
  python: z.string(),
});
export type RewriterAnswer = z.infer<typeof RewriterAnswer>;

/** Runs the Python rewriter over the tree; it writes files itself unless mode is check. */
export async function runRewriter(
  vllmDir: string,
  manifest: Manifest,
  mode: PatchMode,
  python: string,
): Promise<RewriterAnswer> {
  const script = join(toolRoot(), 'src/patch/rewrite.py');
  const request = { root: resolve(vllmDir), mode, rule: manifest.rewrite };
  const run = await execa(python, [script], {
    input: JSON.stringify(request),
    reject: false,
    timeout: 300_000,
    env: { PYTHONDONTWRITEBYTECODE: '1' },
  });
  if (run.failed && (run as { code?: string }).code === 'ENOENT') {
    throw new PatchError(`Cannot run Python '${python}': not found. Install Python 3.8+ or pass its path.`);
  }
  if (run.exitCode !== 0) {
    const tail = `${run.stderr}`.trim().split('\n').slice(-8).join('\n');
    throw new PatchError(
      `The rewriter failed under '${python}' (exit ${run.exitCode ?? run.signal}):\n${tail}`,
    );
  }
  try {
    return RewriterAnswer.parse(JSON.parse(`${run.stdout}`));
  } catch (error) {
    throw new PatchError(
      `The rewriter under '${python}' gave an answer that is not its JSON (${error instanceof Error ? error.message.split('\n')[0] : error}). Is it Python 3.8 or newer?`,
    );
  }
}

async function sameBytes(a: string, b: string): Promise<boolean> {
  try {
    const [x, y] = await Promise.all([readFile(a), readFile(b)]);
    return x.equals(y);
  } catch {
    return false;
  }
}

/** Removes now-empty folders from `dir` up to (not including) `stop`: the ones an apply created. */
async function pruneEmpty(dir: string, stop: string): Promise<void> {
  let current = dir;
  while (current.startsWith(`${stop}/`)) {
    if ((await readdir(current)).length > 0) return;
    await rmdir(current);
    current = dirname(current);
  }
}

/** Copies (apply), compares (check) or removes (revert) the bundle's files; a missing one is a site, never silent. */
async function placeFiles(
  vllmDir: string,
  bundleDir: string,
  manifest: Manifest,
  mode: PatchMode,
): Promise<{ copied: Patch['copied']; sites: Patch['sites'] }> {
  const copied: Patch['copied'] = [];
  const sites: Patch['sites'] = [];
  for (const file of manifest.files) {
    const from = join(bundleDir, file.from);
    const to = join(vllmDir, file.to);
    const missing = (reason: string): PatchSite => ({
      file: file.to,
      line: 0,
      status: 'missing-file',
      source: '',
      reason,
    });
    if (mode === 'revert') {
      if (!existsSync(to)) continue;
      if (existsSync(from) && !(await sameBytes(from, to))) {
        sites.push({
          file: file.to,
          line: 0,
          status: 'unmatched',
          source: '',
          reason: `differs from the bundle's ${file.from}: changed after it was copied, left in place`,
        });
        continue;
      }
      await rm(to);
      await pruneEmpty(dirname(to), vllmDir);
      copied.push({ from: file.from, to: file.to });
      continue;
    }
    if (!existsSync(from)) {
      sites.push(missing(`the bundle has no ${file.from} (${from}) to copy here`));
      continue;
    }
    if (mode === 'apply' && !(await sameBytes(from, to))) {
      await mkdir(dirname(to), { recursive: true });
      await copyFile(from, to);
    }
    copied.push({ from: file.from, to: file.to });
  }
  return { copied, sites };
}

/** Applies, checks or reverts a bundle on a vLLM tree; every site and missing file is in the answer. */
export async function applyBundle(opts: ApplyBundleOptions): Promise<Patch> {
  const vllmDir = resolve(opts.vllmDir);
  await assertVllmTree(vllmDir);
  const manifest = await loadManifest(opts.bundleDir);
  // revert rewrites first so the tree never imports a module that is already gone
  let rewrite: RewriterAnswer;
  let files: Awaited<ReturnType<typeof placeFiles>>;
  if (opts.mode === 'revert') {
    rewrite = await runRewriter(vllmDir, manifest, opts.mode, opts.python);
    files = await placeFiles(vllmDir, opts.bundleDir, manifest, opts.mode);
  } else {
    files = await placeFiles(vllmDir, opts.bundleDir, manifest, opts.mode);
    rewrite = await runRewriter(vllmDir, manifest, opts.mode, opts.python);
  }
  const sites = [...files.sites, ...rewrite.sites].sort(
    (a, b) => a.file.localeCompare(b.file) || a.line - b.line,
  );
  return { sites, copied: files.copied, coveredModels: rewrite.coveredModels, mode: opts.mode };
}

export interface PatchCounts {
  applied: number;
  alreadyApplied: number;
  unmatched: number;
  missingFiles: number;
}

export function countSites(patch: Patch): PatchCounts {
  const count = (status: PatchSite['status']) => patch.sites.filter((s) => s.status === status).length;
  return {
    applied: count('applied'),
    alreadyApplied: count('already-applied'),
    unmatched: count('unmatched'),
    missingFiles: count('missing-file'),
  };
}
