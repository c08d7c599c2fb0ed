// Issue 23 for the e2e: `vllm serve` and its bench client are the tree's code. A hostile op module imported by
// the fake server's model worker attacks the job while the A/B runs: unsandboxed it reads the token of a process
// of the job through /proc, poisons the runner's file commands and leaves a daemon; in bwrap (the host's network,
// so the tool still polls the server and the client reaches it) none of it works, and the A/B still completes.
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runServeAb } from '../src/pipeline/e2e.js';
import { gateSwitchArms } from '../src/pipeline/e2e-plan.js';
import { probeBwrap, runLogged, sleep, startLogged, stopProcessGroup } from '../src/pipeline/process.js';
import type { StepHandle } from '../src/pipeline/step.js';
import { childEnvironment } from '../src/security/child-env.js';
import {
  gpuDevices,
  hiddenPaths,
  NO_SANDBOX,
  type SandboxPolicy,
  sandboxFor,
} from '../src/security/sandbox.js';
import { FAKE_BIN, fakeEnv } from './fakes/world.js';
import { oneLook, ROOT, tempDir } from './helpers.js';

const TOKEN = 'fake-actions-runtime-token-for-the-served-tree';
const OP_PATH = 'vllm/model_executor/layers/fused_moe/shared_expert_gate.py';
const OP = 'vllm.model_executor.layers.fused_moe.shared_expert_gate:fused_shared_expert_gate';
const bwrap = await probeBwrap();
// .ci/run installs bubblewrap: in CI these tests run, never skip
if (!bwrap.ok && process.env.CI) throw new Error(`bwrap does not work in CI: ${bwrap.why}`);
const hasPython = Boolean(process.env.VLLM_KERNEL_CI_PYTHON);

/** The bundle's kernel where the manifest puts it, importing the hostile module at its end; both on PYTHONPATH. */
async function hostileTree(): Promise<string> {
  const tree = await tempDir('vkci-hostile-served-');
  await mkdir(join(tree, 'vllm/model_executor/layers/fused_moe'), { recursive: true });
  for (const f of ['hostile_kernel.py', 'hostile_attacks.py'])
    await copyFile(join(ROOT, 'test/fixtures/hostile', f), join(tree, f));
  const kernel = await readFile(join(ROOT, 'kernels/fused_shared_expert_gate/shared_expert_gate.py'), 'utf8');
  await writeFile(join(tree, OP_PATH), `${kernel}\nimport hostile_kernel  # noqa: E402, F401\n`);
  return tree;
}

