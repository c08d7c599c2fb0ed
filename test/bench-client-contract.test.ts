// The contract with vLLM's own client: the real `vllm bench serve` of vLLM 0.33.0 (run from its PyPI source by
// test/contract/vllm_bench_serve.py) against the fake `vllm serve`, through the e2e runner with the argv it builds.
// One server answers well, one fails every fourth request, one dies; the runner's parser reads the client's files.
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_VLLM_VERSION } from '../src/inputs.js';
import { runServeAb, type ServeAbOptions } from '../src/pipeline/e2e.js';
import { parseBenchServe } from '../src/results/parsers/bench-serve.js';
import { fetchVllmSource } from '../src/vllm/pypi.js';
import { FAKE_BIN, fakeEnv, stepHandle } from './fakes/world.js';
import { oneLook, ROOT, tempDir } from './helpers.js';

const run = promisify(execFile);
const CONTRACT = join(ROOT, 'test', 'contract');
/** what --metadata adds to the result file: the runner's, and each arm's environment */
const METADATA = ['arm', 'repeat', 'cell', 'VLLM_FUSED_SHARED_EXPERT_GATE'];

let client: { python: string; source: string; tokenizer: string };
/** the seconds of the CLI's runs in the first test, which the bench session is compared with */
let cliRuns: number[] = [];

/** Seconds of each bench run as the step's log has them. */
const runSeconds = (log: string) =>
  [...log.matchAll(/bench serve[^\n]*\n(?:(?!\$ )[^\n]*\n)*?\[exit 0, ([\d.]+) s\]/g)].map((m) =>
    Number(m[1]),
  );

beforeAll(async () => {
  // first run on a machine: the client's venv (about 30 MB of wheels) and the sdist; cached after
  const { stdout } = await run(join(ROOT, 'scripts', 'python-env.sh'), ['bench-client'], {
    timeout: 900_000,
    maxBuffer: 1 << 24,
  });
  const python = join(stdout.trim(), 'bin', 'python');
  const tokenizer = await tempDir('vkci-tokenizer-');
  await run(python, [join(CONTRACT, 'make_tokenizer.py'), tokenizer]);
  client = { python, source: await fetchVllmSource(DEFAULT_VLLM_VERSION), tokenizer };
}, 900_000);

/** One cell (64 in, 16 out, concurrency 4: 16 prompts a run), one pair, through the runner. */
async function serveAb(fake: Record<string, string>, more: Partial<ServeAbOptions> = {}) {
  const real = fake.FAKE_VLLM_REAL_CLIENT !== '';
  const env = await fakeEnv({
    FAKE_GPU: 'nvidia',
    FAKE_VLLM_REAL_CLIENT: client.python,
    VLLM_SOURCE: client.source,
    HF_HUB_OFFLINE: '1',
    FAKE_ITL_MS: '1',
    ...fake,
  });
  if (!real) delete env.FAKE_VLLM_REAL_CLIENT;
  const step = await stepHandle('e2e');
  const e2e = await runServeAb(step, {
    vllm: join(FAKE_BIN, 'vllm'),
    model: 'Qwen/Qwen3-30B-A3B',
    tokenizer: client.tokenizer,
    tensorParallelSize: 1,
    shapes: [{ inputLen: 64, outputLen: 16 }],
    concurrencies: [4],
    repeats: 1,
    method: oneLook(1),
    env,
    vendor: 'nvidia',
    swap: 'sleep',
    readyTimeoutMs: 20_000,
    benchTimeoutMs: 120_000,
    waitForGpuMemory: async () => true,
    // the client's contract, run for run: warm-ups have tests of their own (e2e-integrity)
    warmup: false,
    ...more,
  });
  const rawDir = join(step.outDir, 'e2e');
  const raw = async () => {
    const files = (await readdir(rawDir)).filter((f) => f.endsWith('.json')).sort();
    return Promise.all(files.map(async (f) => ({ file: f, text: await readFile(join(rawDir, f), 'utf8') })));
  };
  return { e2e, log: await readFile(step.logFile, 'utf8'), raw };
}

