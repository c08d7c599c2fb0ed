// vLLM trees shaped like kernel pull requests: one git repository made from vLLM 0.33.0's PyPI source, with
// a branch per shape (a kernel file, a wrong kernel, 32-bit row offsets, a follow-up, an inline kernel, a csrc
// change). The objects are built once into the cache (keyed by the fixtures and this file); each test process
// gets its own clone sharing those objects.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { defaultCacheRoot, fetchVllmSource } from '../../src/vllm/pypi.js';
import { ROOT, tempDir } from '../helpers.js';

const exec = promisify(execFile);

// the GPU script builds them from the release it serves (PR_TREES_VERSION=0.20.2); the tests use 0.33.0
export const PR_TREES_VERSION = process.env.PR_TREES_VERSION ?? '0.33.0';
export const PR_SHAPES_DIR = join(ROOT, 'test/fixtures/pr-shapes');
// `csrc` is also a folder of the tree: give git its SHA (branches.csrc) or end revisions with `--`
export const PR_BRANCHES = [
  'base',
  'pr',
  'pr-wrong',
  'pr-int32',
  'followup',
  'inline',
  'csrc',
  'pr-original',
] as const;
export type PrBranch = (typeof PR_BRANCHES)[number];

/** Where the PR puts its kernel, its own test and its call sites. */
export const PR_KERNEL_PATH = 'vllm/model_executor/layers/fused_moe/shared_expert_gate.py';
export const PR_TEST_PATH = 'tests/kernels/moe/test_fused_shared_expert_gate.py';
export const QWEN2_MOE = 'vllm/model_executor/models/qwen2_moe.py';
export const QWEN3_MOE = 'vllm/model_executor/models/qwen3_moe.py';
export const PR_CALL = 'out = fused_shared_expert_gate(x, self.expert_gate.weight, out)';
export const ORIGINAL_CALL = 'out = F.sigmoid(self.expert_gate(x)[0]) * out';
export const PR_IMPORT =
  'from vllm.model_executor.layers.fused_moe.shared_expert_gate import fused_shared_expert_gate';
export const INLINE_IMPORT = 'from vllm.triton_utils import tl, triton';
export const CSRC_PATH = 'csrc/activation_kernels.cu';

export interface PrTrees {
  /** this process's clone: every branch local, `base` checked out; use worktree() for another branch */
  dir: string;
  /** branch name -> commit SHA (the same on every build) */
  branches: Record<PrBranch, string>;
  /** a fresh worktree of `dir` at `branch` (detached HEAD), in a new temporary folder */
  worktree(branch: PrBranch): Promise<string>;
}

export interface BuildPrTreesOptions {
  /** where the built repository is kept between runs; default <cache root>/pr-trees */
  cacheDir?: string;
  /** PyPI cache of the vLLM sdist; default src/vllm/pypi.ts's */
  pypiCacheDir?: string;
}

// fixed identity and dates, no user or system config (autocrlf, signing): the same fixtures give the same
// commit SHAs on every machine
const GIT_ENV = {
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 'vLLM fixtures',
  GIT_AUTHOR_EMAIL: 'fixtures@example.com',
  GIT_COMMITTER_NAME: 'vLLM fixtures',
  GIT_COMMITTER_EMAIL: 'fixtures@example.com',
  GIT_AUTHOR_DATE: '2026-01-01T00:00:00Z',
  GIT_COMMITTER_DATE: '2026-01-01T00:00:00Z',
};
// no background `git gc --auto` may race a test removing the repository
const NO_GC = ['-c', 'gc.auto=0', '-c', 'maintenance.auto=false'];

async function git(
  gitDir: string,
  args: string[],
  opts: { input?: string; env?: Record<string, string>; workTree?: string; raw?: boolean } = {},
): Promise<string> {
  const where = ['--git-dir', gitDir, ...(opts.workTree ? ['--work-tree', opts.workTree] : [])];
  const child = exec('git', [...NO_GC, ...where, ...args], {
    env: { ...process.env, ...GIT_ENV, ...opts.env },
    maxBuffer: 256 * 1024 * 1024,
  });
  if (opts.input !== undefined) child.child.stdin?.end(opts.input);
  const { stdout } = await child;
  return opts.raw ? stdout : stdout.trim();
}

export async function readShape(name: string): Promise<string> {
  return readFile(join(PR_SHAPES_DIR, name), 'utf8');
}

/** `text` with `from` replaced exactly `count` times; anything else means vLLM's source moved. */
function replaceExactly(text: string, from: string, to: string, count: number, file: string): string {
  const found = text.split(from).length - 1;
  if (found !== count)
    throw new Error(`${file}: expected ${count} of ${JSON.stringify(from)}, found ${found}`);
  return text.replaceAll(from, to);
}

const LAYERNORM_IMPORT = 'from vllm.model_executor.layers.layernorm import RMSNorm\n';

