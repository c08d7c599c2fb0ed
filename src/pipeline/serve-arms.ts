// The two arms' servers: started once each and swapped by the cheapest method that works (resident, sleep, restart).
import { join } from 'node:path';
import type { SandboxSpec } from '../security/sandbox.js';
import { PROBE_DIR_ENV, PROBE_OP_ENV } from './arm-probe.js';
import {
  ARM_KEYS,
  type ArmKey,
  type ArmSpec,
  GPU_MEMORY_SHARE,
  round1,
  type ServeArms,
  type SwapMethod,
} from './e2e-plan.js';
import { sleep } from './process.js';
import { freePort, ServerError, VllmServer } from './serve.js';
import type { StepHandle } from './step.js';

export interface ArmServersOptions {
  vllm: string;
  model: string;
  tensorParallelSize: number;
  arms: ServeArms;
  env: Record<string, string | undefined>;
  cwd?: string;
  readyTimeoutMs: number;
  maxModelLen?: number;
  method: SwapMethod;
  pickPort?: () => Promise<number>;
  /** waits for GPU memory to drop back after a server stops; false when it did not in time */
  waitForGpuMemory: () => Promise<boolean>;
  /** the arm probe: its sitecustomize directory, the op it watches, where each arm's records go */
  probe?: ArmProbeSetup;
  /** every server runs the tree's code in it */
  sandbox?: SandboxSpec;
}

export interface ArmProbeSetup {
  /** kernels/arm_probe: first on each server's PYTHONPATH */
  siteDir: string;
  /** module:symbol of the op under test */
  op: string;
  /** records of arm X go to recordsDir/X */
  recordsDir: string;
}

/** A server's environment: the arm's, with the probe's sitecustomize first on PYTHONPATH when there is one. */
export function armEnvironment(
  base: Record<string, string | undefined>,
  spec: ArmSpec,
  arm: ArmKey,
  probe: ArmProbeSetup | undefined,
): Record<string, string | undefined> {
  const env = { ...base, ...spec.env };
  if (!probe) return env;
  return {
    ...env,
    PYTHONPATH: [probe.siteDir, env.PYTHONPATH].filter(Boolean).join(':'),
    [PROBE_DIR_ENV]: join(probe.recordsDir, arm),
    [PROBE_OP_ENV]: probe.op,
  };
}

export class ArmServers {
  private readonly servers = new Map<ArmKey, VllmServer>();
  private active: ArmKey | undefined;
  private starts = 0;
  private readonly startsOf: Record<ArmKey, number> = { baseline: 0, patched: 0 };
  private swaps = 0;
  private everReady = false;
  /** methods given up on this run, with why, in order */
  readonly fallbacks: string[] = [];
  /** seconds of each server start that came up, and of each sleep-mode swap (park one arm, wake the other) */
  readonly timings = {
    serverStartSeconds: [] as number[],
    swapSeconds: [] as number[],
    clientStartSeconds: [] as number[],
  };
  method: SwapMethod;

  constructor(
    private readonly step: StepHandle,
    private readonly o: ArmServersOptions,
  ) {
    this.method = o.method;
  }

  get serverStarts(): number {
    return this.starts;
  }

  get swapCount(): number {
    return this.swaps;
  }

  /** Whether any server ever answered /health: one that never did will not for the other arm either. */
  get anyReady(): boolean {
    return this.everReady;
  }

  /** Makes `arm` the one serving and returns its server; throws ServerError when it cannot be brought up. */
  async use(arm: ArmKey): Promise<VllmServer> {
    const current = this.servers.get(arm);
    if (this.active === arm && current?.alive) return current;
    if (this.active !== undefined && this.active !== arm) this.swaps++;
    const other = ARM_KEYS.find((a) => a !== arm) as ArmKey;
    if (this.method === 'resident') {
      try {
        const server = current?.alive ? current : await this.start(arm);
        this.active = arm;
        return server;
      } catch (error) {
        // a start that exited (vLLM refuses a share too small for weights and KV cache) may work alone
        const besideAnother = Boolean(this.servers.get(other)?.alive);
        if (!(error instanceof ServerError) || (!besideAnother && error.kind !== 'exited')) throw error;
        await this.fallBack(
          'sleep',
          `a server did not start with half the GPU memory share (${error.message})`,
        );
      }
    }
    if (this.method === 'sleep') {
      try {
        const server = await this.wakeOrStart(arm, other);
        this.active = arm;
        return server;
      } catch (error) {
        if (!(error instanceof ServerError) || !this.everReady) throw error;
        await this.fallBack('restart', `sleep mode did not work (${error.message})`);
      }
    }
    const idle = this.servers.get(other);
    if (idle) await this.stopOne(other);
    const server = current?.alive ? current : await this.start(arm);
    this.active = arm;
    return server;
  }

