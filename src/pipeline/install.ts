// Step install: existing (verify `import vllm`), precompiled (vLLM's Python-only editable install), or none.
import { lstat, mkdir, readdir, readFile, realpath, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { InstallMethod } from '../config.js';
import { isInside } from '../security/files.js';
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
  /** the tree first on PYTHONPATH makes it so (an installed release with the tree's version, its binaries linked in) */
  pythonPath?: string;
  /** the installed package whose build products were linked into the tree (and go into a base worktree too) */
  buildProductsFrom?: string;
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

/** pip's frame around a build's own output ("error: subprocess-exited-with-error", "× …", "│ …", "note: …"). */
const PIP_FRAME = /^\s*(note:|hint:|error: subprocess-exited-with-error|[×│╰]|\[end of output\])/;

function lastError(output: string): string {
  const lines = output
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('$ ') && !l.startsWith('[') && !PIP_FRAME.test(l));
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
    throw skip('install: none (vLLM is not installed; the tests load the kernel under test from its file)');
  if (o.method === 'existing') {
    const installed = await verifyImport(step, o);
    return installed.fromTree || !o.vllmDir ? installed : overlayTree(step, o, o.vllmDir, installed);
  }
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
  // the build runs the tree's setup.py (or its pyproject's backend): sandboxed, writing only the tree and where
  // this interpreter installs, on the host's network for the wheels
  const sandbox = step.sandbox({
    writable: [o.vllmDir, ...(await installPaths(step, o))],
    readable: [join(o.vllmDir, '.git')],
    network: 'host',
  });
  for (const [file, ...args] of precompiledCommands(o.python, o.rocm, uv.exitCode === 0)) {
    const r = await step.run(file, args, { cwd: o.vllmDir, env, timeoutMs: o.timeoutMs, sandbox });
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

const INSTALL_PATHS =
  "import sysconfig; p = sysconfig.get_paths(); print('\\n'.join(p[k] for k in ('data', 'purelib', 'platlib', 'scripts')))";

/** Where pip writes for this interpreter (a venv: its root; else its scheme's paths, e.g. under /usr/local). */
async function installPaths(step: StepHandle, o: InstallOptions): Promise<string[]> {
  const r = await step.run(o.python, ['-c', INSTALL_PATHS], {
    env: o.env,
    timeoutMs: 60_000,
    cwd: '/',
    sandbox: step.sandbox({ writable: [] }),
  });
  if (r.exitCode !== 0) throw fail(`${o.python} could not say where it installs: ${lastError(r.output)}`);
  return outermost(r.stdout.split('\n').filter((p) => p.startsWith('/')));
}

/** The paths not inside another of them, in order. */
function outermost(paths: string[]): string[] {
  const unique = [...new Set(paths)];
  return unique.filter((p) => !unique.some((q) => q !== p && isInside(p, q)));
}

/** `__version__ = version = '0.33.0'` in the tree's vllm/_version.py, as published (the build rewrites it). */
async function versionOfTree(vllmDir: string): Promise<string | undefined> {
  const text = await readFile(join(vllmDir, 'vllm', '_version.py'), 'utf8').catch(() => '');
  return /^__version__ = version = '([^']+)'/m.exec(text)?.[1];
}

/**
 * An installed vLLM release of the tree's own version serves the tree's Python: its build products (what the
 * installed package holds and the tree lacks: compiled extensions, files the build generates) are linked into
 * the tree, as an editable precompiled install copies them, and the tree goes first on PYTHONPATH. Another
 * version's binaries are not borrowed: then vLLM keeps importing from the install, and the e2e says so.
 */
async function overlayTree(
  step: StepHandle,
  o: InstallOptions,
  vllmDir: string,
  installed: Installed,
): Promise<Installed> {
  const treeVersion = await versionOfTree(vllmDir);
  if (treeVersion !== installed.vllmVersion) {
    await step.log(
      `the tree is vLLM ${treeVersion ?? '(no vllm/_version.py)'}, the install ${installed.vllmVersion}: its binaries are not borrowed`,
    );
    return installed;
  }
  const linked = await linkBuildProducts(installed.vllmPath, join(vllmDir, 'vllm'));
  await step.log(`linked ${linked} build products of ${installed.vllmPath} into ${vllmDir}/vllm`);
  const pythonPath = [vllmDir, o.env.PYTHONPATH].filter(Boolean).join(':');
  const again = await verifyImport(step, { ...o, env: { ...o.env, PYTHONPATH: pythonPath } });
  if (!again.fromTree)
    throw fail(`with ${vllmDir} first on PYTHONPATH, vllm still imports from ${again.vllmPath}`);
  return { ...again, pythonPath: vllmDir, buildProductsFrom: installed.vllmPath };
}

/** Links every file of `installedPkg` that `treePkg` lacks (bytecode aside) into it; returns how many. */
export async function linkBuildProducts(installedPkg: string, treePkg: string): Promise<number> {
  let linked = 0;
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(join(installedPkg, rel), { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (entry.name === '__pycache__' || entry.name.endsWith('.pyc')) continue;
      const path = join(rel, entry.name);
      const inTree = await lstat(join(treePkg, path)).catch(() => undefined);
      if (entry.isDirectory()) {
        if (!inTree) {
          await symlink(join(installedPkg, path), join(treePkg, path));
          linked++;
        } else if (inTree.isDirectory()) await walk(path);
      } else if (!inTree) {
        await mkdir(dirname(join(treePkg, path)), { recursive: true });
        await symlink(join(installedPkg, path), join(treePkg, path));
        linked++;
      }
    }
  };
  await walk('');
  return linked;
}
