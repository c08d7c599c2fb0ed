// Puts a kernel bundle into a vLLM tree: copies its files and rewrites its call sites (src/patch/rewrite.py).
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { z } from 'zod';
import { runCommand } from '../pipeline/process.js';
import { opContract } from '../results/contract.js';
import { type OpContract, type Patch, PatchSite } from '../results/run-result.js';
import { toolRoot } from '../root.js';
import { childEnvironment } from '../security/child-env.js';
import { treePathRefusal } from '../security/files.js';
import { loadManifest, type Manifest } from './manifest.js';

export type PatchMode = 'apply' | 'check' | 'revert';

export interface ApplyBundleOptions {
  vllmDir: string;
  bundleDir: string;
  mode: PatchMode;
  /** interpreter that runs the rewriter: any Python 3.8+, no torch needed */
  python: string;
  /** overwrite tree files whose content differs from the bundle's (the tree's own kernel, say) */
  force?: boolean;
}

export class PatchError extends Error {}

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

/** Runs src/patch/rewrite.py on one JSON request and parses its JSON answer. */
async function runPython<T>(python: string, request: object, answer: z.ZodType<T>): Promise<T> {
  const script = join(toolRoot(), 'src/patch/rewrite.py');
  // the allowlisted environment, as every command gets: the github-token input never reaches the rewriter
  const run = await runCommand(python, [script], {
    input: JSON.stringify(request),
    timeoutMs: 300_000,
    env: { ...childEnvironment(process.env), PYTHONDONTWRITEBYTECODE: '1' },
  });
  if (run.spawnError) {
    throw new PatchError(`Cannot run Python '${python}': not found. Install Python 3.8+ or pass its path.`);
  }
  if (run.exitCode !== 0) {
    const tail = `${run.stderr}`.trim().split('\n').slice(-8).join('\n');
    throw new PatchError(
      `The rewriter failed under '${python}' (${run.timedOut ? 'timed out' : `exit ${run.exitCode ?? run.signal}`}):\n${tail}`,
    );
  }
  try {
    return answer.parse(JSON.parse(`${run.stdout}`));
  } catch (error) {
    throw new PatchError(
      `The rewriter under '${python}' gave an answer that is not its JSON (${error instanceof Error ? error.message.split('\n')[0] : error}). Is it Python 3.8 or newer?`,
    );
  }
}

/** Runs the Python rewriter over the tree; it writes files itself unless mode is check. */
export async function runRewriter(
  vllmDir: string,
  manifest: Manifest,
  mode: PatchMode,
  python: string,
): Promise<RewriterAnswer> {
  return runPython(python, { root: resolve(vllmDir), mode, rule: manifest.rewrite }, RewriterAnswer);
}

const Definition = z.object({
  file: z.string(),
  line: z.number().int(),
  symbol: z.string(),
  params: z.array(z.string()).default([]),
});
const ScanAnswer = z.object({
  definitions: z.array(Definition),
  sites: z.array(PatchSite),
  python: z.string(),
});

/** Every definition of `op` and every call of it under the tree's vllm/; reads only. */
async function scanOp(vllmDir: string, op: string, python: string): Promise<z.infer<typeof ScanAnswer>> {
  return runPython(python, { root: resolve(vllmDir), mode: 'scan', op }, ScanAnswer);
}

/** The kernel a vLLM tree carries for the bundle's op: where it is defined and every call of it. */
export interface TreeKernel {
  /** file defining the op, relative to the tree */
  path: string;
  /** line of its `def` (0 when the file at the bundle's target path defines no function of that name) */
  line: number;
  /** the op's function, qualified by any enclosing class or function */
  symbol: string;
  /** git blob SHA of that file */
  blobSha: string;
  /** every call of the op under vllm/ (tree-native), and any file naming it that cannot be parsed (unmatched) */
  sites: PatchSite[];
  /** every definition of the op's name found, the chosen one first */
  definitions: { file: string; line: number; symbol: string; params: string[] }[];
  /** what the call sites pass the op; undefined when nothing calls it */
  contract?: OpContract;
  /** the file is byte for byte the bundle's own (a tree patched by this tool) */
  sameAsBundle: boolean;
}

/**
 * The tree's own kernel of the bundle's op (`manifest.op`): a file at the op file's target path, or a
 * definition of the op's name anywhere under vllm/ (inline in a model file too). undefined when the tree
 * neither defines nor calls it.
 */
