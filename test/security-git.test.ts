// Issue 23, break 3: PR code plants git hooks, core.fsmonitor or config in the cached clone; the next job's
// checkout must run none of them. The tree is fresh each run over a bare object cache, and every git runs with
// hooks and fsmonitor off and no global or system config.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { type CheckedOut, checkout } from '../src/pipeline/checkout.js';
import { StepRecorder } from '../src/pipeline/step.js';
import type { RunResult } from '../src/results/run-result.js';
import { makeVllmRepo, recordingHost } from './fakes/world.js';
import { tempDir } from './helpers.js';

const git = promisify(execFile);

async function checkoutOnce(repository: string, reposDir: string) {
  const result = { steps: [] } as unknown as RunResult;
  const recorder = new StepRecorder({
    result,
    outDir: await tempDir('vkci-git-'),
    host: recordingHost(),
    scrub: (s) => s,
  });
  const value = await recorder.run('checkout', (step) =>
    checkout(step, { repository, ref: 'HEAD', reposDir, env: { PATH: process.env.PATH }, timeoutMs: 60_000 }),
  );
  return { tree: value as CheckedOut, step: result.steps[0] };
}

/** A script that leaves `marker` when git runs it. */
async function plantScript(dir: string, name: string, marker: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `#!/bin/sh\necho ran >> '${marker}'\n`);
  await chmod(path, 0o755);
  return path;
}

describe('a hook or fsmonitor planted by a previous job', () => {
  let repo: { dir: string };
  beforeAll(async () => {
    repo = await makeVllmRepo();
  });

  it('runs under plain git (the break)', async () => {
    const work = await tempDir('vkci-plain-');
    const marker = join(work, 'marker');
    await git('git', ['clone', '--quiet', repo.dir, join(work, 'clone')]);
    await plantScript(join(work, 'clone/.git/hooks'), 'post-checkout', marker);
    await git('git', ['checkout', '--quiet', '--detach', 'HEAD'], { cwd: join(work, 'clone') });
    expect(existsSync(marker)).toBe(true);
  });

  it('never runs in the next checkout: the tree and its .git are fresh, the cache config rewritten', async () => {
    const reposDir = await tempDir('vkci-repos-');
    const first = await checkoutOnce(repo.dir, reposDir);
    expect(first.step.status).toBe('passed');
    const marker = join(await tempDir('vkci-marker-'), 'marker');
    // what PR code running in the first tree could leave for the next job
    const treeGit = join(first.tree.dir, '.git');
    await plantScript(join(treeGit, 'hooks'), 'post-checkout', marker);
    const monitor = await plantScript(treeGit, 'fsmonitor', marker);
    await git('git', ['config', 'core.fsmonitor', monitor], { cwd: first.tree.dir });
    const cache = `${first.tree.dir}.git`;
    const hooks = join(cache, 'planted-hooks');
    await mkdir(hooks);
    for (const hook of ['reference-transaction', 'post-checkout', 'post-index-change'])
      await plantScript(hooks, hook, marker);
    await git('git', ['config', 'core.hooksPath', hooks], { cwd: cache });
    await git('git', ['config', 'core.sshCommand', monitor], { cwd: cache });

    const second = await checkoutOnce(repo.dir, reposDir);
    expect(second.step.status).toBe('passed');
    expect(second.tree.dir).toBe(first.tree.dir);
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(join(second.tree.dir, '.git/hooks/post-checkout'))).toBe(false);
    expect(await readFile(join(cache, 'config'), 'utf8')).not.toMatch(/hooksPath|sshCommand/);
    // the tree borrows the cache's objects, so the second run fetched nothing it already had
    expect(await readFile(join(second.tree.dir, '.git/objects/info/alternates'), 'utf8')).toBe(
      `${join(cache, 'objects')}\n`,
    );
  });
});
