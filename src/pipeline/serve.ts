// One `vllm serve` for one arm and repeat: a free port, a readiness check with a timeout, its own log, its process group.

import { appendFile, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { modelHubCredentials } from '../security/child-env.js';
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
}

export function serveArgs(o: Pick<ServeOptions, 'model' | 'tensorParallelSize' | 'port'>): string[] {
  return [
    'serve',
    o.model,
    '--host',
    '127.0.0.1',
    '--port',
    String(o.port),
    '--tensor-parallel-size',
    String(o.tensorParallelSize),
  ];
}

async function lastLogLine(logFile: string): Promise<string> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  const lines = text.split('\n').filter((l) => l.trim());
  return lines.at(-1)?.trim().slice(0, 300) ?? 'no output';
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
    const server = new VllmServer(
      o.port,
      o.logFile,
      // the pipeline's environment holds no token; a gated model needs the Hugging Face one, here only
      startLogged(o.vllm, args, {
        env: { ...o.env, ...modelHubCredentials() },
        cwd: o.cwd,
        logFile: o.logFile,
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
