// The git repository made from a PyPI sdist has one commit SHA on every machine.
import { execFile } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { checkout } from '../src/pipeline/checkout.js';
import { StepRecorder } from '../src/pipeline/step.js';
import type { RunResult } from '../src/results/run-result.js';
import { sdistRepository, sdistSha256 } from '../src/vllm/pypi.js';
import { recordingHost } from './fakes/world.js';
import { tempDir } from './helpers.js';

const exec = promisify(execFile);
const SHA256 = 'ab'.repeat(32);

/** An extracted sdist as fetchVllmSource leaves it: the tree, and `<tree>.complete` holding its sha256. */
async function extractedSdist(): Promise<string> {
  const tree = join(await tempDir('vkci-sdist-'), 'vllm-0.0.1');
  await mkdir(join(tree, 'vllm/model_executor'), { recursive: true });
  await writeFile(join(tree, 'PKG-INFO'), 'Metadata-Version: 2.1\nName: vllm\nVersion: 0.0.1\n');
  await writeFile(join(tree, '.gitignore'), '*.so\nbuild/\n');
  await writeFile(join(tree, 'vllm/_C.so'), 'ignored by .gitignore, but part of the sdist\n');
  await writeFile(join(tree, 'vllm/model_executor/__init__.py'), '');
  await writeFile(join(tree, 'setup.py'), '#!/usr/bin/env python3\n');
  await chmod(join(tree, 'setup.py'), 0o755);
  await writeFile(`${tree}.complete`, `${SHA256}\n`);
  return tree;
}

const git = async (dir: string, ...args: string[]) => (await exec('git', ['-C', dir, ...args])).stdout.trim();

describe('sdistRepository', () => {
  it('gives one commit SHA for one sdist, built twice in different directories', async () => {
    const source = await extractedSdist();
    expect(await sdistSha256(source)).toBe(SHA256);
    const a = join(await tempDir('vkci-pypi-a-'), 'pypi-vllm-0.0.1');
    const b = join(await tempDir('vkci-pypi-b-'), 'deeper', 'repo');
    const opts = { version: '0.0.1', sha256: await sdistSha256(source), env: { PATH: process.env.PATH } };
    const first = await sdistRepository(source, a, opts);
    // another clock, another user config: the SHA does not move
    const second = await sdistRepository(source, b, {
      ...opts,
      env: { ...opts.env, GIT_AUTHOR_NAME: 'someone else', TZ: 'Asia/Tokyo' },
    });
    expect(second).toBe(first);
    // fixed identity and date: this content always gives this commit
    expect(first).toBe('e704bde12825b4df527611a06b1a0f2a6767e16b');
    expect(await git(a, 'rev-parse', 'v0.0.1^{commit}')).toBe(first);
    expect(await git(a, 'log', '-1', '--format=%an <%ae> %aI%n%B')).toBe(
      `vllm-kernel-ci <vllm-kernel-ci@localhost> 2000-01-01T00:00:00+00:00\nvLLM 0.0.1 as published on PyPI\n\nsdist sha256: ${SHA256}`,
    );
    // every file of the sdist, the .gitignore'd one too, with its mode
    expect(
      (await git(a, 'ls-files', '-s')).split('\n').map((l) => l.replace(/ [0-9a-f]{40} 0\t/, ' ')),
    ).toEqual([
      '100644 .gitignore',
      '100644 PKG-INFO',
      '100755 setup.py',
      '100644 vllm/_C.so',
      '100644 vllm/model_executor/__init__.py',
    ]);
    expect(await git(a, 'status', '--porcelain', '--ignored')).toBe('');
  });
});

describe('checkout of vllm-repository pypi', () => {
  it('checks out that one commit, in any cache directory', async () => {
    const source = await extractedSdist();
    const shas: string[] = [];
    for (const prefix of ['vkci-repos-a-', 'vkci-repos-b-']) {
      const result = { steps: [] } as unknown as RunResult;
      const recorder = new StepRecorder({
        result,
        outDir: await tempDir('vkci-step-'),
        host: recordingHost(),
        scrub: (x) => x,
      });
      const reposDir = join(await tempDir(prefix), 'repos');
      const out = await recorder.run('checkout', (step) =>
        checkout(step, {
          repository: 'pypi',
          ref: '0.0.1',
          reposDir,
          env: process.env,
          timeoutMs: 60_000,
          fetchVllmSource: async () => source,
        }),
      );
      shas.push(out?.sha ?? '');
    }
    expect(shas).toEqual([
      'e704bde12825b4df527611a06b1a0f2a6767e16b',
      'e704bde12825b4df527611a06b1a0f2a6767e16b',
    ]);
  });
});