describe("vLLM 0.33.0's own bench client", () => {
  it('accepts every flag the runner passes; its result file has the keys the fake writes; the parser reads it', {
    timeout: 180_000,
  }, async () => {
    const { e2e, log, raw } = await serveAb({});
    cliRuns = runSeconds(log);
    expect(log).toContain('Serving Benchmark Result');
    expect(e2e.cells[0]).toMatchObject({ status: 'ok' });
    const files = await raw();
    expect(files.map((f) => f.file)).toEqual([
      'in64-out16-c4-baseline-r1.json',
      'in64-out16-c4-patched-r1.json',
    ]);
    for (const { file, text } of files) {
      const parsed = parseBenchServe(text, file);
      expect(parsed).toMatchObject({ completed: 16, failed: 0, maxConcurrency: 4 });
      const arm = file.includes('baseline') ? 'baseline' : 'patched';
      expect(e2e.cells[0][arm]).toEqual([parsed.outputThroughput]);
      const data = JSON.parse(text);
      expect(data).toMatchObject({ arm, repeat: '1', cell: 'in64-out16-c4', total_output_tokens: 16 * 16 });
    }
    // the fake bench is the double the other tests use: the same keys, no more, no fewer
    const fake = await serveAb({ FAKE_VLLM_REAL_CLIENT: '' });
    const keys = (text: string) =>
      Object.keys(JSON.parse(text))
        .filter((k) => !METADATA.includes(k))
        .sort();
    const [realFile] = files;
    const [fakeFile] = await fake.raw();
    expect(keys(fakeFile.text)).toEqual(keys(realFile.text));
    expect(keys(realFile.text)).toHaveLength(36);
  });

  it('failed requests: the client exits 0 with a quarter failed; the runner repeats the run once, then marks the cell', {
    timeout: 180_000,
  }, async () => {
    const { e2e, log, raw } = await serveAb({ FAKE_VLLM_SERVE: 'fail-every:4' });
    expect(log).toContain('Failed requests:                         4');
    expect(log).toMatch(
      /4 of 16 requests failed in e2e\/in64-out16-c4-baseline-r1\.json; repeating the run once/,
    );
    expect(e2e.cells[0]).toMatchObject({ status: 'failed', baseline: [], patched: [] });
    expect(e2e.cells[0].reason).toContain('4 of 16 requests failed, also when repeated: not a clean sample');
    const files = await raw();
    expect(files.map((f) => f.file)).toEqual([
      'in64-out16-c4-baseline-r1-again.json',
      'in64-out16-c4-baseline-r1.json',
    ]);
    for (const { text } of files) expect(parseBenchServe(text)).toMatchObject({ completed: 12, failed: 4 });
  });

  it('a server that dies mid-run: the client still exits 0 and writes its file; the runner names the death', {
    timeout: 180_000,
  }, async () => {
    // the 4 warm-ups, then the 10th request kills the engine
    const { e2e, log, raw } = await serveAb({ FAKE_VLLM_SERVE: 'die-after:10' });
    expect(log).toMatch(/Cannot connect to host 127\.0\.0\.1/);
    expect(log).toMatch(/\[exit 0, [\d.]+ s\]/);
    expect(e2e.cells[0].status).toBe('failed');
    expect(e2e.cells[0].reason).toMatch(
      /baseline arm, repeat 1: vllm serve died during the cell \(exit 1: RuntimeError: CUDA error: an illegal memory access was encountered\)/,
    );
    const [file] = await raw();
    const parsed = parseBenchServe(file.text);
    expect(parsed.failed).toBeGreaterThan(0);
    expect(parsed.completed + parsed.failed).toBe(16);
  });

  it('through the bench session: the client imported once, a fork per run, the same files; each run costs less', {
    timeout: 240_000,
  }, async () => {
    // the CLI's runs of the first test, or of its own A/B when run alone
    if (cliRuns.length === 0) cliRuns = runSeconds((await serveAb({})).log);
    const session = await serveAb(
      { PYTHONPATH: client.source },
      { benchSession: { python: client.python, script: join(ROOT, 'kernels', 'bench_session.py') } },
    );
    expect(session.log).toContain("bench session: vLLM's client imported once; each run is a fork of it");
    expect(session.log).toContain('Serving Benchmark Result');
    expect(session.e2e.cells[0]).toMatchObject({ status: 'ok' });
    const files = await session.raw();
    expect(files.map((f) => f.file)).toEqual([
      'in64-out16-c4-baseline-r1.json',
      'in64-out16-c4-patched-r1.json',
    ]);
    for (const { text } of files) expect(parseBenchServe(text)).toMatchObject({ completed: 16, failed: 0 });
    // the CLI pays the client's imports on every run, the session once
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const perSession = runSeconds(session.log);
    expect(cliRuns).toHaveLength(2);
    expect(perSession).toHaveLength(2);
    console.log(
      `bench run, mean of 2: CLI ${mean(cliRuns).toFixed(1)} s, session ${mean(perSession).toFixed(1)} s`,
    );
    expect(mean(perSession)).toBeLessThan(mean(cliRuns) / 2);
  });
});
