// A small world for pipeline tests: a real git repository of vLLM's files, the real bundle, the fake tools on PATH.
import { execFile } from 'node:child_process';
import { appendFile, copyFile, cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { type Config, parseConfig } from '../../src/config.js';
import type { Host } from '../../src/host.js';
import { DEFAULT_VLLM_VERSION } from '../../src/inputs.js';
import { applyBundle } from '../../src/patch/engine.js';
import { NO_AUTO_GC } from '../../src/pipeline/git-settings.js';
import { runLogged, startLogged } from '../../src/pipeline/process.js';
import type { StepHandle } from '../../src/pipeline/step.js';
import type { PipelineDeps } from '../../src/pipeline/validate-pipeline.js';
import type { StepName } from '../../src/results/run-result.js';
import { NO_SANDBOX, sandboxFor } from '../../src/security/sandbox.js';
import { fetchVllmSource } from '../../src/vllm/pypi.js';
import { ROOT, tempDir } from '../helpers.js';

export const FAKE_BIN = resolve(import.meta.dirname, 'bin');
export const FAKE_PYTHON = join(FAKE_BIN, 'python');

/**
 * A handle for one step, writing its log to logs/<name>.log of a fresh output directory as StepRecorder's
 * handles do, without recording the step: what a step's body throws reaches the test.
 */
export async function stepHandle(name: StepName): Promise<StepHandle> {
  const outDir = await tempDir(`vkci-${name}-`);
  await mkdir(join(outDir, 'logs'), { recursive: true });
  const logFile = join(outDir, 'logs', `${name}.log`);
  return {
    name,
    logFile,
    outDir,
    scratch: outDir,
    sandbox: (o) => sandboxFor(NO_SANDBOX, { ...o, scratch: outDir }),
    log: (line) => appendFile(logFile, `${line}\n`),
    run: (file, args, o) => runLogged(file, args, { ...o, logFile }),
    start: (file, args, o) => startLogged(file, args, { ...o, logFile }),
    finish: () => {},
  };
}

const run = promisify(execFile);

/** vLLM's files the gate touches, as published on PyPI (the sdist is downloaded once and cached). */
const VLLM_FILES = [
  'vllm/model_executor/models/qwen2_moe.py',
  'vllm/model_executor/models/qwen3_moe.py',
  'vllm/model_executor/models/qwen3_next.py',
  'vllm/model_executor/models/transformers/fusers/moe.py',
];
export const GATE_LINE = '            out = F.sigmoid(self.expert_gate(x)[0]) * out';
/** A form no known gate pattern matches: what a refactor upstream would leave. */
export const DRIFTED_LINE = '            out = F.sigmoid(self.expert_gate(x)[0]).mul(out)';

/**
 * A git repository holding vLLM 0.33.0's Qwen MoE model files from PyPI, one commit, tagged v0.33.0 and on
 * branch main; with `drift`, qwen2_moe.py's gate line is rewritten into a form the patch does not know.
 */
export async function makeVllmRepo(options: { drift?: boolean } = {}): Promise<{ dir: string; sha: string }> {
  const source = await fetchVllmSource(DEFAULT_VLLM_VERSION);
  const dir = await tempDir('vkci-vllm-');
  for (const file of VLLM_FILES) {
    await mkdir(dirname(join(dir, file)), { recursive: true });
    await copyFile(join(source, file), join(dir, file));
  }
  await mkdir(join(dir, 'tests/kernels/moe'), { recursive: true });
  await writeFile(join(dir, 'tests/kernels/moe/__init__.py'), '');
  if (options.drift) {
    const file = join(dir, VLLM_FILES[0]);
    const text = await readFile(file, 'utf8');
    if (!text.includes(GATE_LINE))
      throw new Error(`vLLM ${DEFAULT_VLLM_VERSION}'s qwen2_moe.py no longer has the gate line`);
    await writeFile(file, text.replace(GATE_LINE, DRIFTED_LINE));
  }
  const git = (...args: string[]) =>
    run('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', '-c', 'init.defaultBranch=main', ...args], {
      cwd: dir,
    });
  await git('init', '--quiet');
  for (const args of NO_AUTO_GC) await git(...args);
  await git('add', '-A');
  await git('commit', '--quiet', '-m', `vLLM ${DEFAULT_VLLM_VERSION}'s Qwen MoE files`);
  await git('tag', `v${DEFAULT_VLLM_VERSION}`);
  const { stdout } = await git('rev-parse', 'HEAD');
  return { dir, sha: stdout.trim() };
}