export async function scanTreeKernel(
  vllmDir: string,
  bundleDir: string,
  python: string,
): Promise<TreeKernel | undefined> {
  const root = resolve(vllmDir);
  await assertVllmTree(root);
  const manifest = await loadManifest(bundleDir);
  const op = manifest.op;
  if (!op) {
    throw new PatchError(
      `The bundle at ${bundleDir} names no op in its manifest.json ("op": {"name", "file"}), so the tree's own kernel cannot be looked for. Add it, or use kernel-source bundle.`,
    );
  }
  const opFile = manifest.files.find((f) => f.from === op.file);
  const target = opFile?.to;
  const scan = await scanOp(root, op.name, python);
  const sites = scan.sites.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
  // the bundle's target path first, then module-level definitions, then by path
  const rank = (d: { file: string; symbol: string }) =>
    d.file === target ? 0 : d.symbol.includes('.') ? 2 : 1;
  const definitions = [...scan.definitions].sort(
    (a, b) => rank(a) - rank(b) || a.file.localeCompare(b.file) || a.line - b.line,
  );
  let chosen = definitions[0];
  if (!chosen && target && existsSync(join(root, target)))
    chosen = { file: target, line: 0, symbol: op.name, params: [] };
  if (!chosen) {
    if (sites.length === 0) return undefined;
    const where = sites.map((s) => `${s.file}:${s.line}`).join(', ');
    throw new PatchError(
      `The tree calls ${op.name} (${where}) but defines it nowhere under vllm/ and has no ${target ?? op.file}: it cannot run as it is. Check the checkout, or use kernel-source bundle.`,
    );
  }
  const file = join(root, chosen.file);
  const refused = await treePathRefusal(root, file);
  if (refused) throw new PatchError(`The tree's kernel file ${chosen.file} ${refused}: refused.`);
  const sameAsBundle = opFile !== undefined && (await sameBytes(join(bundleDir, opFile.from), file));
  const contract = opContract(sites, chosen.params);
  return {
    path: relative(root, file),
    line: chosen.line,
    symbol: chosen.symbol,
    blobSha: await blobSha(file),
    sites,
    definitions,
    sameAsBundle,
    ...(contract ? { contract } : {}),
  };
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

/** The git blob SHA of a file, as `git hash-object` gives it (also outside a repository). */
export async function blobSha(file: string): Promise<string> {
  const run = await runCommand('git', ['hash-object', '--', file], { timeoutMs: 60_000 });
  if (run.exitCode !== 0) throw new PatchError(`Cannot hash ${file} with git: ${`${run.stderr}`.trim()}`);
  return `${run.stdout}`.trim();
}

/** Refuses, before anything is written, to replace tree files that differ from the bundle's. */
async function refuseOverwrites(vllmDir: string, bundleDir: string, manifest: Manifest): Promise<void> {
  const clashes: string[] = [];
  for (const file of manifest.files) {
    const from = join(bundleDir, file.from);
    const to = join(vllmDir, file.to);
    if ((await treePathRefusal(vllmDir, to)) || (await treePathRefusal(bundleDir, from))) continue;
    if (!existsSync(to) || !existsSync(from) || (await sameBytes(from, to))) continue;
    clashes.push(
      `${file.to} (tree blob ${await blobSha(to)}, bundle's ${file.from} blob ${await blobSha(from)})`,
    );
  }
  if (clashes.length === 0) return;
  throw new PatchError(
    `Refusing to overwrite ${clashes.length === 1 ? 'a tree file that differs' : 'tree files that differ'} from the bundle: ${clashes.join('; ')}. The tree carries its own version: test it with kernel-source tree (or auto), or pass --force (input force: true) to replace it with the bundle's.`,
  );
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
    // a committed link at (or on the way to) the target would make the copy write outside the tree
    const refused = (await treePathRefusal(vllmDir, to)) ?? (await treePathRefusal(bundleDir, from));
    if (refused) {
      sites.push({
        file: file.to,
        line: 0,
        status: 'unmatched',
        source: '',
        reason: `not written: ${refused}`,
      });
      continue;
    }
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
  // calls of the op in any other form (the tree's own call sites) are reported, never dropped; found before
  // anything is written, so their lines and the rewriter's both count in the tree as it was
  const bundled = new Set(manifest.files.map((f) => f.to));
  const native = manifest.op
    ? (await scanOp(vllmDir, manifest.op.name, opts.python)).sites.filter((s) => !bundled.has(s.file))
    : [];
  // revert rewrites first so the tree never imports a module that is already gone
  let rewrite: RewriterAnswer;
  let files: Awaited<ReturnType<typeof placeFiles>>;
  if (opts.mode === 'revert') {
    rewrite = await runRewriter(vllmDir, manifest, opts.mode, opts.python);
    files = await placeFiles(vllmDir, opts.bundleDir, manifest, opts.mode);
  } else {
    if (!opts.force) await refuseOverwrites(vllmDir, opts.bundleDir, manifest);
    files = await placeFiles(vllmDir, opts.bundleDir, manifest, opts.mode);
    rewrite = await runRewriter(vllmDir, manifest, opts.mode, opts.python);
  }
  const known = new Set([...files.sites, ...rewrite.sites].map((s) => `${s.file}:${s.line}`));
  const sites = [
    ...files.sites,
    ...rewrite.sites,
    ...native.filter((s) => !known.has(`${s.file}:${s.line}`)),
  ].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
  return { sites, copied: files.copied, coveredModels: rewrite.coveredModels, mode: opts.mode };
}

export interface PatchCounts {
  applied: number;
  alreadyApplied: number;
  unmatched: number;
  missingFiles: number;
  treeNative: number;
}

export function countSites(patch: Patch): PatchCounts {
  const count = (status: PatchSite['status']) => patch.sites.filter((s) => s.status === status).length;
  return {
    applied: count('applied'),
    alreadyApplied: count('already-applied'),
    unmatched: count('unmatched'),
    missingFiles: count('missing-file'),
    treeNative: count('tree-native'),
  };
}
