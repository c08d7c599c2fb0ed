// One `vllm serve` for one arm: a free port, a readiness check with a timeout, its own log, its process group.
import { appendFile, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { modelHubCredentials } from '../security/child-env.js';
import type { SandboxSpec } from '../security/sandbox.js';
import { commandLine, sleep, startLogged, stopProcessGroup } from './process.js';

/** A port nothing listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

/** Whether a port on 127.0.0.1 can be bound now. */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolveFree) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolveFree(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolveFree(true)));
  });
}

export class ServerError extends Error {
  constructor(
    message: string,
    readonly kind: 'port-taken' | 'exited' | 'not-ready',
  ) {
    super(message);
  }
}

export interface ServeOptions {
  vllm: string;
  model: string;
  tensorParallelSize: number;
  port: number;
  env: Record<string, string | undefined>;
  cwd?: string;
  logFile: string;
  readyTimeoutMs: number;
  /** how often /health is asked */
  pollMs?: number;
  /** fraction of each GPU's memory this server may take (vLLM's --gpu-memory-utilization) */
  gpuMemoryUtilization?: number;
  /** vLLM's --enable-sleep-mode (the /sleep and /wake_up endpoints need VLLM_SERVER_DEV_MODE=1 as well) */
  sleepMode?: boolean;
  maxModelLen?: number;
  /** the tree's code runs in it (security/sandbox.ts): no Hugging Face token is given inside */
  sandbox?: SandboxSpec;
}

export function serveArgs(
  o: Pick<
    ServeOptions,
    'model' | 'tensorParallelSize' | 'port' | 'gpuMemoryUtilization' | 'sleepMode' | 'maxModelLen'
  >,
): string[] {
  return [
    'serve',
    o.model,
    '--host',
    '127.0.0.1',
    '--port',
    String(o.port),
    '--tensor-parallel-size',
    String(o.tensorParallelSize),
    ...(o.gpuMemoryUtilization !== undefined
      ? ['--gpu-memory-utilization', String(o.gpuMemoryUtilization)]
      : []),
    ...(o.maxModelLen !== undefined ? ['--max-model-len', String(o.maxModelLen)] : []),
    ...(o.sleepMode ? ['--enable-sleep-mode'] : []),
  ];
}

async function lastLogLine(logFile: string): Promise<string> {
  return failureLine(await readFile(logFile, 'utf8').catch(() => ''));
}

/** vLLM's per-process prefix ("(EngineCore pid=1104) ") and its logger's ("ERROR 12-03 11:20:57 [core.py:1584] "). */
const VLLM_PREFIX =
  /^(?:\([\w.-]+ pid=\d+\)\s*)?(?:(?:DEBUG|INFO|WARNING|ERROR|CRITICAL) \d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \[[^\]]*\]\s*)?/;
/** vLLM's exceptions that only point at the real one, logged by another process before them. */
const POINTS_ABOVE = /see root cause above|see stack trace \(above\) for the root cause/i;
/** An exception's own line: `ValueError: …`, `torch.OutOfMemoryError: …`. */
const EXCEPTION = /^[A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit)\b.*:/;

/**
 * What a server's log says about why it stopped, in one line: the last exception that is not vLLM's pointer to
 * another process ("Engine core initialization failed. See root cause above." at start, EngineDeadError's "See
 * stack trace (above) for the root cause." later: raised in the API server after the EngineCore logged the real
 * one, vllm/v1/engine/utils.py and exceptions.py), with vLLM's prefixes taken off; else the last line. Pure.
 */
export function failureLine(log: string): string {
  const lines = log
    .split('\n')
    .map((l) => l.replace(VLLM_PREFIX, '').trim())
    .filter(Boolean);
  const cause = lines.findLast((l) => EXCEPTION.test(l) && !POINTS_ABOVE.test(l));
  return (cause ?? lines.at(-1) ?? 'no output').slice(0, 300);
}

export class VllmServer {
  private exited = false;
  private exitNote = '';
  private constructor(
    readonly port: number,
    readonly logFile: string,
    private readonly proc: ReturnType<typeof startLogged>,
  ) {
    proc.then((r) => {
      this.exited = true;
      this.exitNote = r.signal ? `killed by ${r.signal}` : `exit ${r.exitCode}`;
    });
  }

