// One step of the pipeline: a log group, a log file, its status, seconds and log tail recorded in the RunResult.
import { appendFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Host } from '../host.js';
import { seconds as formatSeconds } from '../report/format.js';
import type { RunResult, Step, StepName, StepStatus } from '../results/run-result.js';
import {
  NO_SANDBOX,
  type SandboxKind,
  type SandboxNetwork,
  type SandboxPolicy,
  type SandboxSpec,
  sandboxFor,
} from '../security/sandbox.js';
import { startHeartbeat } from './heartbeat.js';
import { type CommandOptions, type CommandResult, cancelSignal, runLogged, startLogged } from './process.js';

/** Thrown inside a step to end it with a status other than passed, and a one-line reason. */
export class StepStop extends Error {
  constructor(
    readonly status: Exclude<StepStatus, 'passed'>,
    reason: string,
  ) {
    super(reason);
  }
}

export const skip = (reason: string) => new StepStop('skipped', reason);
export const fail = (reason: string) => new StepStop('failed', reason);

/** What a step body gets: its log and a way to run commands into it. */
export interface StepHandle {
  name: StepName;
  logFile: string;
  outDir: string;
  /** this step's own scratch directory, removed when the step ends: HOME and TMPDIR of its sandboxed commands,
   * and where they write what the tool reads after them (JUnit, JSON) */
  scratch: string;
  /** the sandbox for a command running the tree's code: `writable` paths beside the scratch */
  sandbox(o: { writable: string[]; readable?: string[]; network?: SandboxNetwork }): SandboxSpec;
  log(line: string): Promise<void>;
  run(file: string, args: readonly string[], opts: Omit<CommandOptions, 'logFile'>): Promise<CommandResult>;
  /** Starts a long-lived command (its output into the step's log), recorded like `run`; the caller stops it. */
  start(
    file: string,
    args: readonly string[],
    opts: Omit<CommandOptions, 'logFile' | 'timeoutMs'>,
  ): ReturnType<typeof startLogged>;
  /** Ends the step with a status other than passed, without throwing (the body keeps what it recorded). */
  finish(status: Exclude<StepStatus, 'passed'>, reason: string): void;
}

const LOG_TAIL_LINES = 30;
const LOG_TAIL_CHARS = 4_000;

export function tailOf(text: string, lines = LOG_TAIL_LINES, chars = LOG_TAIL_CHARS): string {
  const kept = text.trimEnd().split('\n').slice(-lines).join('\n');
  return kept.length > chars ? kept.slice(-chars) : kept;
}

export interface StepRecorderOptions {
  result: RunResult;
  outDir: string;
  host: Host;
  /** keeps secrets out of log tails written to the RunResult */
  scrub: (text: string) => string;
  /** the sandbox of the tree's code in this run; none when left out */
  sandbox?: SandboxPolicy;
}

/** Runs steps in order and records each one in the RunResult as soon as it ends, whatever happens inside. */
export class StepRecorder {
  private readonly started = performance.now();
  constructor(private readonly opts: StepRecorderOptions) {}

  get logDir(): string {
    return join(this.opts.outDir, 'logs');
  }

  /** Marks a step that does not run here, without a log; after a cancel, as cancelled. */
  record(name: StepName, status: StepStatus, reason?: string): void {
    const signal = cancelSignal();
    if (signal) {
      this.store({
        name,
        status: 'cancelled',
        seconds: 0,
        reason: `not run: the run was cancelled (${signal})`,
      });
      return;
    }
    this.store({ name, status, seconds: 0, ...(reason ? { reason } : {}) });
  }

  status(name: StepName): StepStatus | undefined {
    return this.opts.result.steps.find((s) => s.name === name)?.status;
  }

  async run<T>(name: StepName, body: (step: StepHandle) => Promise<T>): Promise<T | undefined> {
    const { host, outDir } = this.opts;
    if (cancelSignal()) {
      this.record(name, 'cancelled');
      return undefined;
    }
    await mkdir(this.logDir, { recursive: true });
    const logFile = join(this.logDir, `${name}.log`);
    const artifact = `logs/${name}.log`;
    let finished: { status: Exclude<StepStatus, 'passed'>; reason: string } | undefined;
    const beat = startHeartbeat({ step: name, logFile, info: (m) => host.info(m) });
    const scratch = await mkdtemp(join(tmpdir(), `vllm-kernel-ci-${name}-`));
    await mkdir(join(scratch, 'tmp'));
    // the weakest sandbox any of the step's commands ran in; undefined when none ran the tree's code
    let ranIn: SandboxKind | undefined;
    const policy = this.opts.sandbox ?? NO_SANDBOX;
    const handle: StepHandle = {
      name,
      logFile,
      outDir,
      scratch,
      sandbox: (o) => sandboxFor(policy, { ...o, scratch }),
      log: async (line) => {
        await appendFile(logFile, `${line}\n`);
        host.info(line);
        beat.touch();
      },
      run: (file, args, o) => {
        if (o.sandbox) ranIn = ranIn === 'none' ? 'none' : o.sandbox.kind;
        return runLogged(file, args, { ...o, logFile });
      },
      start: (file, args, o) => {
        if (o.sandbox) ranIn = ranIn === 'none' ? 'none' : o.sandbox.kind;
        return startLogged(file, args, { ...o, logFile });
      },
      finish: (status, reason) => {
        finished = { status, reason };
      },
    };
    await appendFile(logFile, '');
    const t0 = performance.now();
    let value: T | undefined;
    let status: StepStatus = 'passed';
    let reason: string | undefined;
    await host.group(`${name} (at ${formatSeconds((t0 - this.started) / 1000)})`, async () => {
      try {
        value = await body(handle);
        if (finished) ({ status, reason } = finished);
      } catch (error) {
        if (error instanceof StepStop) {
          status = error.status;
          reason = error.message;
        } else {
          status = 'failed';
          reason = error instanceof Error ? error.message : String(error);
        }
        await appendFile(logFile, `[${status}] ${reason}\n`);
      } finally {
        beat.stop();
      }
      // a command stopped by the cancel fails its step: the step was cancelled, not broken
      const signal = cancelSignal();
      if (signal && status !== 'passed') {
        status = 'cancelled';
        reason = `cancelled (${signal}) while it ran`;
        this.opts.result.cancelled ??= { signal, at: new Date().toISOString(), step: name };
        this.opts.result.cancelled.step ??= name;
      }
      // every process of the step is gone by now (the sandbox's namespace dies with its command)
      await rm(scratch, { recursive: true, force: true });
      const seconds = (performance.now() - t0) / 1000;
      const logTail = this.opts.scrub(tailOf(await readFile(logFile, 'utf8')));
      this.store({
        name,
        status,
        seconds: Math.round(seconds * 100) / 100,
        ...(reason ? { reason: this.opts.scrub(oneLine(reason)) } : {}),
        ...(logTail ? { logTail } : {}),
        artifact,
        ...(ranIn ? { sandbox: ranIn } : {}),
      });
      host.info(`${name}: ${status}${reason ? ` (${oneLine(reason)})` : ''} in ${formatSeconds(seconds)}`);
    });
    return value;
  }

  private store(step: Step): void {
    const steps = this.opts.result.steps;
    const i = steps.findIndex((s) => s.name === step.name);
    if (i >= 0) steps[i] = step;
    else steps.push(step);
  }
}

export function oneLine(text: string, max = 400): string {
  const line = text.replace(/\s*\n\s*/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
