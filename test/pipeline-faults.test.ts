// Faults: each gives a RunResult with the failing step marked, a report, and nothing earlier lost.
import { readFile, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../src/config.js';
import type { ModeOutcome } from '../src/host.js';
import { runValidate } from '../src/modes/validate.js';
import { freePort } from '../src/pipeline/serve.js';
import type { PipelineDeps } from '../src/pipeline/validate-pipeline.js';
import { parseRunResult, type RunResult, type StepName } from '../src/results/run-result.js';
import { deps, fakeEnv, makeBundle, makeVllmRepo, pipelineConfig, recordingHost } from './fakes/world.js';

let repo: { dir: string; sha: string };
let bundle: string;
beforeAll(async () => {
  repo = await makeVllmRepo();
  bundle = await makeBundle();
});

interface Run {
  outcome: ModeOutcome;
  result: RunResult;
  config: Config;
  env: Record<string, string>;
  report: string;
  log: (step: string) => Promise<string>;
}

async function validate(
  fake: Record<string, string>,
  inputs: Record<string, string> = {},
  more: Partial<PipelineDeps> = {},
): Promise<Run> {
  const env = await fakeEnv({ FAKE_GPU: 'nvidia', FAKE_VLLM_VERSION: '0.33.0', ...fake });
  const config = await pipelineConfig({
    'vllm-repository': inputs['vllm-repository'] ?? repo.dir,
    'vllm-ref': 'v0.33.0',
    bundle,
    install: 'precompiled',
    shapes: '1024x1024,8192x1024',
    concurrencies: '4',
    repeats: '2',
    ...inputs,
  });
  const d = await deps(env, more);
  const outcome = await runValidate(config, recordingHost(), {
    ...d,
    timeouts: { ...d.timeouts, ...more.timeouts },
  });
  const result = parseRunResult(
    JSON.parse(await readFile(outcome.resultPath as string, 'utf8')),
    'run-result.json',
  );
  const report = await readFile(outcome.reportPath as string, 'utf8');
  return {
    outcome,
    result,
    config,
    env,
    report,
    log: (step) => readFile(join(config.outputDir, 'logs', `${step}.log`), 'utf8'),
  };
}

const step = (r: RunResult, name: string) => r.steps.find((s) => s.name === name);
const statuses = (r: RunResult) => Object.fromEntries(r.steps.map((s) => [s.name, s.status]));

/** What every fault must leave: the steps before it passed, with their data, and a report naming the failure. */
function expectEarlierKept(run: Run, failing: StepName) {
  const names = run.result.steps.map((s) => s.name);
  for (const name of names.slice(0, names.indexOf(failing))) {
    if (name === 'install' && step(run.result, name)?.status === 'skipped') continue;
    expect(step(run.result, name)?.status, name).toBe('passed');
  }
  expect(run.result.identity.vllmSha).toBe(repo.sha);
  expect(run.result.device.vendor).not.toBe('unknown');
  expect(run.report).toContain(failing);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** No fake server may hold "GPU memory" after the run: every process group was stopped. */
async function expectGpuReleased(env: Record<string, string>) {
  const { execFileSync } = await import('node:child_process');
  const used = execFileSync('nvidia-smi', ['--query-gpu=memory.used', '--format=csv,noheader,nounits'], {
    env,
  }).toString();
  expect(used.trim()).toBe('0');
}

describe('e2e faults', () => {
  it('server never ready: every cell failed with the reason, e2e stopped after the first server', {
    timeout: 60_000,
  }, async () => {
    const run = await validate(
      { FAKE_VLLM_SERVE: 'never-ready' },
      {},
      { timeouts: { serverReadyMs: 2_000 } },
    );
    expect(step(run.result, 'e2e')).toMatchObject({ status: 'failed' });
    expect(step(run.result, 'e2e')?.reason).toMatch(/2 of 2 cells failed: .*not ready within 2 s/);
    for (const cell of run.result.e2e?.cells ?? []) {
      expect(cell.status).toBe('failed');
      expect(cell.reason).toContain('Loading safetensors checkpoint shards');
    }
    expectEarlierKept(run, 'e2e');
    expect(run.result.tests?.filter((t) => t.group === 'conformance')).toHaveLength(27);
    expect(run.result.microbench?.cells.length).toBeGreaterThan(0);
    // one server tried, not one per arm and repeat
    expect((await run.log('e2e')).match(/starting vllm serve/g)).toHaveLength(1);
    await expectGpuReleased(run.env);
    expect(run.outcome.exitCode).toBe(0);
  });

  it('server dies mid-cell: that cell failed with the server log line, a new server for the next cell', {
    timeout: 60_000,
  }, async () => {
    // the 5th completion request falls in the first cell (a warm-up or a sample, whichever arm serves it)
    const run = await validate({ FAKE_VLLM_SERVE: 'die-after:5' });
    const [first, second] = run.result.e2e?.cells ?? [];
    expect(first.status).toBe('failed');
    expect(first.reason).toMatch(
      // the root cause the EngineCore logged, not the API server's EngineDeadError that points above it
      /(baseline|patched) arm, repeat 1.*: vllm serve died during the cell \(exit 1: RuntimeError: CUDA error: an illegal memory access was encountered\)/,
    );
    const arm = /(baseline|patched) arm/.exec(first.reason ?? '')?.[1];
    // a failed cell spends no more GPU time
    expect(first.baseline.length + first.patched.length).toBeLessThanOrEqual(1);
    expect(second).toMatchObject({ status: 'ok' });
    // alone in the run, its own scale needs a second look before the fake's 5% is called
    expect(second.baseline.length).toBeGreaterThanOrEqual(4);
    expect(second.patched).toHaveLength(second.baseline.length);
    expect(step(run.result, 'e2e')?.status).toBe('failed');
    expectEarlierKept(run, 'e2e');
    const dead = await readFile(join(run.config.outputDir, `logs/e2e-server-${arm}-1.log`), 'utf8');
    expect(dead).toContain('illegal memory access');
    expect(await readFile(join(run.config.outputDir, `logs/e2e-server-${arm}-2.log`), 'utf8')).toContain(
      'Uvicorn running',
    );
    await expectGpuReleased(run.env);
  });

  it('bench JSON truncated: the cells failed naming the file, the raw file kept', {
    timeout: 60_000,
  }, async () => {
    const run = await validate({ FAKE_VLLM_BENCH: 'truncated' });
    expect(step(run.result, 'e2e')?.status).toBe('failed');
    for (const cell of run.result.e2e?.cells ?? []) {
      expect(cell.status).toBe('failed');
      expect(cell.reason).toMatch(
        /e2e\/in\d+-out1024-c4-baseline-(r1|warmup1)\.json is not valid JSON \(truncated or corrupt\)/,
      );
      expect(cell.baseline).toEqual([]);
      expect(cell.patched).toEqual([]);
    }
    expect(
      (await stat(join(run.config.outputDir, 'e2e/in8192-out1024-c4-baseline-warmup1.json'))).size,
    ).toBeGreaterThan(0);
    expectEarlierKept(run, 'e2e');
  });

  it('port already taken: the server moves to another port', { timeout: 60_000 }, async () => {
    const squatter = await occupy();
    let calls = 0;
    const pickPort = async () => (calls++ === 0 ? squatter.port : freePort());
    try {
      const run = await validate({}, { shapes: '1024x1024' }, { pickPort });
      expect(step(run.result, 'e2e')?.status).toBe('passed');
      expect(await run.log('e2e')).toContain(`vllm serve: port ${squatter.port} is already taken`);
      expect(run.result.e2e?.cells[0].baseline.length).toBeGreaterThanOrEqual(4);
    } finally {
      squatter.server.close();
    }
  });

  it('port already taken, every time: the cells failed saying so', { timeout: 60_000 }, async () => {
    const squatter = await occupy();
    try {
      const run = await validate({}, { shapes: '1024x1024' }, { pickPort: async () => squatter.port });
      expect(step(run.result, 'e2e')?.status).toBe('failed');
      expect(run.result.e2e?.cells[0].reason).toContain(`port ${squatter.port} is already taken`);
      expectEarlierKept(run, 'e2e');
    } finally {
      squatter.server.close();
    }
  });
});

async function occupy(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : 0 };
}

describe('kernel-test faults', () => {
  it('pytest crashes without JUnit: kernel-tests failed, the run goes on, exit 1', {
    timeout: 60_000,
  }, async () => {
    const run = await validate({ FAKE_PYTEST: 'crash' }, { 'e2e-backend': 'none' });
    expect(step(run.result, 'kernel-tests')).toMatchObject({ status: 'failed' });
    expect(step(run.result, 'kernel-tests')?.reason).toMatch(
      /pytest was killed by SIGSEGV without writing a JUnit report/,
    );
    expect(step(run.result, 'kernel-tests')?.logTail).toContain('Fatal Python error: Segmentation fault');
    expect(step(run.result, 'microbench')?.status).toBe('passed');
    expectEarlierKept(run, 'kernel-tests');
    expect(run.outcome.exitCode).toBe(1);
    expect(run.outcome.verdict).toBe('failed');
  });

  it('pytest hangs past its timeout: timed-out, the whole process group stopped', {
    timeout: 60_000,
  }, async () => {
    const run = await validate(
      { FAKE_PYTEST: 'hang' },
      { 'e2e-backend': 'none' },
      { timeouts: { kernelTestsMs: 1_500 } },
    );
    expect(step(run.result, 'kernel-tests')).toMatchObject({ status: 'timed-out' });
    expect(step(run.result, 'kernel-tests')?.reason).toContain('pytest timed out after 2 s and was stopped');
    const pid = Number(await readFile(join(run.env.FAKE_STATE_DIR, 'pytest.pid'), 'utf8'));
    // it ignored SIGTERM; SIGKILL after the grace period ended it
    expect(alive(pid)).toBe(false);
    expect(step(run.result, 'microbench')?.status).toBe('passed');
    expectEarlierKept(run, 'kernel-tests');
    expect(run.outcome.exitCode).toBe(1);
  });

  it('a failed correctness case: kernel-tests failed naming it, exit 1', { timeout: 60_000 }, async () => {
    const run = await validate({ FAKE_PYTEST: 'fail' }, { 'e2e-backend': 'none' });
    expect(step(run.result, 'kernel-tests')?.reason).toBe(
      'conformance: 1 of 27 cases failed: test_matches_reference[bfloat16-K2048-N7177]',
    );
    const bad = run.result.tests?.find((t) => t.status === 'failed');
    expect(bad).toMatchObject({ dtype: 'bfloat16', k: 2048, n: 7177 });
    expect(bad?.message).toContain('Tensor-likes are not close');
    expect(run.outcome.exitCode).toBe(1);
  });
});

describe('no GPU', () => {
  it('auto: kernel tests under the interpreter, microbench and e2e skipped with the reason, exit 0', {
    timeout: 60_000,
  }, async () => {
    const run = await validate({ FAKE_GPU: 'none' }, { install: 'none' });
    expect(run.result.device).toMatchObject({ vendor: 'cpu', count: 0 });
    expect(run.result.device.cuda).toBeUndefined();
    expect(statuses(run.result)).toMatchObject({
      'kernel-tests': 'passed',
      microbench: 'skipped',
      e2e: 'skipped',
    });
    expect(step(run.result, 'microbench')?.reason).toMatch(
      /^GPU only: no GPU on this machine \(nvidia-smi: exit 9; /,
    );
    expect(await run.log('kernel-tests')).toContain('TRITON_INTERPRET=1');
    expect(run.outcome).toMatchObject({ exitCode: 0, verdict: 'passed' });
  });

  it('an e2e backend asked for by name fails, saying it needs a GPU', { timeout: 60_000 }, async () => {
    const run = await validate({ FAKE_GPU: 'none' }, { 'e2e-backend': 'vllm-serve' });
    expect(step(run.result, 'e2e')).toMatchObject({ status: 'failed' });
    expect(step(run.result, 'e2e')?.reason).toMatch(
      /^e2e-backend vllm-serve needs a GPU: no GPU on this machine/,
    );
    expect(run.result.tests?.filter((t) => t.group === 'conformance')).toHaveLength(27);
  });
});

describe('patch drift', () => {
  it('apply-bundle failed with file:line, kernel tests from the bundle, no A/B of identical arms', {
    timeout: 60_000,
  }, async () => {
    const drifted = await makeVllmRepo({ drift: true });
    const run = await validate({}, { 'vllm-repository': drifted.dir });
    expect(step(run.result, 'apply-bundle')).toMatchObject({
      status: 'failed',
      reason:
        'patch drift: 1 of 3 sites not recognised (vllm/model_executor/models/qwen2_moe.py:121 unmatched: sigmoid of a gate module in no known form)',
    });
    expect(run.result.patch?.sites.find((x) => x.status === 'unmatched')).toMatchObject({
      file: 'vllm/model_executor/models/qwen2_moe.py',
      line: 121,
      source: 'out = F.sigmoid(self.expert_gate(x)[0]).mul(out)',
    });
    expect(step(run.result, 'checkout')?.status).toBe('passed');
    expect(run.result.identity.vllmSha).toBe(drifted.sha);
    expect(await run.log('kernel-tests')).toContain(`running test_fused_shared_expert_gate.py in ${bundle}`);
    expect(run.result.tests?.filter((t) => t.group === 'conformance')).toHaveLength(27);
    expect(step(run.result, 'e2e')?.reason).toBe(
      'the bundle is not applied, so both arms would run the same code',
    );
    expect(run.report).toContain('apply-bundle');
    expect(run.outcome.exitCode).toBe(1);
  });
});
