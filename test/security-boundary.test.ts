// The scrub at the boundary and the children's environment: hostile test code that prints every credential it
// can reach leaves none in the RunResult, the report, the raw logs or junit.xml.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultDeps, runValidate } from '../src/modes/validate.js';
import { runLogged } from '../src/pipeline/process.js';
import { childEnvironment, modelHubCredentials } from '../src/security/child-env.js';
import {
  deps,
  FAKE_BIN,
  fakeEnv,
  makeBundle,
  makeVllmRepo,
  pipelineConfig,
  recordingHost,
} from './fakes/world.js';
import { tempDir } from './helpers.js';

// not a recognisable token shape: only the value itself can find it
const TOKEN = 'v1.0123456789abcdef0123456789abcdef';
const HF = `hf_${'aBcD'.repeat(8)}xy`;

/** What a self-hosted runner hands the action's process. */
const RUNNER_ENV = {
  PATH: '/usr/local/bin:/usr/bin',
  HOME: '/home/runner',
  'INPUT_GITHUB-TOKEN': TOKEN,
  GITHUB_TOKEN: TOKEN,
  GH_TOKEN: TOKEN,
  ACTIONS_RUNTIME_TOKEN: 'runtime-token-value',
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'oidc-token-value',
  ACTIONS_ID_TOKEN_REQUEST_URL: 'https://token.actions.example/x',
  GITHUB_ENV: '/home/runner/_work/_temp/_runner_file_commands/set_env_x',
  GITHUB_OUTPUT: '/home/runner/_work/_temp/_runner_file_commands/set_output_x',
  GITHUB_PATH: '/home/runner/_work/_temp/_runner_file_commands/add_path_x',
  HF_TOKEN: HF,
  HUGGING_FACE_HUB_TOKEN: HF,
  VLLM_API_KEY: 'sk-served',
  CUDA_VISIBLE_DEVICES: '0,1',
  HIP_VISIBLE_DEVICES: '0',
  ROCR_VISIBLE_DEVICES: '0',
  HSA_OVERRIDE_GFX_VERSION: '9.4.2',
  NCCL_DEBUG: 'WARN',
  VLLM_USE_V1: '1',
  TRITON_CACHE_DIR: '/cache/triton',
  HF_HOME: '/cache/hf',
  TORCHINDUCTOR_CACHE_DIR: '/cache/inductor',
  PYTHONPATH: '/opt/extra',
  LD_LIBRARY_PATH: '/usr/local/cuda/lib64',
  LANG: 'C.UTF-8',
};

describe('the child-process environment', () => {
  it('passes what vLLM, Triton and pytest need and no token or workflow file', () => {
    const env = childEnvironment(RUNNER_ENV);
    expect(Object.keys(env).sort()).toEqual(
      [
        'PATH',
        'HOME',
        'CUDA_VISIBLE_DEVICES',
        'HIP_VISIBLE_DEVICES',
        'ROCR_VISIBLE_DEVICES',
        'HSA_OVERRIDE_GFX_VERSION',
        'NCCL_DEBUG',
        'VLLM_USE_V1',
        'TRITON_CACHE_DIR',
        'HF_HOME',
        'TORCHINDUCTOR_CACHE_DIR',
        'PYTHONPATH',
        'LD_LIBRARY_PATH',
        'LANG',
      ].sort(),
    );
  });

  it('the validate mode builds it for its children (the github-token input never reaches pytest)', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { 'INPUT_GITHUB-TOKEN': TOKEN, GH_TOKEN: TOKEN, HF_TOKEN: HF });
    try {
      const config = await pipelineConfig({});
      const env = defaultDeps(config, recordingHost()).env;
      for (const name of [
        'INPUT_GITHUB-TOKEN',
        'GH_TOKEN',
        'GITHUB_TOKEN',
        'HF_TOKEN',
        'ACTIONS_RUNTIME_TOKEN',
      ])
        expect(env[name]).toBeUndefined();
      expect(env.PATH).toBe(process.env.PATH);
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });

  it('hostile test code run in it sees no credential', async () => {
    const dir = await tempDir('vkci-env-');
    const env = { ...childEnvironment({ ...RUNNER_ENV, PATH: `${FAKE_BIN}:${process.env.PATH}` }) };
    const r = await runLogged(join(FAKE_BIN, 'pytest'), [], {
      env: { ...env, FAKE_PYTEST: 'leak' },
      cwd: dir,
      timeoutMs: 30_000,
      logFile: join(dir, 'log'),
    });
    expect(r.stdout).toContain('leaking: \n');
    expect(r.stdout).not.toContain(TOKEN);
    expect(r.stdout).not.toContain(HF);
  });

  it('gives the Hugging Face token to vllm serve alone', () => {
    expect(modelHubCredentials(RUNNER_ENV)).toEqual({ HF_TOKEN: HF, HUGGING_FACE_HUB_TOKEN: HF });
    expect(modelHubCredentials({ PATH: '/bin' })).toEqual({});
  });
});

describe('the scrub at the boundary', () => {
  let repo: { dir: string; sha: string };
  let bundle: string;
  beforeAll(async () => {
    repo = await makeVllmRepo();
    bundle = await makeBundle();
  });

  it('keeps a token that test code printed into its test id and message out of every output', {
    timeout: 60_000,
  }, async () => {
    // the test code got the token some other way (a file, /proc/<parent>/environ): the scrub is the last line
    const env = await fakeEnv({
      FAKE_GPU: 'nvidia',
      FAKE_VLLM_VERSION: '0.33.0',
      FAKE_PYTEST: 'leak',
      FAKE_LEAK: `${TOKEN}\u001b[0m|${TOKEN.slice(0, 8)}\r${TOKEN.slice(8)}|${HF}`,
    });
    const config = await pipelineConfig({
      'vllm-repository': repo.dir,
      'vllm-ref': 'v0.33.0',
      bundle,
      install: 'precompiled',
      'e2e-backend': 'none',
      'github-token': TOKEN,
    });
    const host = recordingHost();
    const outcome = await runValidate(config, host, await deps(env));
    const result = await readFile(outcome.resultPath as string, 'utf8');
    expect(result).toContain('test_leak[***');
    const outputs: [string, string][] = [
      ['run-result.json', result],
      ['report.md', await readFile(outcome.reportPath as string, 'utf8')],
    ];
    const out = config.outputDir;
    for (const name of await readdir(out, { recursive: true })) {
      if (/\.(log|xml)$/.test(name)) outputs.push([name, await readFile(join(out, name), 'utf8')]);
    }
    expect(outputs.map(([n]) => n)).toEqual(expect.arrayContaining(['junit.xml', 'logs/kernel-tests.log']));
    for (const [name, text] of outputs) {
      expect({ name, leaked: text.includes(TOKEN) || text.includes(TOKEN.slice(8)) }).toEqual({
        name,
        leaked: false,
      });
      expect({ name, leaked: text.includes(HF) }).toEqual({ name, leaked: false });
    }
  });
});
