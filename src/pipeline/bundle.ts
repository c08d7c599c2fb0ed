// The kernel bundle: where it is (a name under this action's kernels/ or a path) and the hash of its files.
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { toolRoot } from '../root.js';

/**
 * The one bundle resolver (patch and validate alike): a path (holding / or \\, or starting with .) is a
 * bundle directory; a bare name is a bundle under the action's kernels/, else a directory of that name here.
 */
export async function resolveBundle(bundle: string, root = toolRoot()): Promise<string> {
  const isPath = /[/\\]/.test(bundle) || bundle.startsWith('.');
  const candidates = isPath ? [resolve(bundle)] : [join(root, 'kernels', bundle), resolve(bundle)];
  for (const dir of candidates) {
    const s = await stat(dir).catch(() => undefined);
    if (s?.isDirectory()) return dir;
  }
  const known = await readdir(join(root, 'kernels'), { withFileTypes: true }).catch(() => []);
  const names: string[] = [];
  // a bundle is a folder with a manifest; kernels/ also holds the shared Python (arm_probe/)
  for (const e of known)
    if (
      e.isDirectory() &&
      (await stat(join(root, 'kernels', e.name, 'manifest.json')).catch(() => undefined))
    )
      names.push(e.name);
  const looked = candidates.join(' or ');
  throw new Error(
    `Invalid bundle '${bundle}'. Expected a bundle name under kernels/ (${names.join(', ') || 'none yet'}) or a path to a bundle directory (one holding manifest.json); there is no directory at ${looked}.`,
  );
}

const IGNORED = /(^|\/)(__pycache__|\.pytest_cache|\.ruff_cache|\.mypy_cache)(\/|$)|\.pyc$/;

/** sha256 over every file of the bundle (relative path and content, in path order). */
export async function bundleHash(dir: string): Promise<string> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  const files = entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .filter((f) => !IGNORED.test(f))
    .sort();
  const hash = createHash('sha256');
  for (const f of files) {
    hash.update(`${f}\0`);
    hash.update(await readFile(join(dir, f)));
    hash.update('\0');
  }
  return hash.digest('hex');
}
