import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
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
  it('validate: RunResult, report, outputs and summary', { timeout: 300_000 }, async () => {
    const { env, dir } = await runnerEnv({ mode: 'validate', 'output-dir': 'out', 'e2e-backend': 'none' });
    const r = await runNode([join(ROOT, 'dist/index.js')], env, dir);
    expect(r.stdout).not.toContain('::error::');
    const outputs = parseOutputFile(await readFile(join(dir, 'output'), 'utf8'));
    expect(outputs['result-path']).toBe(join(dir, 'out', 'run-result.json'));
    expect(outputs['report-path']).toBe(join(dir, 'out', 'report.md'));
    expect(outputs.verdict).toBeTruthy();
    const result = JSON.parse(await readFile(outputs['result-path'], 'utf8'));
    expect(result.schema).toBe(1);
    expect(result.identity.runner).toBe('h100-runner-1');
    const summary = await readFile(join(dir, 'summary.md'), 'utf8');
    expect(summary.trim()).toBe((await readFile(outputs['report-path'], 'utf8')).trim());
  });
});
