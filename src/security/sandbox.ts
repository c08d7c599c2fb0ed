// The sandbox for every command that imports or runs the tree's code: bubblewrap (bwrap), or none.
//
// Inside: a new PID, mount, network (but for `vllm serve` and its client), IPC and UTS namespace; `/` read-only; the tree and a per-step scratch
// directory writable (HOME, TMPDIR and XDG_CACHE_HOME point into the scratch; cache variables that name a path
// outside are unset); the output directory, RUNNER_TEMP (GITHUB_ENV,
// GITHUB_OUTPUT, GITHUB_PATH and the runner's file commands live there) and every other hidden path under an
// empty tmpfs; the GPU device nodes passed through. bwrap runs as PID 1's parent with --die-with-parent, and when
// the command exits bwrap's PID 1 exits and the kernel kills every process left in the namespace (a setsid
// daemon, a grandchild holding stdout). bwrap's own PID 1 keeps bwrap's environment (/proc/1/environ), so bwrap
// itself is started with the allowlisted environment only (pipeline/process.ts, extendEnv: false).
// The tree's .git is read-only inside, so PR code plants no hook or config for a later git command.
// Why bubblewrap: unprivileged-capable, in Debian and Ubuntu, no daemon, and the same namespaces a container
// runtime uses; a container would need a daemon and an image per runner.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { isInside } from './files.js';

export type SandboxChoice = 'auto' | 'bwrap' | 'none';
export const SANDBOX_CHOICES: readonly SandboxChoice[] = ['auto', 'bwrap', 'none'];
export type SandboxNetwork = 'none' | 'host';
/** What a step ran in, as the RunResult records it. */
export type SandboxKind = 'bwrap' | 'none';

/** What one sandboxed command may see and touch. */
export interface SandboxSpec {
  kind: SandboxKind;
  /** the bwrap executable */
  bwrap?: string;
  /** bound read-write at the same path (the tree, the step's scratch) */
  writable: string[];
  /** bound read-only on top of the rest (the tree's .git inside the writable tree, a path inside a hidden one) */
  readable?: string[];
  /** what the command names (namedPaths): read-only, bound before the writable paths so it never covers one */
  named?: string[];
  /** covered by an empty tmpfs (directories) or /dev/null (files) */
  hidden: string[];
  /** the step's scratch: HOME, TMPDIR and the caches point there */
  scratch: string;
  /** `none`: a new network namespace with loopback only (bwrap brings `lo` up), for tests and benchmarks;
   * `host`: the host's network, for `vllm serve` and its bench client, which the tool polls and connects from
   * outside (no token is inside to send anywhere; README, Security) */
  network: SandboxNetwork;
  /** device nodes bound into the sandbox's /dev (GPUs) */
  devices: string[];
}

/** GPU device nodes of this host: /dev/nvidia*, /dev/kfd, /dev/dri. */
export function gpuDevices(devDir = '/dev'): string[] {
  const names = (() => {
    try {
      return readdirSync(devDir);
    } catch {
      return [] as string[];
    }
  })();
  return names
    .filter((n) => n.startsWith('nvidia') || n === 'kfd' || n === 'dri')
    .sort()
    .map((n) => join(devDir, n));
}

/** Paths PR code must not read or write: the output dir, RUNNER_TEMP, the GITHUB_* files, the runner's credentials. */
export function hiddenPaths(env: Readonly<Record<string, string | undefined>>, outDir: string): string[] {
  const paths = [outDir];
  if (env.RUNNER_TEMP) paths.push(env.RUNNER_TEMP);
  for (const [name, value] of Object.entries(env)) {
    // GITHUB_ENV, GITHUB_OUTPUT, GITHUB_PATH, GITHUB_STATE, GITHUB_STEP_SUMMARY, GITHUB_EVENT_PATH
    if (name.startsWith('GITHUB_') && value?.startsWith('/') && !isDirName(name)) paths.push(value);
  }
  // the runner's registration credentials sit beside its _work directory
  if (env.RUNNER_WORKSPACE) {
    const runnerDir = dirname(dirname(env.RUNNER_WORKSPACE));
    for (const f of ['.credentials', '.credentials_rsaparams', '.runner']) paths.push(join(runnerDir, f));
  }
  if (env.HOME) {
    for (const f of [
      '.ssh',
      '.git-credentials',
      '.netrc',
      '.docker',
      '.aws',
      '.config/gh',
      '.cache/huggingface',
    ])
      paths.push(join(env.HOME, f));
  }
  return [...new Set(paths.map((p) => resolve(p)))];
}

