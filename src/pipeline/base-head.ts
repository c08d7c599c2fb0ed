// Base against head for a tree kernel: the merge base with the base ref, what base..head changes, a base worktree.
import { mkdir, rm, stat, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fail, type StepHandle } from './step.js';

/** Files whose change needs vLLM built again: one install cannot serve both arms. */
const COMPILED_SOURCES = [
  /^csrc\//,
  /(^|\/)CMakeLists\.txt$/,
  /^cmake\//,
  /\.cmake$/,
  /^setup\.py$/,
  /^pyproject\.toml$/,
  /^requirements\//,
];

export interface BaseHeadChanges {
  /** files that need a build per arm */
  compiled: string[];
  /** test files under tests/ that base..head adds or changes (deleted ones excluded) */
  tests: string[];
}

/** Sorts `git diff --name-status base..head` lines into compiled sources and test files. Pure. */
export function classifyChanges(nameStatus: string): BaseHeadChanges {
  const compiled: string[] = [];
  const tests: string[] = [];
  for (const line of nameStatus.split('\n')) {
    const parts = line.split('\t');
    if (parts.length < 2) continue;
    const status = parts[0];
    const path = parts[parts.length - 1];
    const paths = parts.slice(1);
    if (paths.some((p) => COMPILED_SOURCES.some((r) => r.test(p)))) compiled.push(path);
    if (!status.startsWith('D') && /^tests\/(.*\/)?(test_[^/]*|[^/]*_test)\.py$/.test(path)) tests.push(path);
  }
  return { compiled, tests };
}

export interface BaseCommit {
  /** the base ref as given, and the commit it names */
  ref: string;
  sha: string;
  /** merge base of head and the base: the baseline */
  mergeBase: string;
  changes: BaseHeadChanges;
}

interface GitOptions {
  dir: string;
  env: Record<string, string | undefined>;
  timeoutMs: number;
}

function git(step: StepHandle, o: GitOptions) {
  const env = { ...o.env, GIT_TERMINAL_PROMPT: '0' };
  return async (...args: string[]) => {
    const r = await step.run('git', args, { cwd: o.dir, env, timeoutMs: o.timeoutMs });
    return { ok: r.exitCode === 0, out: r.stdout.trim(), output: r.output };
  };
}

/**
 * Finds the base commit in the checked-out tree (fetching it, and head's history, when the clone lacks them),
 * the merge base with head and what base..head changes.
 */
export async function resolveBase(
  step: StepHandle,
  o: GitOptions & { baseRef: string; headRef: string },
): Promise<BaseCommit> {
  const run = git(step, o);
  const verify = (ref: string) => run('rev-parse', '--verify', '--quiet', `${ref}^{commit}`);
  let base = await verify(o.baseRef);
  if (!base.ok) {
    await step.log(`fetching the base ${o.baseRef}`);
    const fetched = await run('fetch', '--no-tags', '--force', 'origin', o.baseRef);
    if (fetched.ok) base = await verify('FETCH_HEAD');
    if (!base.ok)
      throw fail(
        `base-ref '${o.baseRef}' is not a commit, branch or tag of the vLLM repository (nor in the event's pull_request.base.sha). Pass the pull request's base branch or commit.`,
      );
  }
  let mergeBase = await run('merge-base', 'HEAD', base.out);
  if (!mergeBase.ok && (await run('rev-parse', '--is-shallow-repository')).out === 'true') {
    await step.log("the clone is shallow: fetching head's history to find the merge base");
    await run('fetch', '--unshallow', '--no-tags', '--force', 'origin', o.headRef);
    mergeBase = await run('merge-base', 'HEAD', base.out);
  }
  if (!mergeBase.ok)
    throw fail(`head and base ${o.baseRef} (${base.out.slice(0, 12)}) have no common history: no baseline`);
  const diff = await run('diff', '--name-status', '--no-renames', `${mergeBase.out}..HEAD`);
  if (!diff.ok) throw fail(`git diff ${mergeBase.out}..HEAD failed`);
  const changes = classifyChanges(diff.out);
  await step.log(
    `base ${o.baseRef} = ${base.out}; merge base ${mergeBase.out}; base..head changes ${diff.out.split('\n').filter(Boolean).length} files` +
      `${changes.compiled.length ? ` (compiled sources: ${changes.compiled.join(', ')})` : ''}`,
  );
  return { ref: o.baseRef, sha: base.out, mergeBase: mergeBase.out, changes };
}

/** A git worktree of the base next to the tree (no install of its own): the baseline arm's code. */
export async function addBaseWorktree(step: StepHandle, o: GitOptions & { commit: string }): Promise<string> {
  const run = git(step, o);
  const dir = join(dirname(o.dir), `${o.dir.split('/').pop()}.base`);
  await run('worktree', 'remove', '--force', dir);
  await rm(dir, { recursive: true, force: true });
  await run('worktree', 'prune');
  const added = await run('worktree', 'add', '--force', '--detach', dir, o.commit);
  if (!added.ok) throw fail(`git worktree add ${dir} ${o.commit} failed`);
  await step.log(`base worktree ${dir} at ${o.commit}`);
  return dir;
}

/**
 * Links the head tree's build products under vllm/ (compiled extensions, the generated _version.py: files git
 * ignores) into the base worktree, so both arms import one install's binaries. Returns how many were linked.
 */
export async function shareBuildProducts(
  step: StepHandle,
  o: GitOptions & { baseDir: string },
): Promise<number> {
  const listed = await git(step, o)(
    'ls-files',
    '--others',
    '--ignored',
    '--exclude-standard',
    '-z',
    '--',
    'vllm',
  );
  const files = listed.out.split('\0').filter((f) => f && !/(^|\/)__pycache__\/|\.pyc$/.test(f));
  let linked = 0;
  for (const file of files) {
    const target = join(o.baseDir, file);
    if (
      await stat(target).then(
        () => true,
        () => false,
      )
    )
      continue;
    await mkdir(dirname(target), { recursive: true });
    await symlink(join(o.dir, file), target);
    linked += 1;
  }
  await step.log(`linked ${linked} build products of the head tree into the base worktree`);
  return linked;
}
