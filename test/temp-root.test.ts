import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';

describe('the run’s temp root (test/global-setup.ts)', () => {
  it('is where this worker and the commands it starts make temp files', async () => {
    const root = process.env.VLLM_KERNEL_CI_TEST_TMP;
    expect(root).toMatch(/vkci-run-/);
    expect(tmpdir()).toBe(root);
    expect((await tempDir()).startsWith(`${root}/`)).toBe(true);
    const { stdout } = await promisify(execFile)('mktemp', ['-d']);
    expect(stdout.trim().startsWith(`${root}/`)).toBe(true);
  });
});
