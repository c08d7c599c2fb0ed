// Configuration errors before the pipeline: exit 2 with one message, no pipeline and no report.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/main.js';
import { ConfigError } from '../src/config.js';
import { preflightValidate } from '../src/modes/preflight.js';
import { runValidate } from '../src/modes/validate.js';
import { deps, FAKE_PYTHON, fakeEnv, pipelineConfig, recordingHost } from './fakes/world.js';
import { tempDir } from './helpers.js';

async function refused(inputs: Record<string, string>, fake: Record<string, string> = {}) {
  const config = await pipelineConfig({ 'vllm-repository': '/nonexistent', ...inputs });
  const env = await fakeEnv(fake);
  const error = await runValidate(config, recordingHost(), await deps(env)).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigError);
  // nothing ran and nothing was written: no RunResult, no report, no logs
  expect(await readdir(config.outputDir)).toEqual([]);
  return (error as Error).message;
}

describe('preflight of validate', () => {
  it('an interpreter without torch: names it and says to pass --python', async () => {
    expect(await refused({}, { FAKE_PYTHON_MISSING: 'torch' })).toBe(
      `${FAKE_PYTHON} has no torch: pass --python (the \`python\` input) with an interpreter that has torch and triton, e.g. the venv of scripts/python-env.sh.`,
    );
    expect(await refused({}, { FAKE_PYTHON_MISSING: 'torch,triton' })).toMatch(
      /has no torch and no triton: /,
    );
  });

  it('an interpreter that does not exist', async () => {
    expect(await refused({ python: '/nonexistent/python3' })).toBe(
      '/nonexistent/python3: not found: pass --python (the `python` input) with an interpreter that has torch and triton.',
    );
  });

  it('an unknown bundle, a bundle without manifest.json, a missing e2e-rates file', async () => {
    expect(await refused({ bundle: 'nosuch' })).toMatch(/^Invalid bundle 'nosuch'\. Expected a bundle name/);
    const empty = await tempDir('vkci-empty-bundle-');
    expect(await refused({ bundle: empty })).toBe(
      `The bundle at ${empty} has no manifest.json: it is not a kernel bundle.`,
    );
    expect(await refused({ 'e2e-rates': '/nonexistent/run-result.json' })).toMatch(
      /^e2e-rates '\/nonexistent\/run-result.json': no such file\./,
    );
  });

  it('conflicting inputs', async () => {
    expect(await refused({ 'kernel-source': 'tree', force: 'true' })).toMatch(
      /^Conflicting inputs: force: true/,
    );
    expect(await refused({ 'e2e-aa': 'true', 'e2e-backend': 'none' })).toMatch(
      /^Conflicting inputs: e2e-aa: true asks for an A\/A e2e run, but e2e-backend is none/,
    );
  });

  it('passes a configuration that is whole', async () => {
    const config = await pipelineConfig({});
    await expect(preflightValidate(config, await fakeEnv())).resolves.toBeUndefined();
  });
});

describe('the CLI on a configuration error', () => {
  it('exits 2 with the one message on stderr, nothing on stdout, no report', async () => {
    const out = await tempDir('vkci-cli-out-');
    const lines = { out: [] as string[], err: [] as string[] };
    const io = { out: (t: string) => lines.out.push(t), err: (t: string) => lines.err.push(t) };
    const code = await runCli(['validate', '--bundle', 'nosuch', '--output-dir', out], io);
    expect(code).toBe(2);
    expect(lines.out).toEqual([]);
    expect(lines.err).toHaveLength(1);
    expect(lines.err[0]).toMatch(/^error: Invalid bundle 'nosuch'\./);
    expect(existsSync(join(out, 'report.md'))).toBe(false);
  });
});
