// vLLM's source as published on PyPI: the sdist of one release, verified by its sha256, cached and extracted once.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { access, cp, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { runCommand } from '../pipeline/process.js';

export const PYPI_JSON_API = 'https://pypi.org/pypi';

export interface FetchVllmOptions {
  /** where tarballs and extracted trees live; default `~/.cache/vllm-kernel-ci/pypi` */
  cacheDir?: string;
  /** PyPI's JSON API root; a mirror that serves the same API works too */
  indexUrl?: string;
  /** progress lines (download, extraction); silent by default */
  log?: (message: string) => void;
}

/** One release file as PyPI's JSON API describes it. */
interface ReleaseFile {
  filename: string;
  packagetype: string;
  url: string;
  size?: number;
  digests: { sha256: string };
  yanked?: boolean;
}

export class PypiError extends Error {}

const HOW_TO_LIST =
  'List the published versions with `pip index versions vllm` or at https://pypi.org/project/vllm/#history.';

/** The cache root shared with scripts/python-env.sh: $VLLM_KERNEL_CI_CACHE, else $XDG_CACHE_HOME or ~/.cache. */
export function defaultCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.VLLM_KERNEL_CI_CACHE) return env.VLLM_KERNEL_CI_CACHE;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'vllm-kernel-ci');
}

export function defaultPypiCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(defaultCacheRoot(env), 'pypi');
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function getJson(url: string): Promise<{ status: number; body?: unknown }> {
  let response: Response;
  try {
    response = await fetch(url, { headers: { accept: 'application/json' } });
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
    throw new PypiError(`Cannot reach ${url}${cause}. Check the network or pass a mirror as indexUrl.`);
  }
  if (response.status === 404) return { status: 404 };
  if (!response.ok) throw new PypiError(`${url} answered HTTP ${response.status}. Try again later.`);
  return { status: response.status, body: await response.json() };
}

function pickSdist(
  files: ReleaseFile[],
  version: string,
  where: string,
): ReleaseFile & { absoluteUrl: string } {
  const sdist = files.find((f) => f.packagetype === 'sdist' && f.filename.endsWith('.tar.gz'));
  if (!sdist) {
    throw new PypiError(
      `vLLM ${version} has no source distribution (.tar.gz) on PyPI, only ${files.map((f) => f.filename).join(', ') || 'no files'}. Pick a release with an sdist. ${HOW_TO_LIST}`,
    );
  }
  if (!/^[0-9a-f]{64}$/.test(sdist.digests?.sha256 ?? '')) {
    throw new PypiError(
      `PyPI lists no sha256 for ${sdist.filename}; refusing to use an unverifiable download.`,
    );
  }
  // some mirrors give URLs relative to the JSON document
  return { ...sdist, absoluteUrl: new URL(sdist.url, where).href };
}

function newestVersions(releases: Record<string, unknown>, count: number): string[] {
  const key = (v: string) => v.split(/[.+-]/).map((p) => (/^\d+$/.test(p) ? Number(p) : -1));
  const compare = (a: string, b: string) => {
    const [x, y] = [key(a), key(b)];
    for (let i = 0; i < Math.max(x.length, y.length); i++) {
      const d = (x[i] ?? -2) - (y[i] ?? -2);
      if (d !== 0) return d;
    }
    return 0;
  };
  return Object.keys(releases).sort(compare).slice(-count).reverse();
}

