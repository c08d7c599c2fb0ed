// Step checkout: the vLLM tree at a ref, from a git URL, owner/name, a local path, or vLLM's sdist on PyPI.
import { createHash } from 'node:crypto';
import { copyFile, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { checkRef } from '../security/refs.js';
import { sdistRepository, sdistSha256 } from '../vllm/pypi.js';
import { NO_AUTO_GC } from './git-settings.js';
import { lastLine } from './process.js';
import { fail, type StepHandle } from './step.js';

export interface CheckoutOptions {
  repository: string;
  ref: string;
  /** where cached clones live: ~/.cache/vllm-kernel-ci/repos by default */
  reposDir: string;
  env: Record<string, string | undefined>;
  timeoutMs: number;
  /** vLLM's sdist unpacked; only called for repository `pypi` */
  fetchVllmSource?: (version: string) => Promise<string>;
}

export interface CheckedOut {
  dir: string;
  sha: string;
  /** the repository as git sees it (URL or path) */
  url: string;
}

export type RepositoryKind = 'pypi' | 'url' | 'github' | 'path';

/** How a `vllm-repository` value is read: pypi, a URL, owner/name on GitHub, or a local path. */
export function classifyRepository(repository: string): { kind: RepositoryKind; url: string } {
  if (repository === 'pypi') return { kind: 'pypi', url: 'pypi' };
  if (/^(https?|ssh|git|file):\/\//.test(repository) || /^[\w.-]+@[\w.-]+:/.test(repository)) {
    return { kind: 'url', url: repository };
  }
  if (/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(repository) && !repository.startsWith('.')) {
    return { kind: 'github', url: `https://github.com/${repository.replace(/\.git$/, '')}.git` };
  }
  return { kind: 'path', url: `file://${resolve(repository)}` };
}

function cacheKey(url: string): string {
  const name = url
    .replace(/\.git$/, '')
    .split(/[/:]/)
    .filter(Boolean)
    .slice(-2)
    .join('-');
  const hash = createHash('sha256').update(url).digest('hex').slice(0, 10);
  return `${name.replace(/[^\w.-]/g, '_')}-${hash}`;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

const GIT_ENV = {
  GIT_TERMINAL_PROMPT: '0',
  // no ext:: or fd:: transports: a repository value must never become a command
  GIT_ALLOW_PROTOCOL: 'file:git:http:https:ssh',
  GIT_ASKPASS: 'echo',
  GIT_CONFIG_COUNT: '1',
  GIT_CONFIG_KEY_0: 'advice.detachedHead',
  GIT_CONFIG_VALUE_0: 'false',
};

export async function checkout(step: StepHandle, o: CheckoutOptions): Promise<CheckedOut> {
  const { kind, url: given } = classifyRepository(o.repository);
  try {
    checkRef('vllm-ref', o.ref, o.repository);
  } catch (error) {
    throw fail((error as Error).message);
  }
  const env = { ...o.env, ...GIT_ENV };
  const git = async (args: string[], cwd?: string) => {
    const r = await step.run('git', args, { cwd, env, timeoutMs: o.timeoutMs });
    return { ok: r.exitCode === 0, r };
  };
  let url = given;
  let ref = o.ref;
  if (kind === 'pypi') {
    if (!o.fetchVllmSource) throw fail('vLLM from PyPI is not available in this build');
    url = `file://${await pypiRepository(step, o)}`;
    ref = `v${o.ref}`;
  } else if (kind === 'path') {
    const dir = resolve(o.repository);
    if (!(await exists(join(dir, '.git'))) && !(await exists(join(dir, 'HEAD')))) {
      throw fail(
        `Cannot read vLLM repository '${o.repository}': ${dir} is not a git repository. ` +
          'Set vllm-repository to a git URL, owner/name on GitHub, a local git checkout, or pypi.',
      );
    }
  }

  // fail fast, naming the repository, before anything is cloned
  const reach = await git(['ls-remote', '--', url, 'HEAD']);
  if (!reach.ok) {
    const why = reach.r.timedOut ? 'timed out' : lastLine(reach.r.output);
    throw fail(
      `Cannot reach vLLM repository '${o.repository}' (${url}): ${why}. ` +
        'Check vllm-repository (a git URL, owner/name on GitHub, a local path, or pypi) and the network.',
    );
  }

  await mkdir(o.reposDir, { recursive: true });
  const key = cacheKey(url);
  // the cache holds objects only (bare: no working tree, no checkout); the tree borrows them through alternates
  const cache = join(o.reposDir, `${key}.git`);
  const dir = join(o.reposDir, key);
  const reused = await exists(join(cache, 'HEAD'));
  if (!reused) {
    await rm(cache, { recursive: true, force: true });
    if (!(await git(['init', '--quiet', '--bare', cache])).ok) throw fail(`git init ${cache} failed`);
  } else {
    await step.log(`reusing the cached objects ${cache}`);
  }
  // the cache's config is the tool's own every run: no include, sshCommand, proxy or alternates planted there
  await writeFile(join(cache, 'config'), '[core]\n\trepositoryformatversion = 0\n\tbare = true\n');
  await rm(join(cache, 'objects/info/alternates'), { force: true });
  await git(['remote', 'add', '--end-of-options', 'origin', url], cache);
  for (const args of NO_AUTO_GC) await git([...args], cache);
  // one shallow fetch serves a branch, a tag, refs/pull/N/head and (on GitHub) a full SHA; every ref after
  // --end-of-options, so a value that slipped past validation is still never an option
  let fetched = await git(
    ['fetch', '--depth', '1', '--force', '--no-tags', '--end-of-options', 'origin', ref],
    cache,
  );
  if (!fetched.ok) {
    await step.log(`shallow fetch of '${ref}' failed; fetching all branches and tags to find it`);
    fetched = await git(
      [
        'fetch',
        '--force',
        '--tags',
        '--unshallow',
        '--end-of-options',
        'origin',
        '+refs/heads/*:refs/remotes/origin/*',
      ],
      cache,
    );
    if (!fetched.ok)
      fetched = await git(
        ['fetch', '--force', '--tags', '--end-of-options', 'origin', '+refs/heads/*:refs/remotes/origin/*'],
        cache,
      );
    if (!fetched.ok)
      throw fail(`Cannot fetch from vLLM repository '${o.repository}': ${lastLine(fetched.r.output)}`);
    const target = await resolveRef(git, cache, ref);
    if (!target) {
      throw fail(`vllm-ref '${o.ref}' is not a branch, tag, commit or pull ref of '${o.repository}'.`);
    }
    ref = target;
  } else {
    ref = 'FETCH_HEAD';
  }
  const target = (
    await git(['rev-parse', '--verify', '--end-of-options', `${ref}^{commit}`], cache)
  ).r.stdout.trim();
  // a fresh working tree and .git (config, hooks, info/) every run: nothing a previous run's code planted survives
  await rm(dir, { recursive: true, force: true });
  if (!(await git(['init', '--quiet', dir])).ok) throw fail(`git init ${dir} failed`);
  for (const args of NO_AUTO_GC) await git([...args], dir);
  await git(['remote', 'add', '--end-of-options', 'origin', url], dir);
  await writeFile(join(dir, '.git/objects/info/alternates'), `${join(cache, 'objects')}\n`);
  if (await exists(join(cache, 'shallow'))) await copyFile(join(cache, 'shallow'), join(dir, '.git/shallow'));
  if (!(await git(['checkout', '--quiet', '--force', '--detach', target, '--'], dir)).ok) {
    throw fail(`git checkout of '${o.ref}' failed in ${dir}`);
  }
  const head = await git(['rev-parse', 'HEAD'], dir);
  const sha = head.r.stdout.trim();
  await step.log(
    `checked out ${o.repository} @ ${o.ref} = ${sha} in ${dir} (a fresh tree over the ${reused ? 'cached' : 'new'} objects of ${cache})`,
  );
  return { dir, sha, url };
}

async function resolveRef(
  git: (args: string[], cwd?: string) => Promise<{ ok: boolean; r: { stdout: string } }>,
  dir: string,
  ref: string,
): Promise<string | undefined> {
  for (const candidate of [`origin/${ref}`, `refs/tags/${ref}`, ref]) {
    const r = await git(
      ['rev-parse', '--verify', '--quiet', '--end-of-options', `${candidate}^{commit}`],
      dir,
    );
    if (r.ok) return r.r.stdout.trim();
  }
  return undefined;
}

/** vLLM's sdist as a git repository with one commit tagged v<version>, made once and kept in the cache. */
async function pypiRepository(step: StepHandle, o: CheckoutOptions): Promise<string> {
  const version = o.ref;
  if (!/^\d+(\.\d+)*([a-z0-9.+-]*)$/i.test(version)) {
    throw fail(
      `vllm-ref '${version}' is not a release version; with vllm-repository 'pypi' use e.g. 0.33.0.`,
    );
  }
  // a new name: repositories made before the SHA was reproducible are not reused
  const repo = join(o.reposDir, `pypi-vllm-${version}-r2`);
  if (await exists(join(repo, '.git', 'refs', 'tags', `v${version}`))) return repo;
  await step.log(`making vLLM ${version} from PyPI into a git repository at ${repo}`);
  const fetch = o.fetchVllmSource;
  if (!fetch) throw fail('vLLM from PyPI is not available in this build');
  let source: string;
  try {
    source = await fetch(version);
  } catch (error) {
    throw fail(
      `Cannot get vLLM ${version} from PyPI: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  try {
    const sha = await sdistRepository(isAbsolute(source) ? source : resolve(source), repo, {
      version,
      sha256: await sdistSha256(source),
      settings: NO_AUTO_GC,
      env: o.env,
    });
    await step.log(`vLLM ${version} from PyPI is commit ${sha} (the same on every machine)`);
  } catch (error) {
    throw fail(error instanceof Error ? error.message : String(error));
  }
  return repo;
}
