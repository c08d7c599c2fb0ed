// Once per `vitest run`: one temp root for the whole run, as TMPDIR, so every temp dir of every test file and of
// every command it starts (git, pip, pytest, Triton) lands in it; removed at teardown, nothing left in the system's.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default async function setup(): Promise<() => Promise<void>> {
  const before = process.env.TMPDIR;
  const root = await mkdtemp(join(tmpdir(), 'vkci-run-'));
  // the workers are forked after this, with this environment
  process.env.TMPDIR = root;
  process.env.VLLM_KERNEL_CI_TEST_TMP = root;
  return async () => {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
    await rm(root, { recursive: true, force: true, maxRetries: 3 });
  };
}
