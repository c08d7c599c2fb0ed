// Commands through execa: output appended to a log file, a timeout that stops the whole process group.
import { appendFile } from 'node:fs/promises';
import { execa, type ResultPromise } from 'execa';

export interface CommandOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  timeoutMs: number;
  /** log file the command's stdout and stderr are appended to */
  logFile: string;
}

export interface CommandResult {
  command: string;
  exitCode: number | undefined;
  signal: string | undefined;
  timedOut: boolean;
  /** stdout and stderr interleaved, as written to the log */
  output: string;
  stdout: string;
  seconds: number;
  /** set when the executable could not be started at all (e.g. not on PATH) */
  spawnError?: string;
}

export function commandLine(file: string, args: readonly string[]): string {
  return [file, ...args]
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`))
    .join(' ');
}

/** Grace between SIGTERM and SIGKILL when a process group is stopped. */
export const KILL_GRACE_MS = 5_000;

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

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Starts a command in its own process group with output appended to the log file; the caller stops it. */
export function startLogged(file: string, args: readonly string[], opts: Omit<CommandOptions, 'timeoutMs'>) {
  return execa(file, args, {
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: false,
    detached: true,
    reject: false,
    stdin: 'ignore',
    stdout: ['pipe', { file: opts.logFile, append: true }],
    stderr: ['pipe', { file: opts.logFile, append: true }],
    all: true,
    buffer: true,
    maxBuffer: 32 * 1024 * 1024,
  });
}

/** Runs a command to completion or its timeout; never throws for a failed command. */
export async function runLogged(
  file: string,
  args: readonly string[],
  opts: CommandOptions,
): Promise<CommandResult> {
  const command = commandLine(file, args);
  await appendFile(opts.logFile, `$ ${command}${opts.cwd ? `   (in ${opts.cwd})` : ''}\n`);
  const started = performance.now();
  const subprocess = startLogged(file, args, opts);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void stopProcessGroup(subprocess);
  }, opts.timeoutMs);
  const result = await subprocess;
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
  await appendFile(opts.logFile, `${tail}\n`);
  return {
    command,
    exitCode: result.exitCode,
    signal: result.signal,
    timedOut,
    output: String(result.all ?? ''),
    stdout: String(result.stdout ?? ''),
    seconds,
    spawnError,
  };
}