/** A model file with its gate site swapped to the PR's unconditional call and the kernel imported. */
function swapSite(text: string, file: string): string {
  const swapped = replaceExactly(text, ORIGINAL_CALL, PR_CALL, 1, file);
  return replaceExactly(swapped, LAYERNORM_IMPORT, `${PR_IMPORT}\n${LAYERNORM_IMPORT}`, 1, file);
}

/** qwen2_moe.py with the kernel and wrapper defined inline after the logger and the same site swapped. */
function inlineKernel(text: string, block: string): string {
  const file = QWEN2_MOE;
  let out = replaceExactly(text, ORIGINAL_CALL, PR_CALL, 1, file);
  out = replaceExactly(
    out,
    'from vllm.sequence import IntermediateTensors\n',
    `from vllm.sequence import IntermediateTensors\n${INLINE_IMPORT}\n`,
    1,
    file,
  );
  const logger = 'logger = init_logger(__name__)\n';
  return replaceExactly(out, logger, `${logger}\n\n${block.trimEnd()}\n`, 1, file);
}

type Change = Record<string, string>;

interface BranchPlan {
  name: PrBranch;
  parent: PrBranch;
  message: string;
  change: (read: (path: string) => Promise<string>) => Promise<Change>;
}

const PLANS: BranchPlan[] = [
  {
    name: 'pr',
    parent: 'base',
    message: '[Kernel] Fused shared-expert gate for Qwen2/Qwen3 MoE',
    change: async (read) => ({
      [PR_KERNEL_PATH]: await readShape('shared_expert_gate.py'),
      [PR_TEST_PATH]: await readShape('test_fused_shared_expert_gate.py'),
      [QWEN2_MOE]: swapSite(await read(QWEN2_MOE), QWEN2_MOE),
      [QWEN3_MOE]: swapSite(await read(QWEN3_MOE), QWEN3_MOE),
    }),
  },
  {
    name: 'pr-wrong',
    parent: 'base',
    message: '[Kernel] Fused shared-expert gate (rows staged in blocks of 64)',
    change: async (read) => ({
      ...(await PLANS[0].change(read)),
      [PR_KERNEL_PATH]: await readShape('shared_expert_gate_wrong.py'),
    }),
  },
  {
    name: 'pr-int32',
    parent: 'base',
    message: '[Kernel] Fused shared-expert gate (32-bit row offsets)',
    change: async (read) => ({
      ...(await PLANS[0].change(read)),
      [PR_KERNEL_PATH]: await readShape('shared_expert_gate_int32.py'),
    }),
  },
  {
    // the original PR as it was opened: 32-bit row offsets and the unfused path for any weight but [1, K]
    name: 'pr-original',
    parent: 'base',
    message: '[Kernel] Fused shared-expert gate (as first opened: 32-bit row offsets, weight [1, K] only)',
    change: async (read) => ({
      ...(await PLANS[0].change(read)),
      [PR_KERNEL_PATH]: await readShape('shared_expert_gate_original.py'),
    }),
  },
  {
    name: 'followup',
    parent: 'pr',
    message: '[Kernel] Shared-expert gate: load out before the reduction, warps by row width',
    change: async () => ({ [PR_KERNEL_PATH]: await readShape('shared_expert_gate_followup.py') }),
  },
  {
    name: 'inline',
    parent: 'base',
    message: '[Model] Qwen2 MoE: fused shared-expert gate inline',
    change: async (read) => ({
      [QWEN2_MOE]: inlineKernel(await read(QWEN2_MOE), await readShape('inline_kernel.py')),
    }),
  },
  {
    name: 'csrc',
    parent: 'pr',
    message: '[Kernel] Shared-expert gate: a csrc change beside it',
    change: async (read) => ({
      [CSRC_PATH]: `${await read(CSRC_PATH)}\n// shared-expert gate: nothing compiled here changes behaviour\n`,
    }),
  },
];

