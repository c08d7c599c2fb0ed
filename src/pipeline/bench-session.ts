// `vllm bench serve` through one long-lived process (kernels/bench_session.py): it imports vLLM's client once and
// forks a fresh child per run, so a run costs its requests, not the client's imports. Each run still gets the
// argv benchArgs builds, its own result file and exit status; a run past its timeout stops the session, and the
// next run starts a new one. Without a session, or where it cannot start, each run is the CLI, as before.
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { readNoFollow } from '../security/files.js';
import type { SandboxSpec } from '../security/sandbox.js';
import { type CommandResult, commandLine, lastLine, stopProcessGroup } from './process.js';
import type { StepHandle } from './step.js';

/** What kernels/bench_session.py answers, one line each, after this prefix. */
const ANSWER = '@@bench-session ';
/** how long the session may take to import vLLM's client and say it is ready */
const READY_TIMEOUT_MS = 180_000;
/** a run's own output kept for the step's log and the failure reason */
const OUTPUT_CAP = 256 * 1024;

export interface BenchSessionOptions {
  /** the interpreter whose vLLM measures (the baseline arm's, through env) and kernels/bench_session.py; without
   * them every run is the CLI */
  session?: { python: string; script: string };
  /** the CLI each run falls back to where vLLM's client does not import */
  vllm: string;
  env: Record<string, string | undefined>;
  cwd?: string;
  sandbox?: SandboxSpec;
}

interface Answer {
  id?: number;
  ready?: boolean;
  exit?: number | null;
  seconds?: number;
  inProcess?: boolean;
}

type Live = {
  proc: ReturnType<StepHandle['start']>;
  answers: Map<number, (a: Answer | undefined) => void>;
  exited: boolean;
};

export class BenchSession {
  private live: Live | undefined;
  private nextId = 1;
  /** why the session could not start: every later run is the CLI */
  private broken: string | undefined;
  /** whether the runs import vLLM's client in the session (false: the session runs the CLI per run) */
  inProcess: boolean | undefined;

  constructor(
    private readonly step: StepHandle,
    private readonly o: BenchSessionOptions,
  ) {}

  /** One `vllm bench serve` run: `args` as benchArgs builds them ('bench', 'serve', flags...). */
  async run(args: readonly string[], timeoutMs: number): Promise<CommandResult> {
    const live = this.broken || !this.o.session ? undefined : await this.ensure(this.o.session);
    if (!live)
      return this.step.run(this.o.vllm, args, {
        env: this.o.env,
        cwd: this.o.cwd,
        timeoutMs,
        sandbox: this.o.sandbox,
      });
    const id = this.nextId++;
    const dir = join(this.step.scratch, 'bench-session');
    await mkdir(dir, { recursive: true });
    const log = join(dir, `run-${id}.log`);
    const command = commandLine(this.o.vllm, args);
    // as runLogged does, into the step's log file only: the command when it starts, its output and exit after
    await appendFile(this.step.logFile, `$ ${command}   [bench session, run ${id}]\n`);
    const started = performance.now();
    let timedOut = false;
    const answer = await new Promise<Answer | undefined>((resolve) => {
      const timer = setTimeout(() => {
        timedOut = true;
        void this.stop();
      }, timeoutMs);
      live.answers.set(id, (a) => {
        clearTimeout(timer);
        resolve(a);
      });
      live.proc.stdin?.write(`${JSON.stringify({ id, args: args.slice(2), log })}\n`);
    });
    const seconds = answer?.seconds ?? (performance.now() - started) / 1000;
    // written by the client's child: read without following a link, the end kept
    const output = (
      await readNoFollow(log)
        .then((b) => b.toString('utf8'))
        .catch((e: Error) => `(no output: ${e.message})`)
    ).slice(-OUTPUT_CAP);
    const tail = timedOut
      ? `[timed out after ${Math.round(timeoutMs / 1000)} s; the bench session stopped]`
      : `[exit ${answer?.exit ?? 'unknown: the bench session ended'}, ${seconds.toFixed(1)} s]`;
    await appendFile(this.step.logFile, `${output.trimEnd()}\n${tail}\n`);
    const exitCode = answer?.exit ?? undefined;
    return {
      command,
      exitCode: exitCode === null ? undefined : exitCode,
      signal: answer ? undefined : 'session ended',
      timedOut,
      output,
      stdout: output,
      stderr: '',
      seconds,
    };
  }

  /** Stops the session's process group; the next run starts a new one. */
  async stop(): Promise<void> {
    const live = this.live;
    this.live = undefined;
    if (!live) return;
    live.proc.stdin?.end();
    await stopProcessGroup(live.proc, 2_000);
    for (const resolve of live.answers.values()) resolve(undefined);
    live.answers.clear();
  }

  private async ensure({ python, script }: { python: string; script: string }): Promise<Live | undefined> {
    if (this.live && !this.live.exited) return this.live;
    const where = this.o.sandbox?.kind === 'bwrap' ? '   [sandbox: bwrap]' : '';
    await this.step.log(`$ ${commandLine(python, [script, this.o.vllm])}   (the bench session)${where}`);
    const proc = this.step.start(python, [script, this.o.vllm], {
      env: this.o.env,
      cwd: this.o.cwd,
      sandbox: this.o.sandbox,
      stdinPipe: true,
    });
    const live: Live = { proc, answers: new Map(), exited: false };
    let ready: (a: Answer | undefined) => void = () => {};
    const readyAnswer = new Promise<Answer | undefined>((r) => {
      ready = r;
    });
    if (proc.stdout)
      createInterface({ input: proc.stdout }).on('line', (line) => {
        if (!line.startsWith(ANSWER)) return;
        let a: Answer;
        try {
          a = JSON.parse(line.slice(ANSWER.length)) as Answer;
        } catch {
          return;
        }
        if (a.ready) ready(a);
        else if (a.id !== undefined) {
          live.answers.get(a.id)?.(a);
          live.answers.delete(a.id);
        }
      });
    proc.stdin?.on('error', () => {});
    void proc.finally(() => {
      live.exited = true;
      ready(undefined);
      for (const resolve of live.answers.values()) resolve(undefined);
      live.answers.clear();
    });
    const timer = setTimeout(() => ready(undefined), READY_TIMEOUT_MS);
    const a = await readyAnswer;
    clearTimeout(timer);
    if (!a) {
      await stopProcessGroup(proc, 2_000);
      this.broken = `the bench session (${script}) did not start: ${lastLine(String((await proc.catch((e) => e))?.all ?? ''))}`;
      await this.step.log(`${this.broken}; each run is vllm bench serve`);
      return undefined;
    }
    if (this.inProcess === undefined) {
      this.inProcess = Boolean(a.inProcess);
      await this.step.log(
        a.inProcess
          ? "bench session: vLLM's client imported once; each run is a fork of it"
          : "bench session: vLLM's client does not import here; each run is vllm bench serve",
      );
    }
    this.live = live;
    return live;
  }
}
