// A step silent in the job log for 30 s prints a heartbeat: the step, the time it has run, what it is doing (its
// log's last command and last line) and a count where the work reports one (`[progress] N of M what`).
import { readFile } from 'node:fs/promises';
import { seconds as formatSeconds } from '../report/format.js';

export const HEARTBEAT_MS = 30_000;

export interface Progress {
  done: number;
  total: number;
  what: string;
}

const PROGRESS = /\[progress\] (\d+) of (\d+) ([\w -]+)/;
const cut = (s: string, max = 160) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

/** The last `[progress] N of M what` line a tool wrote into the log (pytest_progress, the microbenchmark, …). Pure. */
export function lastProgress(log: string): Progress | undefined {
  const lines = log.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = PROGRESS.exec(lines[i]);
    if (m) return { done: Number(m[1]), total: Number(m[2]), what: m[3].trim() };
  }
  return undefined;
}

/** One heartbeat line from the step's name, seconds so far and its log so far. Pure. */
export function heartbeatLine(step: string, elapsedSeconds: number, log: string): string {
  const lines = log
    .split(/[\r\n]+/)
    .map((l) => l.trim())
    .filter(Boolean);
  const command = lines.findLast((l) => l.startsWith('$ '));
  const last = lines.findLast((l) => !l.startsWith('$ ') && !PROGRESS.test(l));
  const progress = lastProgress(log);
  const parts = [
    `${step}: still running after ${formatSeconds(elapsedSeconds)}`,
    command ? `running ${cut(command.slice(2))}` : undefined,
    progress
      ? `${progress.done} of ${progress.total} ${progress.what} (${Math.round((100 * progress.done) / Math.max(1, progress.total))}%)`
      : undefined,
    last && last !== command ? `last output: ${cut(last)}` : undefined,
  ];
  return parts.filter(Boolean).join('; ');
}

export interface Heartbeat {
  /** the step just printed something itself */
  touch(): void;
  stop(): void;
}

/** Checks every few seconds; after `everyMs` without a line of the step's own, prints a heartbeat from its log. */
export function startHeartbeat(o: {
  step: string;
  logFile: string;
  info: (line: string) => void;
  everyMs?: number;
}): Heartbeat {
  const everyMs = o.everyMs ?? HEARTBEAT_MS;
  const started = performance.now();
  let quietSince = started;
  const timer = setInterval(
    async () => {
      const now = performance.now();
      if (now - quietSince < everyMs) return;
      quietSince = now;
      const log = await readFile(o.logFile, 'utf8').catch(() => '');
      o.info(heartbeatLine(o.step, (now - started) / 1000, log));
    },
    Math.max(10, Math.min(5_000, everyMs / 3)),
  );
  // a heartbeat never keeps the process alive
  timer.unref();
  return {
    touch: () => {
      quietSince = performance.now();
    },
    stop: () => clearInterval(timer),
  };
}
