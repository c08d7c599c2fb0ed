// The one way the tool starts a process (a test fails on any other): the allowlisted environment, a timeout that
// stops the whole process group, output appended to a log file, git hardened, and (for the tree's code) the sandbox.
import { appendFile } from 'node:fs/promises';
import { execa, type ResultPromise } from 'execa';
import { childEnvironment } from '../security/child-env.js';
import { type SandboxSpec, sandboxed } from '../security/sandbox.js';
import { GIT_SAFE_ARGS, GIT_SAFE_ENV } from './git-settings.js';

export interface CommandOptions {
  cwd?: string;
  /** the whole environment of the command (callers start from an allowlisted one); default: the allowlist of
   * this process's environment (security/child-env.ts) */
  env?: Record<string, string | undefined>;
  timeoutMs: number;
  /** log file the command's stdout and stderr are appended to */
  logFile: string;
  /** runs the command inside this sandbox (security/sandbox.ts); bwrap itself gets only `env` */
  sandbox?: SandboxSpec;
  /** written to the command's stdin */
  input?: string;
  /** startLogged: stdin stays open as a pipe, for a long-lived command the caller writes to */
  stdinPipe?: boolean;
}

export interface CommandResult {
  command: string;
  exitCode: number | undefined;
  signal: string | undefined;
  timedOut: boolean;
  /** stdout and stderr interleaved, as written to the log */
  output: string;
  stdout: string;
  stderr: string;
  seconds: number;
  /** set when the executable could not be started at all (e.g. not on PATH) */
  spawnError?: string;
}