  /** Parks the other arm's server (sleep level 1), then wakes this arm's, or starts it the first time. */
  private async wakeOrStart(arm: ArmKey, other: ArmKey): Promise<VllmServer> {
    const t0 = performance.now();
    const idle = this.servers.get(other);
    if (idle?.alive && !(await idle.isSleeping()))
      await this.timed(`${other} arm put to sleep`, () => idle.sleep());
    const current = this.servers.get(arm);
    if (!current?.alive) return this.start(arm);
    if (await current.isSleeping()) {
      await this.timed(`${arm} arm woken`, () => current.wakeUp());
      this.timings.swapSeconds.push(round1((performance.now() - t0) / 1000));
    }
    return current;
  }

  /** A server that died is dropped, so the next use starts a fresh one. */
  async forget(arm: ArmKey): Promise<void> {
    if (this.servers.has(arm)) await this.stopOne(arm);
    if (this.active === arm) this.active = undefined;
  }

  async stopAll(): Promise<void> {
    for (const arm of ARM_KEYS) if (this.servers.has(arm)) await this.stopOne(arm);
    this.active = undefined;
  }

  private async fallBack(to: SwapMethod, why: string): Promise<void> {
    this.fallbacks.push(`${this.method} → ${to}: ${why}`);
    await this.step.log(`swap method ${this.method} given up for ${to}: ${why}`);
    await this.stopAll();
    this.method = to;
  }

  private async timed(what: string, fn: () => Promise<void>): Promise<void> {
    const t0 = performance.now();
    await fn();
    await this.step.log(`${what} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }

  private async start(arm: ArmKey): Promise<VllmServer> {
    const spec = this.o.arms[arm];
    this.startsOf[arm] += 1;
    const logFile = join(this.step.outDir, 'logs', `e2e-server-${arm}-${this.startsOf[arm]}.log`);
    const pickPort = this.o.pickPort ?? freePort;
    let lastError: ServerError | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await pickPort();
      try {
        this.starts++;
        await this.step.log(
          `starting vllm serve (${arm} arm: ${spec.label}; swap ${this.method}) on port ${port}; log ${logFile}`,
        );
        const t0 = performance.now();
        const server = await VllmServer.start({
          vllm: this.o.vllm,
          model: this.o.model,
          tensorParallelSize: this.o.tensorParallelSize,
          port,
          env: armEnvironment(this.o.env, spec, arm, this.o.probe),
          cwd: spec.cwd ?? this.o.cwd,
          logFile,
          readyTimeoutMs: this.o.readyTimeoutMs,
          maxModelLen: this.o.maxModelLen,
          sleepMode: this.method === 'sleep',
          // both resident: each its share; otherwise vLLM's own default
          gpuMemoryUtilization: this.method === 'resident' ? GPU_MEMORY_SHARE / 2 : GPU_MEMORY_SHARE,
          sandbox: this.o.sandbox,
        });
        this.timings.serverStartSeconds.push(round1((performance.now() - t0) / 1000));
        this.everReady = true;
        this.servers.set(arm, server);
        return server;
      } catch (error) {
        if (!(error instanceof ServerError)) throw error;
        lastError = error;
        await this.step.log(`vllm serve: ${error.message}`);
        if (error.kind !== 'port-taken') break;
        await sleep(200);
      }
    }
    throw lastError ?? new ServerError('vllm serve did not start', 'exited');
  }

  private async stopOne(arm: ArmKey): Promise<void> {
    const server = this.servers.get(arm);
    this.servers.delete(arm);
    if (!server) return;
    const t0 = performance.now();
    await server.stop();
    const stopped = performance.now();
    // memory drops back to the floor only when no other server holds any
    const released = this.servers.size === 0 ? await this.o.waitForGpuMemory() : true;
    await this.step.log(
      `stopped the ${arm} arm's vllm serve in ${((stopped - t0) / 1000).toFixed(1)} s; GPU memory ` +
        (released
          ? `released after ${((performance.now() - stopped) / 1000).toFixed(1)} s`
          : 'NOT released in time: the next start may fail'),
    );
  }
}