/** Finds the sdist of one vLLM release through PyPI's JSON API (the release's own document, else the project's). */
async function findSdist(version: string, indexUrl: string) {
  const releaseUrl = `${indexUrl}/vllm/${encodeURIComponent(version)}/json`;
  const release = await getJson(releaseUrl);
  if (release.status !== 404) {
    const files = (release.body as { urls?: ReleaseFile[] }).urls ?? [];
    return pickSdist(files, version, releaseUrl);
  }
  // mirrors that serve only the project document still list every release in it
  const projectUrl = `${indexUrl}/vllm/json`;
  const project = await getJson(projectUrl);
  const releases = (project.body as { releases?: Record<string, ReleaseFile[]> } | undefined)?.releases ?? {};
  if (!(version in releases)) {
    const newest = newestVersions(releases, 5);
    const hint = newest.length > 0 ? ` The newest are: ${newest.join(', ')}.` : '';
    throw new PypiError(`vLLM ${version} is not published on PyPI.${hint} ${HOW_TO_LIST}`);
  }
  return pickSdist(releases[version], version, projectUrl);
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

const megabytes = (bytes: number) => (bytes / 1e6).toFixed(1);

/** Counts downloaded bytes and logs `downloaded X of Y MB` at most every 30 s: a slow mirror shows it is moving. */
export function downloadProgress(
  size: number | undefined,
  log: (m: string) => void,
  everyMs = 30_000,
  now: () => number = () => performance.now(),
): (bytes: number) => void {
  let done = 0;
  let last = now();
  return (bytes) => {
    done += bytes;
    if (now() - last < everyMs) return;
    last = now();
    log(`downloaded ${megabytes(done)}${size ? ` of ${megabytes(size)}` : ''} MB`);
  };
}

async function download(
  url: string,
  target: string,
  sha256: string,
  log: (m: string) => void,
  size?: number,
): Promise<void> {
  log(`downloading ${url}${size ? ` (${megabytes(size)} MB)` : ''}`);
  const progress = downloadProgress(size, log);
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
    throw new PypiError(`Cannot download ${url}${cause}. Check the network and try again.`);
  }
  if (!response.ok || !response.body) throw new PypiError(`${url} answered HTTP ${response.status}.`);
  // a unique partial name lets concurrent fetches of one release race safely; rename is atomic
  const partial = `${target}.${process.pid}-${randomBytes(4).toString('hex')}.part`;
  const hash = createHash('sha256');
  const hashing = new Transform({
    transform(chunk, _encoding, done) {
      hash.update(chunk);
      progress(chunk.length);
      done(null, chunk);
    },
  });
  try {
    await pipeline(
      Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>),
      hashing,
      createWriteStream(partial),
    );
    const actual = hash.digest('hex');
    if (actual !== sha256) {
      throw new PypiError(
        `${url} has sha256 ${actual}, but PyPI lists ${sha256}: the download is corrupt or was altered. Try again; if it persists, report it.`,
      );
    }
    await rename(partial, target);
  } finally {
    await rm(partial, { force: true });
  }
}

/**
 * Returns the path of vLLM `version`'s source tree as published on PyPI (its sdist, extracted).
 * Read-only by convention: callers copy it before changing anything. A second call is offline.
 */
