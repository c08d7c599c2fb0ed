import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeSmallBundle, makeVllmRepo } from './fakes/world.js';
import { parseOutputFile, ROOT, runNode, runnerEnv } from './helpers.js';

describe('dist/index.js on a runner-like environment', () => {
  it('fails fast on a bad input, naming it, and writes no outputs', async () => {
    const { env, dir } = await runnerEnv({ mode: 'publish' });
    const r = await runNode(['dist/index.js'], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      "::error::Invalid mode 'publish'. Expected one of: validate, report, nightly.",
    );
    expect(await readFile(join(dir, 'output'), 'utf8')).toBe('');
  });

  it('rejects malformed shapes with what it accepts', async () => {
    const { env } = await runnerEnv({ shapes: '1024x' });
    const r = await runNode(['dist/index.js'], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("::error::Invalid shapes '1024x'. Expected comma-separated INPUTxOUTPUT");
  });
});

describe('dist/index.js writes its outputs and job summary', () => {
  const python = process.env.VLLM_KERNEL_CI_PYTHON ?? 'python3';

  it('validate: RunResult, report, outputs and summary', { timeout: 120_000 }, async () => {
    // a small local vLLM-shaped repository and bundle keep this fast; README command 1 runs the real defaults
    const repo = await makeVllmRepo();
    const bundle = await makeSmallBundle();
    const { env, dir } = await runnerEnv({
      mode: 'validate',
      'output-dir': 'out',
      'e2e-backend': 'none',
      'vllm-repository': repo.dir,
      'vllm-ref': 'main',
      bundle,
      python,
    });
    env.VLLM_KERNEL_CI_CACHE = join(dir, 'cache');
    const r = await runNode([join(ROOT, 'dist/index.js')], env, dir);
    expect(r.stdout).not.toContain('::error::');
    const outputs = parseOutputFile(await readFile(join(dir, 'output'), 'utf8'));
    expect(outputs['result-path']).toBe(join(dir, 'out', 'run-result.json'));
    expect(outputs['report-path']).toBe(join(dir, 'out', 'report.md'));
    expect(outputs.verdict).toBe('passed');
    const result = JSON.parse(await readFile(outputs['result-path'], 'utf8'));
    expect(result.schema).toBe(1);
    expect(result.identity.runner).toBe('h100-runner-1');
    expect(result.identity.vllmSha).toBe(repo.sha);
    const status = (name: string) => result.steps.find((s: { name: string }) => s.name === name).status;
    expect(status('apply-bundle')).toBe('passed');
    expect(status('kernel-tests')).toBe('passed');
    // the real patch engine applied the bundle's manifest to vLLM 0.33.0's files
    expect(result.patch.sites).toContainEqual(
      expect.objectContaining({
        file: 'vllm/model_executor/models/qwen2_moe.py',
        line: 121,
        status: 'applied',
      }),
    );
    const summary = await readFile(join(dir, 'summary.md'), 'utf8');
    expect(summary.trim()).toBe((await readFile(outputs['report-path'], 'utf8')).trim());
  });

  it('validate: an unreachable repository fails fast, naming it, and still writes the RunResult', {
    timeout: 60_000,
  }, async () => {
    const bundle = await makeSmallBundle();
    const unreachable = 'http://127.0.0.1:9/nobody/vllm.git';
    const { env, dir } = await runnerEnv({
      mode: 'validate',
      'output-dir': 'out',
      'vllm-repository': unreachable,
      'vllm-ref': 'main',
      bundle,
      python,
    });
    env.VLLM_KERNEL_CI_CACHE = join(dir, 'cache');
    const started = Date.now();
    const r = await runNode([join(ROOT, 'dist/index.js')], env, dir);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`::error::Cannot reach vLLM repository '${unreachable}'`);
    const outputs = parseOutputFile(await readFile(join(dir, 'output'), 'utf8'));
    expect(outputs.verdict).toBe('failed');
    const result = JSON.parse(await readFile(outputs['result-path'], 'utf8'));
    expect(result.steps[0]).toMatchObject({ name: 'checkout', status: 'failed' });
    expect(result.steps.slice(1).every((s: { status: string }) => s.status === 'skipped')).toBe(true);
  });
});
