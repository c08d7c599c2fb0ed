// Step install: existing (verify `import vllm`), precompiled (vLLM's Python-only editable install), or none.
import { readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import type { InstallMethod } from '../config.js';
import { fail, type StepHandle, skip } from './step.js';

export interface InstallOptions {
  method: InstallMethod;
  python: string;
  vllmDir?: string;
  /** from a quick look for ROCm tools: selects vLLM's ROCm variant of the install */
  rocm: boolean;
  env: Record<string, string | undefined>;
  timeoutMs: number;
  /** the release wheel whose binaries a tree without upstream git history (vLLM from PyPI) must use */
  releaseWheel?: () => Promise<string>;
}

export interface Installed {
  vllmVersion: string;
  /** where `import vllm` resolved, to tell the checked-out tree from a site-packages copy */
  vllmPath: string;
  /** whether that is the checked-out (patched) tree: only then does vLLM run the bundle's code */
  fromTree: boolean;
}

const IMPORT_VLLM = 'import os, vllm; print(vllm.__version__); print(os.path.dirname(vllm.__file__))';

async function verifyImport(step: StepHandle, o: InstallOptions): Promise<Installed> {
  // importing vLLM runs the tree's __init__: sandboxed like every other run of its code
  const r = await step.run(o.python, ['-c', IMPORT_VLLM], {
    env: o.env,
    timeoutMs: o.timeoutMs,
    cwd: '/',
    sandbox: step.sandbox({ writable: [] }),
  });
  if (r.exitCode !== 0) {
    throw fail(
      `'import vllm' failed in ${o.python}${r.timedOut ? ' (timed out)' : ''}: ${lastError(r.output)}. ` +
        'With install: existing the runner must already have vLLM; or use install: precompiled.',
    );
  }
  const [version, path] = r.stdout.trim().split('\n').slice(-2);
  const vllmPath = (path ?? '').trim();
  const fromTree = o.vllmDir !== undefined && (await sameDir(vllmPath, join(o.vllmDir, 'vllm')));
  await step.log(
    `vllm ${version} imports from ${vllmPath}${fromTree ? ' (the checked-out tree)' : `, not from the checked-out tree ${o.vllmDir ?? ''}`}`,
  );
  return { vllmVersion: version.trim(), vllmPath, fromTree };
}

async function sameDir(a: string, b: string): Promise<boolean> {
  const real = (p: string) => realpath(p).catch(() => p);
  return (await real(a)) === (await real(b));
}

function lastError(output: string): string {
  const lines = output.split('\n').filter((l) => l.trim() && !l.startsWith('$ ') && !l.startsWith('['));
  return lines.at(-1)?.trim() ?? 'no output';
}

/** The install commands vLLM documents for a Python-only change (docs/getting_started/installation/gpu.*.inc.md). */
export function precompiledCommands(python: string, rocm: boolean, hasUv: boolean): string[][] {
  if (rocm) return [[python, 'setup.py', 'develop']];
  const install = hasUv
    ? ['uv', 'pip', 'install', '--python', python, '--editable', '.', '--torch-backend=auto']
    : [python, '-m', 'pip', 'install', '--editable', '.'];
  return [install, [python, '-m', 'vllm.entrypoints.cli.main', 'download-kernels']];
}

export async function install(step: StepHandle, o: InstallOptions): Promise<Installed | undefined> {
  if (o.method === 'none')
    throw skip('install: none (vLLM is not installed; kernel tests run from the bundle)');
  if (o.method === 'existing') return verifyImport(step, o);
  if (!o.vllmDir)
    throw fail('install: precompiled needs the checked-out vLLM tree, and checkout did not give one');
  const uv = await step.run('uv', ['--version'], { env: o.env, timeoutMs: 30_000 });
  const env: Record<string, string | undefined> = { ...o.env, VLLM_USE_PRECOMPILED: '1' };
  // setup.py finds the wheel through upstream history; without it, it takes the nightly wheel
  if (o.releaseWheel && !o.rocm) {
    env.VLLM_PRECOMPILED_WHEEL_LOCATION = await o.releaseWheel();
    await step.log(
      `VLLM_PRECOMPILED_WHEEL_LOCATION=${env.VLLM_PRECOMPILED_WHEEL_LOCATION} (the release's own wheel)`,
    );
  }
  const treeVersion = await versionOfTree(o.vllmDir);
  for (const [file, ...args] of precompiledCommands(o.python, o.rocm, uv.exitCode === 0)) {
    const r = await step.run(file, args, { cwd: o.vllmDir, env, timeoutMs: o.timeoutMs });
    if (r.exitCode === 0) continue;
    const why = `VLLM_USE_PRECOMPILED=1 ${r.command} ${r.timedOut ? 'timed out' : `failed: ${lastError(r.output)}`}`;
    // vLLM treats these kernels as optional, and their index may be out of the runner's reach
    if (args.includes('download-kernels')) await step.log(`warning: ${why}; going on without them`);
    else throw fail(why);
  }
  const installed = await verifyImport(step, o);
  if (treeVersion && treeVersion !== installed.vllmVersion) {
    await step.log(
      `recording the tree's version ${treeVersion}: the build rewrote vllm/_version.py to ${installed.vllmVersion}`,
    );
    return { ...installed, vllmVersion: treeVersion };
  }
  return installed;
}

/** `__version__ = version = '0.33.0'` in the tree's vllm/_version.py, as published (the build rewrites it). */
async function versionOfTree(vllmDir: string): Promise<string | undefined> {
  const text = await readFile(join(vllmDir, 'vllm', '_version.py'), 'utf8').catch(() => '');
  return /^__version__ = version = '([^']+)'/m.exec(text)?.[1];
}
