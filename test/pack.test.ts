// The npm package, the second way to get the CLI: packed from this tree, installed globally into a temporary
// prefix with an empty cache and no network, and run from there.
import { readFile, rm } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fetchVllmSource } from '../src/vllm/pypi.js';
import { ROOT, runFile, tempDir } from './helpers.js';

const PYTHON = process.env.VLLM_KERNEL_CI_PYTHON ?? 'python3';
const made: string[] = [];
afterAll(async () => {
  await Promise.all(made.map((d) => rm(d, { recursive: true, force: true })));
});

describe('npm pack, then npm install -g from the tarball', () => {
  it('declares no runtime dependency: dist/ bundles them all, so the install fetches nothing', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.dependencies ?? {}, 'list packages that dist/ bundles under devDependencies').toEqual({});
    expect(pkg.bin).toEqual({ 'vllm-kernel-ci': 'dist/cli.js' });
  });

  it('installs offline and runs `vllm-kernel-ci` from the prefix: help, validate --help, patch on a vLLM tree', async () => {
    const tmp = await tempDir('vkci-pack-');
    made.push(tmp);
    // the Node 24 this suite runs on first on PATH, as on a machine that has it; an empty cache proves no fetch
    const env = {
      PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`,
      HOME: process.env.HOME ?? '',
      npm_config_cache: join(tmp, 'npm-cache'),
      npm_config_update_notifier: 'false',
    };
    const packed = await runFile('npm', ['pack', '--json', '--pack-destination', tmp], env);
    expect(packed.code, packed.stderr).toBe(0);
    const [{ filename, files }] = JSON.parse(packed.stdout) as [
      { filename: string; files: { path: string }[] },
    ];
    const paths = files.map((f) => f.path);
    // what the CLI reads beside dist/ at run time: the bundles, the rewriter, the action root marker
    expect(paths).toEqual(
      expect.arrayContaining([
        'dist/cli.js',
        'dist/cli-main.js',
        'dist/index.js',
        'action.yml',
        'src/patch/rewrite.py',
        'kernels/fused_shared_expert_gate/manifest.json',
      ]),
    );
    expect(paths.filter((p) => p.includes('__pycache__') || p.startsWith('test/'))).toEqual([]);

    const prefix = join(tmp, 'prefix');
    const install = await runFile(
      'npm',
      [
        'install',
        '--global',
        '--prefix',
        prefix,
        '--offline',
        '--no-audit',
        '--no-fund',
        join(tmp, filename),
      ],
      env,
      tmp,
    );
    expect(install.code, install.stderr).toBe(0);
    const bin = join(prefix, 'bin', 'vllm-kernel-ci');

    const help = await runFile(bin, ['--help'], env, tmp);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toContain('Usage: vllm-kernel-ci <command> [options]');
    const validate = await runFile(bin, ['validate', '--help'], env, tmp);
    expect(validate.code, validate.stderr).toBe(0);
    expect(validate.stdout).toContain('Usage: vllm-kernel-ci validate [options]');
    expect(validate.stdout).toContain('--vllm-ref <value>');

    const vllm = join(tmp, 'vllm');
    await runFile('cp', ['-r', await fetchVllmSource('0.5.5'), vllm], env);
    const check = await runFile(
      bin,
      ['patch', '--vllm-dir', vllm, '--check', '--json', '--python', PYTHON],
      env,
      tmp,
    );
    expect(check.code, check.stderr).toBe(0);
    const patch = JSON.parse(check.stdout) as { mode: string; sites: { status: string }[] };
    expect(patch.mode).toBe('check');
    expect(patch.sites.filter((s) => s.status === 'applied').length).toBeGreaterThan(0);
  }, 180_000);
});