export function commandLine(file: string, args: readonly string[]): string {
  return [file, ...args]
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`))
    .join(' ');
}

/** How long a command's output may stay open after it exited (a grandchild holding it) before it is closed. */
export const STDIO_GRACE_MS = 5_000;

/** Grace between SIGTERM and SIGKILL when a process group is stopped. */
export const KILL_GRACE_MS = 5_000;

/** Grace on a cancel: the runner kills the job a few seconds after its first signal, and the RunResult comes first. */
export const CANCEL_GRACE_MS = 2_000;

/** Thrown by a start after the run was cancelled: no new process once the run is stopping. */
export class RunCancelled extends Error {
  constructor(readonly signal: string) {
    super(`cancelled (${signal})`);
  }
}

/** Every process group this tool started and that has not exited: what a cancel stops. */
const live = new Set<ResultPromise>();
let cancelledBy: string | undefined;

/** The signal that cancelled this run, once one did. */
export function cancelSignal(): string | undefined {
  return cancelledBy;
}

/**
 * Cancels the run: no command starts from now on, and every running one (servers, bench clients, tests) is stopped
 * as a process group within `graceMs` plus the SIGKILL. Resolves when every group is gone.
 */
export async function cancelRun(signal: string, graceMs = CANCEL_GRACE_MS): Promise<void> {
  cancelledBy ??= signal;
  await Promise.all(
    [...live].map(async (p) => {
      await stopProcessGroup(p, graceMs);
      live.delete(p);
    }),
  );
}

/** Forgets a cancel (tests run several pipelines in one process). */
export function resetCancel(): void {
  cancelledBy = undefined;
}

/** Stops every process of a group started with `detached: true`: SIGTERM, then SIGKILL after a grace period. */
export async function stopProcessGroup(subprocess: ResultPromise, graceMs = KILL_GRACE_MS): Promise<void> {
  const pid = subprocess.pid;
  if (pid === undefined) return;
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
      return true;
    } catch {
      return false; // the group is gone
    }
  };
  if (!signalGroup('SIGTERM')) return;
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!groupAlive(pid)) return;
    await sleep(100);
  }
  signalGroup('SIGKILL');
  while (groupAlive(pid)) await sleep(50);
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The last line of a command's output that is not the log's own ($ command, [exit …], [timed out …]), capped. */
export function lastLine(output: string): string {
  const lines = output
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('$ ') && !/^\[(exit|timed out)/.test(l));
  return lines.at(-1)?.trim().slice(0, 300) ?? 'no output';
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** What is really started for `file args`: git with hooks, fsmonitor and outside config off; the sandbox around it. */
export function commandFor(
  file: string,
  args: readonly string[],
  opts: Pick<CommandOptions, 'cwd' | 'env' | 'sandbox'>,
): { file: string; args: string[]; env: Record<string, string | undefined> } {
  const isGit = file === 'git';
  const env = { ...(opts.env ?? childEnvironment(process.env)), ...(isGit ? GIT_SAFE_ENV : {}) };
  const wrapped = sandboxed(opts.sandbox, file, isGit ? [...GIT_SAFE_ARGS, ...args] : args, opts.cwd, env);
  return { ...wrapped, env };
}

/** Starts a command in its own process group with output appended to the log file; the caller stops it. */
export function startLogged(
  file: string,
  args: readonly string[],
  opts: Omit<CommandOptions, 'timeoutMs' | 'logFile'> & { logFile?: string },
) {
  if (cancelledBy) throw new RunCancelled(cancelledBy);
  const run = commandFor(file, args, opts);
  const sink = (opts.logFile ? ['pipe', { file: opts.logFile, append: true }] : ['pipe']) as ['pipe'];
  const subprocess = execa(run.file, run.args, {
    cwd: opts.cwd,
    env: run.env,
    extendEnv: false,
    detached: true,
    reject: false,
    ...(opts.input !== undefined
      ? { input: opts.input }
      : { stdin: opts.stdinPipe ? ('pipe' as const) : ('ignore' as const) }),
    stdout: sink,
    stderr: sink,
    all: true,
    buffer: true,
    maxBuffer: 32 * 1024 * 1024,
  });
  live.add(subprocess);
  // the group may outlive its leader (runLogged stops it then); forgotten once the leader is reaped
  subprocess
    .finally(() => {
      if (subprocess.pid === undefined || !groupAlive(subprocess.pid)) live.delete(subprocess);
    })
    .catch(() => {});
  return subprocess;
}

/** Runs a command with no log file (the tool's own helpers: the rewriter, git outside a step, tar). */
export function runCommand(
  file: string,
  args: readonly string[],
  opts: Omit<CommandOptions, 'logFile'>,
): Promise<CommandResult> {
  return runLogged(file, args, { ...opts, logFile: '' });
}

/** Whether bwrap starts here with every namespace the sandbox uses; why not, when it does not. */
export async function probeBwrap(
  bwrap = 'bwrap',
  env: Record<string, string | undefined> = childEnvironment(process.env),
): Promise<{ ok: true } | { ok: false; why: string }> {
  const spec: SandboxSpec = {
    kind: 'bwrap',
    bwrap,
    writable: [],
    hidden: [],
    scratch: '/tmp',
    network: 'none',
    devices: [],
  };
  const r = await runCommand('true', [], { env, timeoutMs: 30_000, sandbox: spec });
  if (r.exitCode === 0) return { ok: true };
  if (r.spawnError) return { ok: false, why: `${bwrap} not found` };
  return { ok: false, why: r.output.trim().split('\n').at(-1) || `exit ${r.exitCode ?? r.signal}` };
}

/** Runs a command to completion or its timeout; never throws for a failed command. */
export async function runLogged(
  file: string,
  args: readonly string[],
  opts: CommandOptions,
): Promise<CommandResult> {
  const command = commandLine(file, args);
  const log = (line: string) => (opts.logFile ? appendFile(opts.logFile, line) : Promise.resolve());
  const where = opts.sandbox?.kind === 'bwrap' ? '   [sandbox: bwrap]' : '';
  await log(`$ ${command}${opts.cwd ? `   (in ${opts.cwd})` : ''}${where}\n`);
  const started = performance.now();
  const subprocess = startLogged(file, args, opts);
  let timedOut = false;
  let settled = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void stopProcessGroup(subprocess);
  }, opts.timeoutMs);
  // unsandboxed, a grandchild in its own session can hold stdout open forever: once the command has exited, its
  // output is closed after a grace period, so the step ends (the sandbox kills such a grandchild instead)
  subprocess.once('exit', () => {
    setTimeout(() => {
      if (settled) return;
      subprocess.stdout?.destroy();
      subprocess.stderr?.destroy();
    }, STDIO_GRACE_MS).unref();
  });
  const result = await subprocess;
  settled = true;
  clearTimeout(timer);
  // a group member that outlived the leader (e.g. a server forked by a test) must not leak
  if (subprocess.pid !== undefined && groupAlive(subprocess.pid)) await stopProcessGroup(subprocess);
  const seconds = (performance.now() - started) / 1000;
  const spawnError =
    result.failed && result.exitCode === undefined && !result.signal && !timedOut
      ? (result.originalMessage ?? result.shortMessage)
      : undefined;
  const tail = timedOut
    ? `[timed out after ${Math.round(opts.timeoutMs / 1000)} s; process group stopped]`
    : spawnError
      ? `[could not start: ${spawnError}]`
      : `[exit ${result.exitCode ?? result.signal}, ${seconds.toFixed(1)} s]`;
  await log(`${tail}\n`);
  return {
    command,
    exitCode: result.exitCode,
    signal: result.signal,
    timedOut,
    output: String(result.all ?? ''),
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? ''),
    seconds,
    spawnError,
  };
}
