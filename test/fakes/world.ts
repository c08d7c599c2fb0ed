// A small world for pipeline tests: a real git repository shaped like vLLM, a bundle, the fake tools on PATH.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { type Config, parseConfig } from '../../src/config.js';
import type { Host } from '../../src/host.js';
import type { ApplyBundleOptions, PipelineDeps } from '../../src/pipeline/index.js';
import type { Patch } from '../../src/results/run-result.js';
import { ROOT, tempDir } from '../helpers.js';

export const FAKE_BIN = resolve(import.meta.dirname, 'bin');
export const FAKE_PYTHON = join(FAKE_BIN, 'python');

const run = promisify(execFile);

// inside `if self.expert_gate is not None:`, so the file is valid Python for the real patch engine
export const GATE_LINE = '            out = F.sigmoid(self.expert_gate(x)[0]) * out';

/** A git repository with the files of vLLM the gate touches, one commit, tagged and on branch main. */
export async function makeVllmRepo(options: { drift?: boolean } = {}): Promise<{ dir: string; sha: string }> {
  const dir = await tempDir('vkci-vllm-');
  const models = join(dir, 'vllm/model_executor/models');
  await mkdir(models, { recursive: true });
  await mkdir(join(dir, 'tests/kernels/moe'), { recursive: true });
  const gate = options.drift ? '            out = self.gate_act(self.expert_gate(x)[0], out)' : GATE_LINE;
  await writeFile(
    join(models, 'qwen2_moe.py'),
    [
      'import torch.nn.functional as F',
      '',
      'class Qwen2MoeMLP:',
      '    def forward(self, x):',
      '        out = self.down_proj(self.act_fn(self.gate_up_proj(x)[0]))[0]',
      '        if self.expert_gate is not None:',
      gate,
      '        return out',
      '',
    ].join('\n'),
  );
  await writeFile(join(dir, 'tests/kernels/moe/__init__.py'), '');
  const git = (...args: string[]) =>
    run('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', '-c', 'init.defaultBranch=main', ...args], {
      cwd: dir,
    });
  await git('init', '--quiet');
  await git('add', '-A');
  await git('commit', '--quiet', '-m', 'vLLM-like tree');
  await git('tag', 'v0.33.0');
  const { stdout } = await git('rev-parse', 'HEAD');
  return { dir, sha: stdout.trim() };
}

/** A bundle directory with the files the pipeline looks for; the fake python plays its scripts. */
export async function makeBundle(): Promise<string> {
  const dir = await tempDir('vkci-bundle-');
  await writeFile(join(dir, 'test_fused_shared_expert_gate.py'), 'def test_placeholder():\n    pass\n');
  await writeFile(join(dir, 'benchmark_shared_expert_gate.py'), '');
  await writeFile(join(dir, 'e2e_model.py'), '');
  // the real manifest, so the real patch engine (the action's default) can apply this bundle too
  await copyFile(join(ROOT, 'kernels/fused_shared_expert_gate/manifest.json'), join(dir, 'manifest.json'));
  await writeFile(join(dir, 'shared_expert_gate.py'), '');
  return dir;
}

/**
 * Finds the gate line in qwen2_moe.py and copies the bundle's test into tests/kernels/moe, as the patch step
 * does; a tree without the line is drift.
 */
export async function applyBundleInTest(o: ApplyBundleOptions): Promise<Patch> {
  const file = 'vllm/model_executor/models/qwen2_moe.py';
  const lines = (await readFile(join(o.vllmDir, file), 'utf8')).split('\n');
  const i = lines.indexOf(GATE_LINE);
  const site = {
    file,
    line: i >= 0 ? i + 1 : lines.findIndex((l) => l.includes('expert_gate(x)')) + 1,
    status: i >= 0 ? ('applied' as const) : ('unmatched' as const),
    source: i >= 0 ? lines[i] : (lines.find((l) => l.includes('expert_gate(x)')) ?? ''),
    symbol: 'Qwen2MoeMLP.forward',
  };
  const to = 'tests/kernels/moe/test_fused_shared_expert_gate.py';
  await writeFile(join(o.vllmDir, to), await readFile(join(o.bundleDir, 'test_fused_shared_expert_gate.py')));
  return {
    sites: [site],
    copied: [{ from: 'test_fused_shared_expert_gate.py', to }],
    coveredModels: ['Qwen3-Next'],
  };
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
    applyBundle: applyBundleInTest,
    timeouts: { serverReadyMs: 20_000, benchMs: 30_000, kernelTestsMs: 60_000, gpuMemoryReleaseMs: 10_000 },
    ...more,
  };
}