/**
 * A copy of the real bundle (manifest, kernel, tests, scripts); the fake python plays its scripts. A copy, so a
 * test's bundle path is its own.
 */
export async function makeBundle(): Promise<string> {
  const dir = join(await tempDir('vkci-bundle-'), 'fused_shared_expert_gate');
  await cp(join(ROOT, 'kernels/fused_shared_expert_gate'), dir, {
    recursive: true,
    filter: (src) => !/__pycache__|\.pytest_cache/.test(src),
  });
  return dir;
}

/**
 * A bundle of the real manifest with one small test in place of the kernel's files: what an action-level test
 * needs to run every step quickly on the CPU.
 */
export async function makeSmallBundle(): Promise<string> {
  const dir = join(await tempDir('vkci-bundle-'), 'small_gate');
  await mkdir(dir, { recursive: true });
  const manifest = JSON.parse(
    await readFile(join(ROOT, 'kernels/fused_shared_expert_gate/manifest.json'), 'utf8'),
  );
  manifest.name = 'small_gate';
  manifest.files = [{ from: 'test_small_gate.py', to: 'tests/kernels/moe/test_small_gate.py' }];
  delete manifest.op; // no kernel file of its own to name
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  await writeFile(
    join(dir, 'test_small_gate.py'),
    'import math\n\n\ndef test_sigmoid_gate_is_one_half_at_zero():\n    assert math.isclose(1 / (1 + math.exp(-0.0)), 0.5)\n',
  );
  return dir;
}

export interface RecordingHost extends Host {
  lines: string[];
  groups: string[];
  uploads: { name: string; files: string[]; rootDir: string }[];
}

export function recordingHost(env: Record<string, string> = {}): RecordingHost {
  const lines: string[] = [];
  const groups: string[] = [];
  const uploads: RecordingHost['uploads'] = [];
  return {
    lines,
    groups,
    uploads,
    uploadArtifact: async (name, files, rootDir) => {
      uploads.push({ name, files, rootDir });
    },
    info: (m) => lines.push(m),
    warning: (m) => lines.push(`warning: ${m}`),
    group: async (name, fn) => {
      groups.push(name);
      return fn();
    },
    setOutput: () => {},
    summary: async () => {},
    setSecret: () => {},
    env,
  };
}

/** The runner's environment: fakes first on PATH, their state in its own directory. */
export async function fakeEnv(extra: Record<string, string> = {}): Promise<Record<string, string>> {
  const state = await tempDir('vkci-state-');
  return {
    PATH: `${FAKE_BIN}:${process.env.PATH ?? ''}`,
    HOME: process.env.HOME ?? state,
    FAKE_STATE_DIR: state,
    // the fake server's model worker runs the tree's op where the tree has it (the arm probe counts it)
    FAKE_VLLM_GATE_OP: 'vllm.model_executor.layers.fused_moe.shared_expert_gate:fused_shared_expert_gate',
    ...(process.env.VLLM_KERNEL_CI_PYTHON ? { FAKE_VLLM_PYTHON: process.env.VLLM_KERNEL_CI_PYTHON } : {}),
    ...extra,
  };
}

export async function pipelineConfig(inputs: Record<string, string>): Promise<Config> {
  const out = await tempDir('vkci-out-');
  const values: Record<string, string> = {
    'output-dir': out,
    python: FAKE_PYTHON,
    'runner-label': 'test-runner',
    ...inputs,
  };
  return parseConfig((name) => values[name]);
}

export async function deps(
  env: Record<string, string>,
  more: Partial<PipelineDeps> = {},
): Promise<PipelineDeps> {
  return {
    env,
    reposDir: join(await tempDir('vkci-repos-'), 'repos'),
    applyBundle,
    timeouts: { serverReadyMs: 20_000, benchMs: 30_000, kernelTestsMs: 60_000, gpuMemoryReleaseMs: 10_000 },
    ...more,
  };
}
