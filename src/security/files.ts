// Files a pull request may have planted: read and copied only when regular, small, and really inside the tree;
// the tool's own outputs written without following links.
import { constants } from 'node:fs';
import { lstat, open, readdir, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';

/** Largest tree file the scanner, the patch and the bundle copy read: vLLM's biggest source file is ~0.3 MB. */
export const MAX_TREE_FILE_BYTES = 8 * 1024 * 1024;
/** Largest output of a sandboxed command the tool reads back (JUnit, JSON). */
export const MAX_OUTPUT_FILE_BYTES = 64 * 1024 * 1024;

export class HostileFileError extends Error {}

/** Why `path` may not be read as a file of the tree `root`, or undefined when it may. */
export async function refusal(
  path: string,
  root: string,
  maxBytes = MAX_TREE_FILE_BYTES,
): Promise<string | undefined> {
  const info = await lstat(path).catch(() => undefined);
  if (!info) return 'does not exist';
  if (info.isSymbolicLink()) return 'is a symbolic link';
  if (!info.isFile()) return 'is not a regular file';
  if (info.size > maxBytes) return `is larger than ${maxBytes} bytes (${info.size})`;
  const [real, realRoot] = await Promise.all([realpath(path), realpath(root)]);
  if (!isInside(real, realRoot)) return `leaves the tree (its real path is ${real})`;
  return undefined;
}

/** Whether `path` is `root` or inside it (both absolute). */
export function isInside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/**
 * Why the tree path `path` (existing or to be created) may not be read or written: a link on the way or at it,
 * or an existing entry that is not a small regular file. undefined when it may.
 */
export async function treePathRefusal(
  root: string,
  path: string,
  maxBytes = MAX_TREE_FILE_BYTES,
): Promise<string | undefined> {
  const rel = relative(root, path);
  if (rel.startsWith('..') || isAbsolute(rel)) return 'is outside the tree';
  let current = root;
  for (const part of rel.split(sep)) {
    current = join(current, part);
    const info = await lstat(current).catch(() => undefined);
    if (!info) return undefined; // created from here on, inside real directories
    if (info.isSymbolicLink()) return `${relative(root, current)} is a symbolic link`;
    if (current !== path && !info.isDirectory()) return `${relative(root, current)} is not a directory`;
    if (current === path && !info.isFile()) return 'is not a regular file';
    if (current === path && info.size > maxBytes) return `is larger than ${maxBytes} bytes (${info.size})`;
  }
  return undefined;
}

/** Reads a file of the tree `root`; throws HostileFileError naming the path and why it is refused. */
export async function readTreeFile(
  path: string,
  root: string,
  maxBytes = MAX_TREE_FILE_BYTES,
): Promise<Buffer> {
  const why = await refusal(path, root, maxBytes);
  if (why) throw new HostileFileError(`${relative(root, path) || path} ${why}: refused`);
  return readNoFollow(path, maxBytes);
}

/** Reads a regular file without following a link at its last component, at most maxBytes. */
export async function readNoFollow(path: string, maxBytes = MAX_OUTPUT_FILE_BYTES): Promise<Buffer> {
  // O_NONBLOCK: a FIFO swapped in after the check does not block the open
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(
    (error: NodeJS.ErrnoException) => {
      throw new HostileFileError(`${path}: ${error.code === 'ELOOP' ? 'is a symbolic link' : error.message}`);
    },
  );
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new HostileFileError(`${path} is not a regular file: refused`);
    if (info.size > maxBytes) throw new HostileFileError(`${path} is larger than ${maxBytes} bytes: refused`);
    const buffer = Buffer.alloc(info.size);
    const { bytesRead } = await handle.read(buffer, 0, info.size, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Writes a file of the tool's output, replacing a regular file, refusing to follow a link there. */
/**
 * What a sandboxed command wrote into its step's scratch: read without following a link (empty when nothing
 * readable is there), kept at `keep` when there is something, and returned as text.
 */
export async function takeOutput(written: string, keep: string): Promise<string> {
  const raw = await readNoFollow(written).catch(() => Buffer.from(''));
  if (raw.length > 0) await writeNoFollow(keep, raw);
  return raw.toString('utf8');
}

export async function writeNoFollow(path: string, data: string | Uint8Array): Promise<void> {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;
  const handle = await open(path, flags, 0o644).catch((error: NodeJS.ErrnoException) => {
    throw new HostileFileError(
      `Cannot write ${path}: ${error.code === 'ELOOP' ? 'it is a symbolic link' : error.message}`,
    );
  });
  try {
    await handle.writeFile(data);
  } finally {
    await handle.close();
  }
}

/** Refuses an output directory that holds a link or anything but directories and regular files. */
export async function assertPlainDirectory(dir: string): Promise<void> {
  const top = await lstat(dir).catch(() => undefined);
  if (!top) return;
  if (!top.isDirectory()) throw new HostileFileError(`Output directory ${dir} is not a directory: refused.`);
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isDirectory() || entry.isFile()) continue;
    const what = entry.isSymbolicLink() ? 'a symbolic link' : 'not a regular file';
    throw new HostileFileError(
      `Output directory ${dir} holds ${join(entry.parentPath, entry.name)}, ${what}: refused. Use a fresh output-dir.`,
    );
  }
}

/** Where validate writes when output-dir is left at its default: outside the checkout, under RUNNER_TEMP in Actions. */
export function defaultOutputDir(
  value: string,
  defaultValue: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): string {
  if (value === defaultValue && env.RUNNER_TEMP) return resolve(env.RUNNER_TEMP, value);
  return resolve(value);
}
