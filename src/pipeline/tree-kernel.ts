// Where a vLLM tree defines and calls the bundle's op. A line scan standing in for the patch engine's
// scanTreeKernel (same signature and answer), so the pipeline can switch to it by changing one import.
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { execa } from 'execa';
import type { PatchSite } from '../results/run-result.js';

export interface TreeKernel {
  /** file defining the op, relative to the tree; '' when the tree only calls it */
  path: string;
  line: number;
  symbol: string;
  /** git blob SHA of that file */
  blobSha: string;
  /** every call of the op under vllm/, status tree-native */
  sites: PatchSite[];
}

export interface BundleOp {
  /** the op's public function */
  name: string;
  /** the bundle file defining it */
  file: string;
  /** where the manifest puts that file in a vLLM tree */
  to: string;
}

/** The op a bundle provides: the manifest's `op`, else its name and its first non-test Python file. */
export async function bundleOp(bundleDir: string): Promise<BundleOp> {
  const raw = JSON.parse(await readFile(join(bundleDir, 'manifest.json'), 'utf8')) as {
    name: string;
    op?: { name?: string; file?: string };
    files?: { from: string; to: string }[];
  };
  const files = raw.files ?? [];
  const file =
    raw.op?.file ??
    files.find((f) => f.from.endsWith('.py') && !/^(test_|benchmark_|e2e_)/.test(f.from))?.from;
  const placed = files.find((f) => f.from === file);
  if (!file || !placed)
    throw new Error(
      `${bundleDir}/manifest.json names no Python file defining the op ${raw.op?.name ?? raw.name}`,
    );
  return { name: raw.op?.name ?? raw.name, file, to: placed.to };
}

/** git's blob SHA of a file, as `git hash-object` gives it. */
export async function blobSha(file: string): Promise<string> {
  const r = await execa('git', ['hash-object', '--', file], { reject: false });
  if (r.exitCode !== 0) throw new Error(`git hash-object ${file} failed: ${r.stderr}`);
  return `${r.stdout}`.trim();
}

async function pythonFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.py'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** Class.method (or function) holding line `index`, from the indentation of the lines above it. */
function enclosingSymbol(lines: string[], index: number): string | undefined {
  const names: string[] = [];
  let indent = lines[index].search(/\S/);
  for (let i = index - 1; i >= 0 && indent > 0; i--) {
    const m = /^(\s*)(?:async\s+)?(?:def|class)\s+(\w+)/.exec(lines[i]);
    if (m && m[1].length < indent) {
      names.unshift(m[2]);
      indent = m[1].length;
    }
  }
  return names.length > 0 ? names.join('.') : undefined;
}

export async function scanTreeKernel(
  vllmDir: string,
  bundleDir: string,
  _python: string,
): Promise<TreeKernel | undefined> {
  const op = await bundleOp(bundleDir);
  const definition = new RegExp(`^def\\s+${op.name}\\s*\\(`);
  const call = new RegExp(`\\b${op.name}\\s*\\(`);
  let found: { path: string; line: number } | undefined;
  const sites: PatchSite[] = [];
  for (const file of await pythonFiles(join(vllmDir, 'vllm'))) {
    const text = await readFile(file, 'utf8');
    if (!text.includes(op.name)) continue;
    const path = relative(vllmDir, file);
    const lines = text.split('\n');
    lines.forEach((line, i) => {
      if (definition.test(line)) {
        // the bundle's target path wins over a second definition elsewhere
        if (!found || path === op.to) found = { path, line: i + 1 };
      } else if (call.test(line) && !/^\s*(#|def\s)/.test(line)) {
        const symbol = enclosingSymbol(lines, i);
        // the op's own body (e.g. the wrapper calling its registered custom op) is not a call site
        if (symbol === op.name || symbol?.startsWith(`${op.name}.`)) return;
        sites.push({
          file: path,
          line: i + 1,
          status: 'tree-native',
          source: line,
          ...(symbol ? { symbol } : {}),
        });
      }
    });
  }
  if (!found && sites.length === 0) return undefined;
  return {
    path: found?.path ?? '',
    line: found?.line ?? 0,
    symbol: op.name,
    blobSha: found ? await blobSha(join(vllmDir, found.path)) : '',
    sites,
  };
}