async function servedA(kind: 'bwrap' | 'none') {
  const tree = await hostileTree();
  const runnerTemp = await tempDir('vkci-runner-temp-');
  await mkdir(join(runnerTemp, '_runner_file_commands'));
  const commandFile = join(runnerTemp, '_runner_file_commands', 'set_env_0001');
  await writeFile(commandFile, '');
  const outDir = await tempDir('vkci-served-out-');
  await mkdir(join(outDir, 'logs'));
  const logFile = join(outDir, 'logs', 'e2e.log');
  const scratch = await tempDir('vkci-served-scratch-');
  await mkdir(join(scratch, 'tmp'));
  // a local model directory: in the sandbox the server reads the model from disk, with no token
  const model = await tempDir('vkci-served-model-');
  await writeFile(join(model, 'config.json'), '{"architectures": ["Qwen2MoeForCausalLM"]}');
  const rawDir = join(outDir, 'e2e');
  const jobEnv = { ...process.env, RUNNER_TEMP: runnerTemp, GITHUB_ENV: commandFile };
  const fake = await fakeEnv({
    FAKE_GPU: 'nvidia',
    PYTHONPATH: tree,
    FAKE_VLLM_LAYERS: '2',
    FAKE_NOISE: '0',
    VLLM_KERNEL_CI_HOSTILE: 'environ,files,daemon',
    VLLM_KERNEL_CI_HOSTILE_OUTLIVE: 'parent',
    VLLM_KERNEL_CI_HOSTILE_FINDINGS: join(rawDir, 'findings.txt'),
    VLLM_KERNEL_CI_HOSTILE_MARKER: join(rawDir, 'forged'),
  });
  const env = { ...childEnvironment(jobEnv), ...fake };
  const policy: SandboxPolicy =
    kind === 'bwrap' ? { kind, hidden: hiddenPaths(jobEnv, outDir), devices: gpuDevices() } : NO_SANDBOX;
  // the fake GPU's memory ledger is the card's state, outside any sandbox: writable as a GPU would be
  const step: StepHandle = {
    name: 'e2e',
    logFile,
    outDir,
    scratch,
    sandbox: (o) => sandboxFor(policy, { ...o, writable: [...o.writable, fake.FAKE_STATE_DIR], scratch }),
    log: async (line) => writeFile(logFile, `${line}\n`, { flag: 'a' }),
    run: (file, args, o) => runLogged(file, args, { ...o, logFile }),
    start: (file, args, o) => startLogged(file, args, { ...o, logFile }),
    finish: () => {},
  };
  const t0 = performance.now();
  const e2e = await runServeAb(step, {
    vllm: join(FAKE_BIN, 'vllm'),
    model,
    tensorParallelSize: 1,
    shapes: [{ inputLen: 1024, outputLen: 1024 }],
    concurrencies: [4],
    repeats: 2,
    method: oneLook(2),
    env,
    vendor: 'nvidia',
    readyTimeoutMs: 30_000,
    benchTimeoutMs: 30_000,
    waitForGpuMemory: async () => true,
    weightsGiB: 10,
    swap: 'resident',
    warmup: false,
    arms: gateSwitchArms(false),
    // the bench session as the product runs it: in the same sandbox, each run a fork of it
    benchSession: {
      python: process.env.VLLM_KERNEL_CI_PYTHON ?? 'python3',
      script: join(ROOT, 'kernels/bench_session.py'),
    },
    probe: {
      siteDir: join(ROOT, 'kernels/arm_probe'),
      op: OP,
      recordsDir: join(outDir, 'e2e-probe'),
      expectedLayers: 2,
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  await sleep(3_000);
  return {
    e2e,
    seconds,
    log: await readFile(logFile, 'utf8'),
    findings: await readFile(join(rawDir, 'findings.txt'), 'utf8').catch(() => ''),
    poisoned: await readFile(commandFile, 'utf8'),
    forged: existsSync(join(rawDir, 'forged')),
  };
}

describe.skipIf(!bwrap.ok || !hasPython)('a hostile op module in the served tree (the fake vLLM)', () => {
  // a process of the job whose environment holds the token from its start, as the runner's worker does
  let worker: ReturnType<typeof startLogged> | undefined;
  beforeAll(() => {
    worker = startLogged('sleep', ['300'], { env: { PATH: process.env.PATH, ACTIONS_RUNTIME_TOKEN: TOKEN } });
  });
  afterAll(async () => {
    if (worker) await stopProcessGroup(worker, 0);
  });

  it('without a sandbox, reads the token, poisons GITHUB_ENV and leaves a daemon (the breaks)', {
    timeout: 120_000,
  }, async () => {
    const r = await servedA('none');
    expect(r.findings).toContain(`ACTIONS_RUNTIME_TOKEN=${TOKEN}`);
    expect(r.poisoned).toContain('POISONED=1');
    expect(r.forged).toBe(true);
  });

  it('in bwrap, the A/B runs and is judged, and the served code sees no token, poisons nothing, leaves nothing', {
    timeout: 120_000,
  }, async () => {
    const r = await servedA('bwrap');
    // the attacks ran, inside: the module was imported by the patched arm's worker
    expect(r.findings).toMatch(/^ran \['daemon', 'environ', 'files'\]/);
    expect(r.findings).not.toContain(TOKEN);
    expect(r.findings).not.toContain('LEAKED');
    expect(r.findings).not.toContain('APPENDED');
    expect(r.poisoned).toBe('');
    expect(r.forged).toBe(false);
    expect(r.log).not.toContain(TOKEN);
    // the bench session, and with it every run forked from it, in the sandbox
    expect(r.log).toMatch(/bench_session\.py .*\(the bench session\) +\[sandbox: bwrap\]/);
    expect(r.log).toMatch(/vllm bench serve .*\[bench session, run 1\]/);
    expect(r.e2e.cells.map((c) => c.status)).toEqual(['ok']);
    expect(r.e2e.integrity).toMatchObject({
      status: 'ok',
      arms: { baseline: { kernelLaunches: 0 }, patched: { kernelLaunches: 2, layers: 2 } },
    });
  });
});
