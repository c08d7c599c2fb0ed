// Step install on the fake python: the release's own wheel for a PyPI tree, the tree's version, optional kernels.
import { cp, mkdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_VLLM_VERSION } from '../src/inputs.js';
import { install, linkBuildProducts } from '../src/pipeline/install.js';
import { fetchVllmSource } from '../src/vllm/pypi.js';
import { pickReleaseWheel } from '../src/vllm/wheel.js';
import { FAKE_PYTHON, fakeEnv, stepHandle } from './fakes/world.js';
import { tempDir } from './helpers.js';

/** A tree holding vLLM's published vllm/_version.py, as checkout makes from the PyPI sdist. */
async function pypiTree(): Promise<string> {
  const dir = await tempDir('vkci-tree-');
  await mkdir(join(dir, 'vllm'), { recursive: true });
  await cp(
    join(await fetchVllmSource(DEFAULT_VLLM_VERSION), 'vllm', '_version.py'),
    join(dir, 'vllm', '_version.py'),
  );
  return dir;
}

describe('install: precompiled', () => {
  it("a PyPI tree installs the release's own wheel and records the tree's version", {
    timeout: 60_000,
  }, async () => {
    const env = await fakeEnv({ FAKE_VLLM_VERSION: '0.33.0' });
    const step = await stepHandle('install');
    const wheel = 'https://files.example/vllm-0.33.0-cp38-abi3-manylinux_2_28_x86_64.whl';
    const installed = await install(step, {
      method: 'precompiled',
      python: FAKE_PYTHON,
      vllmDir: await pypiTree(),
      rocm: false,
      env,
      timeoutMs: 60_000,
      releaseWheel: async () => wheel,
    });
    expect(await readFile(join(env.FAKE_STATE_DIR, 'precompiled-wheel'), 'utf8')).toBe(wheel);
    const log = await readFile(step.logFile, 'utf8');
    expect(log).toContain(`Using user-specified precompiled wheel location: ${wheel}`);
    // the build rewrote _version.py; the RunResult gets the release the tree is
    expect(log).toContain(
      "recording the tree's version 0.33.0: the build rewrote vllm/_version.py to 0.33.1.dev0+g",
    );
    expect(installed).toMatchObject({ vllmVersion: '0.33.0', fromTree: true });
  });

  it('without a wheel location the build falls back to the nightly wheel (what the PyPI tree must avoid)', {
    timeout: 60_000,
  }, async () => {
    const env = await fakeEnv({ FAKE_VLLM_VERSION: '0.33.0' });
    await install(await stepHandle('install'), {
      method: 'precompiled',
      python: FAKE_PYTHON,
      vllmDir: await pypiTree(),
      rocm: false,
      env,
      timeoutMs: 60_000,
    });
    expect(await readFile(join(env.FAKE_STATE_DIR, 'precompiled-wheel'), 'utf8')).toBe('nightly');
  });

  it('a failed download-kernels is a warning; a release without a wheel stops the install', {
    timeout: 60_000,
  }, async () => {
    const env = await fakeEnv({ FAKE_VLLM_VERSION: '0.33.0', FAKE_DOWNLOAD_KERNELS: 'unreachable' });
    const step = await stepHandle('install');
    const o = { method: 'precompiled' as const, python: FAKE_PYTHON, rocm: false, env, timeoutMs: 60_000 };
    const installed = await install(step, { ...o, vllmDir: await pypiTree() });
    expect(installed?.fromTree).toBe(true);
    expect(await readFile(step.logFile, 'utf8')).toMatch(
      /warning: VLLM_USE_PRECOMPILED=1 .*download-kernels failed: .*wheels\.vllm\.ai.*; going on without them/,
    );
    const wheelMissing = install(await stepHandle('install'), {
      ...o,
      vllmDir: await pypiTree(),
      releaseWheel: async () => {
        throw new Error('vLLM 9.9.9 has no manylinux x86_64 wheel on PyPI');
      },
    });
    await expect(wheelMissing).rejects.toThrow(/no manylinux x86_64 wheel/);
  });

  it("picks the release's manylinux wheel for the machine's architecture", () => {
    const files = [
      { filename: 'vllm-0.33.0-cp38-abi3-manylinux_2_28_aarch64.whl', packagetype: 'bdist_wheel', url: 'a' },
      { filename: 'vllm-0.33.0-cp38-abi3-manylinux_2_28_x86_64.whl', packagetype: 'bdist_wheel', url: 'x' },
      { filename: 'vllm-0.33.0.tar.gz', packagetype: 'sdist', url: 's' },
    ];
    expect(pickReleaseWheel(files, '0.33.0', 'x86_64')).toBe('x');
    expect(pickReleaseWheel(files, '0.33.0', 'aarch64')).toBe('a');
    expect(pickReleaseWheel(files, '0.33.1', 'x86_64')).toBeUndefined();
  });
});

describe('an installed release serving the tree of its own version', () => {
  it('links what the install holds and the tree lacks (compiled extensions, generated files), nothing else', async () => {
    const root = await tempDir('vkci-overlay-');
    const installed = join(root, 'site-packages', 'vllm');
    const tree = join(root, 'tree', 'vllm');
    for (const [file, text] of [
      ['__init__.py', 'installed'],
      ['_C.abi3.so', 'elf'],
      ['vllm_flash_attn/__init__.py', 'generated'],
      ['vllm_flash_attn/_vllm_fa3_C.abi3.so', 'elf'],
      ['model_executor/__pycache__/x.cpython-312.pyc', 'bytecode'],
      ['model_executor/models/qwen2_moe.py', 'installed'],
    ]) {
      await mkdir(join(installed, file, '..'), { recursive: true });
      await writeFile(join(installed, file), text);
    }
    for (const file of ['__init__.py', 'model_executor/models/qwen2_moe.py']) {
      await mkdir(join(tree, file, '..'), { recursive: true });
      await writeFile(join(tree, file), 'the tree');
    }
    expect(await linkBuildProducts(installed, tree)).toBe(2);
    expect(await readlink(join(tree, '_C.abi3.so'))).toBe(join(installed, '_C.abi3.so'));
    expect(await readlink(join(tree, 'vllm_flash_attn'))).toBe(join(installed, 'vllm_flash_attn'));
    // the tree's own Python stays the tree's; bytecode is never borrowed
    expect(await readFile(join(tree, 'model_executor/models/qwen2_moe.py'), 'utf8')).toBe('the tree');
    await expect(readFile(join(tree, 'model_executor/__pycache__/x.cpython-312.pyc'))).rejects.toThrow();
  });
});