/** GITHUB_WORKSPACE and GITHUB_ACTION_PATH are the checkout and the action: readable, not hidden. */
function isDirName(name: string): boolean {
  return name === 'GITHUB_WORKSPACE' || name === 'GITHUB_ACTION_PATH';
}

/** The namespaces and safety flags, each of which was checked to work as root in a container and on the H200. */
export const BWRAP_NAMESPACES = [
  '--unshare-pid',
  '--unshare-ipc',
  '--unshare-uts',
  '--unshare-cgroup-try',
  '--unshare-net',
  '--die-with-parent',
  // no TIOCSTI into the runner's terminal
  '--new-session',
] as const;

/** Cache locations a runner may set to a path outside: read-only inside, so unset (the defaults live in HOME). */
export const SANDBOX_UNSET = [
  'TRITON_CACHE_DIR',
  'TORCHINDUCTOR_CACHE_DIR',
  'TORCH_EXTENSIONS_DIR',
  'VLLM_CACHE_ROOT',
  'CUDA_CACHE_PATH',
] as const;

/** The bwrap command line that runs `file args` in the sandbox `spec` (pure; existing paths only). */
export function bwrapArgv(
  spec: SandboxSpec,
  file: string,
  args: readonly string[],
  exists: (path: string) => boolean = existsSync,
): string[] {
  const namespaces = BWRAP_NAMESPACES.filter((f) => f !== '--unshare-net' || spec.network === 'none');
  const out: string[] = [...namespaces, '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc'];
  for (const d of spec.devices) if (exists(d)) out.push('--dev-bind', d, d);
  out.push('--tmpfs', '/tmp');
  // hidden first, so a writable or readable path inside a hidden one is bound back on top of it
  for (const h of spec.hidden) {
    if (!exists(h)) continue;
    if (isDirectory(h)) out.push('--tmpfs', h);
    else out.push('--ro-bind', '/dev/null', h);
  }
  for (const n of spec.named ?? []) if (exists(n)) out.push('--ro-bind', n, n);
  for (const w of [...spec.writable, spec.scratch]) if (exists(w)) out.push('--bind', w, w);
  // last, so a read-only path inside a writable one (the tree's .git) stays read-only
  for (const r of spec.readable ?? []) if (exists(r)) out.push('--ro-bind', r, r);
  out.push(
    '--setenv',
    'HOME',
    spec.scratch,
    '--setenv',
    'TMPDIR',
    join(spec.scratch, 'tmp'),
    // every cache in the scratch: nothing is shared with a later step or job
    '--setenv',
    'XDG_CACHE_HOME',
    join(spec.scratch, '.cache'),
    ...SANDBOX_UNSET.flatMap((name) => ['--unsetenv', name]),
    '--chdir',
    '/',
    '--',
    file,
    ...args,
  );
  return out;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * What a command names, so that it sees it read-only inside (a tree, bundle or model under /tmp, which is an
 * empty tmpfs there): its cwd, its PYTHONPATH, the venv of an absolute executable, each absolute argument (a
 * file's directory; `path::symbol` by its path). Never what is writable already, nor anything inside or above a
 * hidden path: naming a path does not undo hiding it.
 */
export function namedPaths(
  spec: Pick<SandboxSpec, 'writable' | 'scratch' | 'hidden'>,
  file: string,
  args: readonly string[],
  cwd: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  exists: (path: string) => boolean = existsSync,
  isDir: (path: string) => boolean = isDirectory,
): string[] {
  const candidates = [
    ...(cwd ? [cwd] : []),
    ...(env.PYTHONPATH ?? '').split(':'),
    ...(file.startsWith('/') ? [dirname(dirname(file))] : []),
    ...args
      .map((a) => a.split('::')[0])
      .filter((a) => a.startsWith('/') && exists(a))
      .map((a) => (isDir(a) ? a : dirname(a))),
  ];
  const writable = [...spec.writable, spec.scratch];
  return [
    ...new Set(
      candidates
        .filter((p) => p.startsWith('/') && p.split('/').filter(Boolean).length >= 2)
        .map((p) => resolve(p))
        .filter(
          (p) =>
            exists(p) &&
            !writable.some((w) => isInside(p, w)) &&
            !spec.hidden.some((h) => isInside(p, h) || isInside(h, p)),
        ),
    ),
  ];
}

/** How a step's command is started: bwrap with its argv, or the command itself. */
export function sandboxed(
  spec: SandboxSpec | undefined,
  file: string,
  args: readonly string[],
  cwd: string | undefined,
  env: Readonly<Record<string, string | undefined>> = {},
): { file: string; args: string[] } {
  if (!spec || spec.kind === 'none') return { file, args: [...args] };
  const argv = bwrapArgv({ ...spec, named: namedPaths(spec, file, args, cwd, env) }, file, args);
  // bwrap's own --chdir: the cwd must be a path inside the sandbox, and is the same path
  if (cwd) argv.splice(argv.indexOf('--chdir') + 1, 1, cwd);
  return { file: spec.bwrap ?? 'bwrap', args: argv };
}

/** The run's decision: which sandbox the tree's code runs in, and the warning to show, or an error. */
export interface SandboxDecision {
  kind: SandboxKind;
  warning?: string;
}

/**
 * `auto`: bwrap when it works here; without it a fork's code does not run, a same-repository PR's runs with a
 * warning. `bwrap`: bwrap or an error. `none`: no sandbox (the workflow chose it).
 * Throws an Error that says what to do.
 */
export function decideSandbox(
  choice: SandboxChoice,
  probe: { ok: true } | { ok: false; why: string },
  forkCode: boolean,
): SandboxDecision {
  if (choice === 'none') {
    return {
      kind: 'none',
      warning: forkCode
        ? "sandbox: none: the fork's code runs with no sandbox (README, Security)"
        : undefined,
    };
  }
  if (probe.ok) return { kind: 'bwrap' };
  const install =
    'Install bubblewrap on the runner (apt-get install -y bubblewrap; README, Security), or set sandbox: none to run it unsandboxed.';
  if (choice === 'bwrap')
    throw new Error(`sandbox: bwrap, but bwrap does not work here: ${probe.why}. ${install}`);
  if (forkCode)
    throw new Error(
      `A fork's code does not run without a sandbox, and bwrap does not work here: ${probe.why}. ${install}`,
    );
  return {
    kind: 'none',
    warning: `no sandbox: bwrap does not work here (${probe.why}); the tree's code runs unsandboxed. ${install}`,
  };
}

/** The per-run part of every step's sandbox; a step adds its tree, scratch and network. */
export interface SandboxPolicy {
  kind: SandboxKind;
  bwrap?: string;
  hidden: string[];
  devices: string[];
}

export const NO_SANDBOX: SandboxPolicy = { kind: 'none', hidden: [], devices: [] };

/** One command's sandbox under `policy`. */
export function sandboxFor(
  policy: SandboxPolicy,
  o: { writable: string[]; readable?: string[]; scratch: string; network?: SandboxNetwork },
): SandboxSpec {
  return {
    kind: policy.kind,
    bwrap: policy.bwrap,
    hidden: policy.hidden,
    devices: policy.devices,
    writable: o.writable,
    readable: o.readable,
    scratch: o.scratch,
    network: o.network ?? 'none',
  };
}