/** A key over everything a build reads besides the sdist: the fixture files and this builder. */
async function buildKey(): Promise<string> {
  const hash = createHash('sha256').update(PR_TREES_VERSION);
  hash.update(await readFile(new URL(import.meta.url)));
  for (const name of (await readdir(PR_SHAPES_DIR)).sort()) {
    hash.update(`\0${name}\0`).update(await readFile(join(PR_SHAPES_DIR, name)));
  }
  return hash.digest('hex').slice(0, 16);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Writes the objects of every branch into a bare repository: no working tree is ever written. */
async function buildBare(gitDir: string, source: string): Promise<void> {
  await exec('git', [...NO_GC, 'init', '-q', '--bare', gitDir], { env: { ...process.env, ...GIT_ENV } });
  await git(gitDir, ['config', 'gc.auto', '0']);
  await git(gitDir, ['config', 'maintenance.auto', 'false']);
  const index = join(gitDir, 'fixture-index');
  const env = { GIT_INDEX_FILE: index };
  // the sdist as a vLLM checkout would hold it: its .gitignore applies
  await git(gitDir, ['add', '-A'], { env, workTree: source });
  const tree = await git(gitDir, ['write-tree'], { env });
  const commits = {} as Record<PrBranch, string>;
  commits.base = await git(gitDir, ['commit-tree', tree, '-m', `vLLM ${PR_TREES_VERSION} (PyPI sdist)`]);
  for (const plan of PLANS) {
    const parent = commits[plan.parent];
    await git(gitDir, ['read-tree', parent], { env });
    const change = await plan.change((path) => git(gitDir, ['show', `${parent}:${path}`], { raw: true }));
    for (const [path, content] of Object.entries(change)) {
      const blob = await git(gitDir, ['hash-object', '-w', '--stdin'], { input: content });
      await git(gitDir, ['update-index', '--add', '--cacheinfo', `100644,${blob},${path}`], { env });
    }
    const next = await git(gitDir, ['write-tree'], { env });
    commits[plan.name] = await git(gitDir, ['commit-tree', next, '-p', parent, '-m', plan.message]);
  }
  await rm(index, { force: true });
  const refs = PR_BRANCHES.map((b) => `update refs/heads/${b} ${commits[b]}\n`).join('');
  await git(gitDir, ['update-ref', '--stdin'], { input: refs });
  await git(gitDir, ['symbolic-ref', 'HEAD', 'refs/heads/base']);
}

/** The cached bare repository for the current fixtures, built on first use (atomically: rename into place). */
async function cachedBare(opts: BuildPrTreesOptions): Promise<string> {
  const cacheDir = opts.cacheDir ?? join(defaultCacheRoot(), 'pr-trees');
  const target = join(cacheDir, `vllm-${PR_TREES_VERSION}-${await buildKey()}.git`);
  if (await exists(join(target, 'refs/heads/csrc'))) return target;
  const source = await fetchVllmSource(PR_TREES_VERSION, { cacheDir: opts.pypiCacheDir });
  await mkdir(cacheDir, { recursive: true });
  const staging = join(cacheDir, `.build-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await buildBare(staging, source);
    // another process may have finished first: its build is identical
    await rename(staging, target).catch(async (error) => {
      if (!(await exists(join(target, 'refs/heads/csrc')))) throw error;
    });
    // builds from older fixtures are never read again
    for (const name of await readdir(cacheDir)) {
      const stale = name.startsWith(`vllm-${PR_TREES_VERSION}-`) && name.endsWith('.git');
      if (stale && join(cacheDir, name) !== target)
        await rm(join(cacheDir, name), { recursive: true, force: true });
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return target;
}

const made: string[] = [];
let building: Promise<PrTrees> | undefined;
let cleanupHooked = false;
function removeNow(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Removes this process's clone and worktrees: call it from afterAll (also done at a normal exit). */
export async function removePrTrees(): Promise<void> {
  building = undefined;
  await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}

async function cloneFor(bare: string): Promise<PrTrees> {
  const parent = await tempDir('vkci-pr-trees-');
  made.push(parent);
  if (!cleanupHooked) {
    cleanupHooked = true;
    process.once('exit', removeNow);
  }
  const dir = join(parent, 'vllm');
  // --shared borrows the cached objects: the clone costs only its checkout
  await exec('git', [...NO_GC, 'clone', '-q', '--shared', '--no-checkout', bare, dir], {
    env: { ...process.env, ...GIT_ENV },
  });
  const gitDir = join(dir, '.git');
  await git(gitDir, ['config', 'gc.auto', '0']);
  await git(gitDir, ['config', 'maintenance.auto', 'false']);
  const branches = {} as Record<PrBranch, string>;
  for (const b of PR_BRANCHES) branches[b] = await git(gitDir, ['rev-parse', `refs/remotes/origin/${b}`]);
  const refs = PR_BRANCHES.map((b) => `update refs/heads/${b} ${branches[b]}\n`).join('');
  await git(gitDir, ['update-ref', '--stdin'], { input: refs });
  await git(gitDir, ['checkout', '-q', 'base'], { workTree: dir });
  const worktree = async (branch: PrBranch): Promise<string> => {
    const holder = await tempDir(`vkci-pr-${branch}-`);
    made.push(holder);
    const at = join(holder, 'vllm');
    await git(gitDir, ['worktree', 'add', '-q', '--detach', at, branches[branch]]);
    return at;
  };
  return { dir, branches, worktree };
}

/** The PR-shaped trees: built once into the cache, cloned once per process. */
export function buildPrTrees(opts: BuildPrTreesOptions = {}): Promise<PrTrees> {
  building ??= cachedBare(opts).then(cloneFor);
  building.catch(() => {
    building = undefined;
  });
  return building;
}
