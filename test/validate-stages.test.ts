// The two stages of validate: the kernel stage records its stage and the e2e's plan; the e2e stage runs only after
// a kernel stage that passed on the same runner for the same commit, and otherwise skips every step saying why.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { runValidate } from '../src/modes/validate.js';
import { parseRunResult, type RunResult } from '../src/results/run-result.js';
import { kernelStageBlocks } from '../src/stats/analyse.js';
import { deps, fakeEnv, makeBundle, makeVllmRepo, pipelineConfig, recordingHost } from './fakes/world.js';
import { tempDir } from './helpers.js';
import { fullRun } from './report-fixtures.js';

const T = { minEffectPct: 2, failOnRegression: false };
const SHA = '3f1c2a9e8b7d6c5f4e3d2c1b0a9f8e7d6c5b4a39';

function kernelStage(options: { failCases?: number } = {}): RunResult {
  const r = fullRun({ runner: 'mi355x', ...options });
  r.stage = 'kernel';
  delete r.e2e;
  return r;
}

async function readResult(path: string | undefined): Promise<RunResult> {
  return parseRunResult(JSON.parse(await readFile(path as string, 'utf8')), String(path));
}

describe('kernelStageBlocks: whether an e2e follows a kernel stage', () => {
  it('a passed kernel stage of this runner and commit lets it run', () => {
    expect(kernelStageBlocks(kernelStage(), 'mi355x', SHA, T)).toBeUndefined();
  });

  it('says why it does not: a failed case, another runner or commit, a cancel, not a kernel stage', () => {
    expect(kernelStageBlocks(kernelStage({ failCases: 1 }), 'mi355x', SHA, T)).toMatch(
      /^the kernel stage did not pass on mi355x: 1 correctness case failed on mi355x/,
    );
    expect(kernelStageBlocks(kernelStage(), 'h100', SHA, T)).toBe(
      "kernel-result is mi355x's kernel stage, not this runner's (h100)",
    );
    expect(kernelStageBlocks(kernelStage(), 'mi355x', 'b'.repeat(40), T)).toContain(
      `not of ${'b'.repeat(40)}`,
    );
    const cancelled = { ...kernelStage(), cancelled: { signal: 'SIGTERM', at: '2026-12-03T14:00:00Z' } };
    expect(kernelStageBlocks(cancelled, 'mi355x', SHA, T)).toBe(
      'the kernel stage on mi355x was cancelled (SIGTERM)',
    );
    expect(kernelStageBlocks({ ...kernelStage(), stage: 'all' }, 'mi355x', SHA, T)).toBe(
      'kernel-result holds a all stage, not the kernel stage',
    );
  });

  it('kernel-result is for stage e2e only: a config error otherwise', () => {
    expect(() => parseConfig((n) => ({ 'kernel-result': 'k.json', stage: 'kernel' })[n])).toThrow(
      "Invalid kernel-result with stage 'kernel'",
    );
  });
});

describe('validate by stage on the fake tools', () => {
  it('stage kernel: its steps, install and e2e skipped as the e2e stage, the stage and the e2e plan recorded', {
    timeout: 120_000,
  }, async () => {
    const repo = await makeVllmRepo();
    const env = await fakeEnv({ FAKE_GPU: 'nvidia', FAKE_VLLM_VERSION: '0.33.0' });
    const config = await pipelineConfig({
      'vllm-repository': repo.dir,
      'vllm-ref': 'v0.33.0',
      bundle: await makeBundle(),
      install: 'precompiled',
      stage: 'kernel',
      'e2e-backend': 'vllm-serve',
    });
    const outcome = await runValidate(config, recordingHost(), await deps(env));
    const r = await readResult(outcome.resultPath);
    expect(outcome.exitCode).toBe(0);
    expect(r.stage).toBe('kernel');
    // the default grid's plan, from the published rates: what the report's "e2e: running" line quotes
    expect(r.e2ePlanMinutes).toBeGreaterThan(60);
    expect(r.steps.map((s) => [s.name, s.status])).toEqual([
      ['checkout', 'passed'],
      ['apply-bundle', 'passed'],
      ['install', 'skipped'],
      ['detect-device', 'passed'],
      ['compile', 'passed'],
      ['kernel-tests', 'passed'],
      ['microbench', 'passed'],
      ['e2e', 'skipped'],
    ]);
    expect(r.steps.find((s) => s.name === 'e2e')?.reason).toBe('stage kernel: part of the e2e stage');
  });

  it('stage e2e after a kernel stage that failed: every step skipped with the reason, nothing run', {
    timeout: 60_000,
  }, async () => {
    const dir = await tempDir('vkci-stage-');
    await mkdir(join(dir, 'kernel'), { recursive: true });
    const path = join(dir, 'kernel', 'run-result.json');
    await writeFile(path, JSON.stringify(kernelStage({ failCases: 2 })));
    const env = await fakeEnv({ FAKE_GPU: 'nvidia', FAKE_VLLM_VERSION: '0.33.0' });
    const config = await pipelineConfig({
      'vllm-repository': (await makeVllmRepo()).dir,
      'vllm-ref': 'v0.33.0',
      bundle: await makeBundle(),
      install: 'precompiled',
      stage: 'e2e',
      'kernel-result': path,
      'runner-label': 'mi355x',
    });
    const host = recordingHost();
    const outcome = await runValidate(config, host, await deps(env));
    const r = await readResult(outcome.resultPath);
    expect(outcome.exitCode).toBe(0);
    expect(r.stage).toBe('e2e');
    expect(new Set(r.steps.map((s) => s.status))).toEqual(new Set(['skipped']));
    expect(r.steps.find((s) => s.name === 'e2e')?.reason).toMatch(
      /^the kernel stage did not pass on mi355x: 2 correctness cases failed on mi355x/,
    );
    expect(host.lines.join('\n')).toContain('warning: the e2e stage is skipped');
    expect(await readFile(outcome.reportPath as string, 'utf8')).toContain(
      'the kernel stage did not pass on mi355x',
    );
  });
});
