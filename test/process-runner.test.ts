// One way to start a process (issue 23, break 9): every command goes through src/pipeline/process.ts, which gives
// it the allowlisted environment, and git its hardening.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { commandFor, runCommand, STDIO_GRACE_MS } from '../src/pipeline/process.js';
import { ROOT } from './helpers.js';

const SRC = join(ROOT, 'src');
const RUNNER = 'pipeline/process.ts';
/** Every way Node starts a process: execa, child_process (also through require or a dynamic import), worker spawns. */
const STARTS =
  /\bfrom\s+['"](?:execa|node:child_process|child_process)['"]|\bimport\(\s*['"](?:execa|node:child_process|child_process)['"]|\brequire\(\s*['"](?:node:)?child_process['"]|\bprocess\.binding\(|\bBun\.spawn/;

describe('the one process runner', () => {
  it('is the only module of src/ that can start a process', async () => {
    const files = (await readdir(SRC, { recursive: true })).filter((f) => f.endsWith('.ts'));
    const starting = [];
    for (const file of files) if (STARTS.test(await readFile(join(SRC, file), 'utf8'))) starting.push(file);
    expect(starting).toEqual([RUNNER]);
  });

  it('the pattern catches each way around it', () => {
    for (const line of [
      "import { execa } from 'execa';",
      "import { spawn } from 'node:child_process';",
      "const cp = require('child_process');",
      "const { execFile } = await import('node:child_process');",
    ])
      expect(line).toMatch(STARTS);
  });

  it('gives a command the allowlist of the environment, not the tokens in it', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      INPUT_GITHUB_TOKEN: 'ghs_fake',
      ACTIONS_RUNTIME_TOKEN: 'fake',
      GITHUB_ENV: '/x',
    });
    try {
      const r = await runCommand('env', [], { timeoutMs: 10_000 });
      expect(r.stdout).toMatch(/^PATH=/m);
      expect(r.stdout).not.toMatch(/TOKEN|GITHUB_ENV/);
    } finally {
      for (const k of ['INPUT_GITHUB_TOKEN', 'ACTIONS_RUNTIME_TOKEN', 'GITHUB_ENV']) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });

  it('runs every git with hooks and fsmonitor off and no global or system config', () => {
    const git = commandFor('git', ['fetch', 'origin'], { env: { PATH: '/usr/bin' } });
    expect(git.args).toEqual([
      '-c',
      'core.hooksPath=/dev/null',
      '-c',
      'core.fsmonitor=false',
      'fetch',
      'origin',
    ]);
    expect(git.env).toMatchObject({ GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' });
    expect(commandFor('python', ['-V'], { env: {} }).args).toEqual(['-V']);
  });

  it('does not wait for a grandchild in its own session that holds stdout open (no sandbox; break 4)', async () => {
    const t0 = performance.now();
    const r = await runCommand('sh', ['-c', 'setsid sleep 127 & echo $!; exit 0'], { timeoutMs: 60_000 });
    const grandchild = Number(r.stdout);
    try {
      expect(r.exitCode).toBe(0);
      expect((performance.now() - t0) / 1000).toBeLessThan(STDIO_GRACE_MS / 1000 + 5);
      // it is still running (the grace closed our end of its stdout, it was not killed): stop it by its id
      expect(() => process.kill(grandchild, 0)).not.toThrow();
    } finally {
      process.kill(grandchild, 'SIGKILL');
    }
  });
});