  get alive(): boolean {
    return !this.exited;
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  async deathNote(): Promise<string> {
    return `${this.exitNote}: ${await lastLogLine(this.logFile)}`;
  }

  /** Starts the server and waits until GET /health answers 200, the process exits, or the timeout passes. */
  static async start(o: ServeOptions): Promise<VllmServer> {
    if (!(await portIsFree(o.port))) throw new ServerError(`port ${o.port} is already taken`, 'port-taken');
    const args = serveArgs(o);
    await appendFile(o.logFile, `$ ${commandLine(o.vllm, args)}\n`);
    const env = o.sleepMode ? { ...o.env, VLLM_SERVER_DEV_MODE: '1' } : o.env;
    const server = new VllmServer(
      o.port,
      o.logFile,
      // the pipeline's environment holds no token; unsandboxed, a gated model needs the Hugging Face one, here
      // only; in the sandbox the model is read from the local cache and no token is given
      startLogged(o.vllm, args, {
        env: o.sandbox?.kind === 'bwrap' ? env : { ...env, ...modelHubCredentials() },
        cwd: o.cwd,
        logFile: o.logFile,
        sandbox: o.sandbox,
      }),
    );
    const deadline = Date.now() + o.readyTimeoutMs;
    while (Date.now() < deadline) {
      if (!server.alive) {
        const note = await server.deathNote();
        const taken = /address already in use|errno 98/i.test(
          await readFile(o.logFile, 'utf8').catch(() => ''),
        );
        throw new ServerError(
          taken
            ? `port ${o.port} is already taken (${note})`
            : `vllm serve exited before it was ready (${note})`,
          taken ? 'port-taken' : 'exited',
        );
      }
      if (await healthy(o.port)) return server;
      await sleep(o.pollMs ?? 250);
    }
    await server.stop();
    throw new ServerError(
      `vllm serve was not ready within ${Math.round(o.readyTimeoutMs / 1000)} s (last log line: ${await lastLogLine(o.logFile)})`,
      'not-ready',
    );
  }

  /** POST /sleep?level=1 (vllm/entrypoints/serve/dev/sleep/api_router.py): weights to CPU, KV cache dropped. */
  async sleep(): Promise<void> {
    const body = await this.devCall('POST', '/sleep?level=1');
    if (body.status !== 'sleeping')
      throw new ServerError(`/sleep answered ${JSON.stringify(body)}`, 'exited');
  }

  /** POST /wake_up: every tag back; the answer says "awake" only when fully awake. */
  async wakeUp(): Promise<void> {
    const body = await this.devCall('POST', '/wake_up');
    if (body.status !== 'awake') throw new ServerError(`/wake_up answered ${JSON.stringify(body)}`, 'exited');
  }

  async isSleeping(): Promise<boolean> {
    return (await this.devCall('GET', '/is_sleeping')).is_sleeping === true;
  }

  private async devCall(method: string, path: string): Promise<Record<string, unknown>> {
    let r: Response;
    try {
      r = await fetch(`http://127.0.0.1:${this.port}${path}`, {
        method,
        signal: AbortSignal.timeout(600_000),
      });
    } catch (error) {
      throw new ServerError(
        `${method} ${path} failed: ${error instanceof Error ? error.message : String(error)}`,
        'exited',
      );
    }
    const text = await r.text();
    if (!r.ok) {
      const hint = r.status === 404 ? ' (the dev endpoints need VLLM_SERVER_DEV_MODE=1)' : '';
      throw new ServerError(
        `${method} ${path} answered HTTP ${r.status}${hint}: ${text.slice(0, 200)}`,
        'exited',
      );
    }
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new ServerError(`${method} ${path} answered ${text.slice(0, 200)}`, 'exited');
    }
  }

  async stop(): Promise<void> {
    await stopProcessGroup(this.proc);
    await this.proc.catch(() => undefined);
  }
}

async function healthy(port: number): Promise<boolean> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(5_000) });
    return r.status === 200;
  } catch {
    return false;
  }
}