export async function fetchVllmSource(version: string, opts: FetchVllmOptions = {}): Promise<string> {
  if (!/^[0-9A-Za-z][0-9A-Za-z.+!_-]*$/.test(version)) {
    throw new PypiError(
      `Invalid vLLM version '${version}'. Expected a release such as 0.19.1. ${HOW_TO_LIST}`,
    );
  }
  const cacheDir = opts.cacheDir ?? defaultPypiCacheDir();
  const indexUrl = (opts.indexUrl ?? PYPI_JSON_API).replace(/\/+$/, '');
  const log = opts.log ?? (() => {});
  const tree = join(cacheDir, `vllm-${version}`);
  const complete = `${tree}.complete`;
  if ((await exists(complete)) && (await exists(tree))) return tree;

  await mkdir(cacheDir, { recursive: true });
  const sdist = await findSdist(version, indexUrl);
  const tarball = join(cacheDir, sdist.filename);
  if (!(await exists(tarball)) || (await sha256Of(tarball)) !== sdist.digests.sha256) {
    await download(sdist.absoluteUrl, tarball, sdist.digests.sha256, log, sdist.size);
  }

  log(`extracting ${sdist.filename}`);
  const staging = join(cacheDir, `.extract-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(staging);
  try {
    // --no-same-owner, no absolute names (tar's default): the archive writes only under staging
    const tar = await runCommand('tar', ['--no-same-owner', '-xzf', tarball, '-C', staging], {
      timeoutMs: 600_000,
    });
    if (tar.exitCode !== 0) {
      throw new PypiError(
        `Cannot extract ${tarball} with tar: ${tar.stderr.trim() || `exit ${tar.exitCode}`}.`,
      );
    }
    const top = await readdir(staging);
    if (top.length !== 1) {
      throw new PypiError(`${sdist.filename} should hold one top-level folder, found: ${top.join(', ')}.`);
    }
    // another process finished the same extraction first: its tree is as good as ours, and may be in use
    if (await exists(complete)) return tree;
    await rm(tree, { recursive: true, force: true });
    await rename(join(staging, top[0]), tree);
    await writeFile(complete, `${sdist.digests.sha256}\n`);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return tree;
}

/** The sdist's sha256 of an extracted tree fetchVllmSource made (it sits in `<tree>.complete`); undefined else. */
export async function sdistSha256(tree: string): Promise<string | undefined> {
  const text = await readFile(`${tree}.complete`, 'utf8').catch(() => '');
  return /^[0-9a-f]{64}$/.exec(text.trim())?.[0];
}

// no user or system config (signing, autocrlf, hooks), one identity and one date: one commit SHA on every machine
const REPRODUCIBLE_GIT_ENV = {
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 'vllm-kernel-ci',
  GIT_AUTHOR_EMAIL: 'vllm-kernel-ci@localhost',
  GIT_AUTHOR_DATE: '2000-01-01T00:00:00Z',
  GIT_COMMITTER_NAME: 'vllm-kernel-ci',
  GIT_COMMITTER_EMAIL: 'vllm-kernel-ci@localhost',
  GIT_COMMITTER_DATE: '2000-01-01T00:00:00Z',
};
const REPRODUCIBLE_GIT_CONFIG = ['-c', 'core.autocrlf=false', '-c', 'core.fileMode=true', '-c', 'gc.auto=0'];

export interface SdistRepositoryOptions {
  version: string;
  /** the sdist's sha256, named in the commit message */
  sha256?: string;
  /** git config commands run in the new repository first, e.g. no background gc */
  settings?: readonly (readonly string[])[];
  env?: Record<string, string | undefined>;
}

/**
 * Makes `repo` a git repository of the extracted sdist at `source`: one commit, tagged v<version>, with the
 * same SHA on every machine (fixed identity and dates, every file in path order, the sdist's sha256 in the
 * message). Returns the commit SHA.
 */
export async function sdistRepository(
  source: string,
  repo: string,
  o: SdistRepositoryOptions,
): Promise<string> {
  await rm(repo, { recursive: true, force: true });
  await mkdir(repo, { recursive: true });
  await cp(source, repo, { recursive: true });
  const env = { ...o.env, ...REPRODUCIBLE_GIT_ENV };
  const git = async (args: string[], input?: string) => {
    const r = await runCommand('git', [...REPRODUCIBLE_GIT_CONFIG, ...args], {
      cwd: repo,
      env,
      timeoutMs: 300_000,
      ...(input !== undefined ? { input } : {}),
    });
    if (r.exitCode !== 0)
      throw new PypiError(
        `making the PyPI source a git repository failed at 'git ${args.join(' ')}': ${r.stderr.trim()}`,
      );
    return r.stdout.trim();
  };
  await git(['init', '--quiet']);
  for (const args of o.settings ?? []) await git([...args]);
  // every file of the sdist, .gitignore'd ones too, added in path order
  const entries = await readdir(repo, { withFileTypes: true, recursive: true });
  const files = entries
    .filter((e) => e.isFile() || e.isSymbolicLink())
    .map((e) => relative(repo, join(e.parentPath, e.name)))
    .filter((f) => f !== '.git' && !f.startsWith(`.git${sep}`))
    .sort();
  await git(['add', '--force', '--pathspec-from-file=-', '--pathspec-file-nul'], files.join('\0'));
  const message = `vLLM ${o.version} as published on PyPI\n\nsdist sha256: ${o.sha256 ?? 'unknown'}\n`;
  await git(['commit', '--quiet', '--no-verify', '--no-gpg-sign', '-m', message]);
  await git(['tag', '--no-sign', '--end-of-options', `v${o.version}`]);
  return git(['rev-parse', 'HEAD']);
}
