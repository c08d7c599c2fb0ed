// The compile step: the op's kernels compiled for AMD and NVIDIA targets (kernels/compile_matrix.py), on any
// runner, the CPU included. A configuration that does not compile or spills fails the step, named.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CompileMatrix, CompileTarget } from '../results/compile-matrix.js';
import {
  compileFailures,
  parseCompileMatrix,
  unavailableTargets,
} from '../results/parsers/compile-matrix.js';
import type { RunResult } from '../results/run-result.js';
import { takeOutput } from '../security/files.js';
import { fail, type StepHandle, skip } from './step.js';

export const COMPILE_TIMEOUT_MS = 20 * 60_000;

export interface CompileOptions {
  result: RunResult;
  python: string;
  bundleDir: string;
  /** root of the action: kernels/compile_matrix.py lives there */
  root: string;
  env: Record<string, string | undefined>;
  /** PATH::SYMBOL of the kernel under test; default: the bundle's op file */
  impl?: string;
  /** gfx950, sm_90, …; empty: skip the step; default: every target the matrix knows */
  targets?: readonly string[];
  /** the grid's hidden sizes and dtypes; default: the conformance grid's */
  k?: readonly number[];
  dtypes?: readonly string[];
  timeoutMs?: number;
}

interface BundleManifest {
  name?: string;
  op?: { name?: string; file?: string };
  files?: { from: string; to: string }[];
}

/** PATH::SYMBOL of the bundle's op: the manifest's `op`, else its one file copied under vllm/. */
export async function bundleImplSpec(bundleDir: string): Promise<string | undefined> {
  const text = await readFile(join(bundleDir, 'manifest.json'), 'utf8').catch(() => '');
  if (!text) return undefined;
  const manifest = JSON.parse(text) as BundleManifest;
  const file =
    manifest.op?.file ??
    manifest.files?.find((f) => /^vllm\/.*\.py$/.test(f.to) && !/(^|\/)test_/.test(f.from))?.from;
  const symbol = manifest.op?.name ?? manifest.name;
  return file && symbol ? `${join(bundleDir, file)}::${symbol}` : undefined;
}

function targetLine(t: CompileTarget): string {
  if (t.status === 'unavailable') return `${t.target.padEnd(7)} unavailable: ${t.reason ?? ''}`;
  const regs = t.configs.map((c) => c.registers).filter((r): r is number => typeof r === 'number');
  const range = regs.length ? `${Math.min(...regs)}–${Math.max(...regs)}` : '?';
  const wide = t.configs.filter((c) => c.vector16).length;
  const secs = t.configs.reduce((s, c) => s + c.compileSeconds, 0);
  return (
    `${t.target.padEnd(7)} ${t.status.padEnd(6)} ${t.configs.length} configs, registers ${range}, ` +
    `16-byte loads/stores in ${wide}/${t.configs.length}, compiled in ${secs.toFixed(1)} s`
  );
}

/** Runs the compile matrix, records it in the RunResult, and ends the step failed naming what failed. */
export async function compileStep(step: StepHandle, o: CompileOptions): Promise<CompileMatrix> {
  if (o.targets?.length === 0) throw skip('compile-targets: none');
  const impl = o.impl ?? (await bundleImplSpec(o.bundleDir));
  if (!impl) throw skip('the bundle names no kernel file (manifest "op", or a file copied under vllm/)');
  const script = join(o.root, 'kernels', 'compile_matrix.py');
  // the sandboxed matrix writes into the step's scratch; the tool reads and keeps it after the sandbox is gone
  const json = join(step.scratch, 'compile-matrix.json');
  const args = [script, '--impl', impl, '--json', json];
  if (o.targets?.length) args.push('--targets', o.targets.join(','));
  if (o.k?.length) args.push('--k', o.k.join(','));
  if (o.dtypes?.length) args.push('--dtypes', o.dtypes.join(','));
  const timeoutMs = o.timeoutMs ?? COMPILE_TIMEOUT_MS;
  await step.log(`compiling ${impl}`);
  const r = await step.run(o.python, args, {
    cwd: join(o.root, 'kernels'),
    env: o.env,
    timeoutMs,
    sandbox: step.sandbox({ writable: [] }),
  });
  if (r.timedOut) throw new Error(`compile_matrix.py timed out after ${Math.round(timeoutMs / 1000)} s`);
  if (r.spawnError) throw fail(`cannot start ${o.python}: ${r.spawnError}`);
  if (r.exitCode !== 0) {
    const last = r.output.trim().split('\n').at(-1) ?? '';
    throw fail(`compile_matrix.py exited ${r.exitCode ?? r.signal}: ${last}`);
  }
  const matrix = parseCompileMatrix(
    await takeOutput(json, join(step.outDir, 'compile-matrix.json')),
    'compile-matrix.json',
  );
  o.result.compile = matrix;
  for (const t of matrix.targets) await step.log(targetLine(t));
  const failures = compileFailures(matrix);
  const total = matrix.targets.reduce((n, t) => n + t.configs.length, 0);
  if (failures.length > 0) {
    const more = failures.length > 3 ? `; and ${failures.length - 3} more` : '';
    step.finish(
      'failed',
      `${failures.length} of ${total} configurations fail: ${failures.slice(0, 3).join('; ')}${more}`,
    );
  } else if (total === 0) {
    // the probe's limit, not the kernel's fault: e.g. an op that launches only for CUDA tensors
    step.finish('not-available', `nothing compiled: ${unavailableTargets(matrix).join('; ')}`);
  }
  return matrix;
}
