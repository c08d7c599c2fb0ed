import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readUntrustedRunResult, STRING_CAPS } from '../src/security/artifacts.js';
import { HEAD_SHA, honestRunResult } from './fixtures/hostile/corpus.js';
import { tempDir } from './helpers.js';

async function write(content: string | Buffer, name = 'run-result.json'): Promise<string> {
  const dir = await tempDir('vkci-artifact-');
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

const opts = { maxBytes: 1024 * 1024, expectedPr: 42, expectedSha: HEAD_SHA };

describe('readUntrustedRunResult', () => {
  it('returns a valid RunResult for the expected PR and HEAD_SHA', async () => {
    const path = await write(JSON.stringify(honestRunResult()));
    expect(await readUntrustedRunResult(path, opts)).toEqual(honestRunResult());
  });

  it('accepts the HEAD_SHA in upper case and needs no PR or HEAD_SHA for nightly results', async () => {
    const path = await write(JSON.stringify(honestRunResult()));
    await expect(
      readUntrustedRunResult(path, { ...opts, expectedSha: HEAD_SHA.toUpperCase() }),
    ).resolves.toBeTruthy();
    await expect(readUntrustedRunResult(path, { maxBytes: 1e6 })).resolves.toBeTruthy();
  });

  it('refuses a file over the cap before reading it, naming the file', async () => {
    const path = await write(JSON.stringify(honestRunResult()));
    await expect(readUntrustedRunResult(path, { ...opts, maxBytes: 100 })).rejects.toThrow(
      new RegExp(`Refusing RunResult ${path}: it is \\d+ bytes, over the 100-byte cap`),
    );
  });

  it('refuses a link, which could point at the runner’s own files', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'a'));
    const target = await write(JSON.stringify(honestRunResult()));
    await symlink(target, join(dir, 'a', 'run-result.json'));
    await expect(readUntrustedRunResult(join(dir, 'a', 'run-result.json'), opts)).rejects.toThrow(
      /it is not a regular file/,
    );
  });

  it('refuses what is not JSON or not UTF-8', async () => {
    await expect(readUntrustedRunResult(await write('{"schema": 1,'), opts)).rejects.toThrow(
      /it is not JSON/,
    );
    await expect(readUntrustedRunResult(await write(Buffer.from([0x7b, 0xff, 0x7d])), opts)).rejects.toThrow(
      /it is not UTF-8 text/,
    );
  });

  it('refuses a wrong PR number or head HEAD_SHA', async () => {
    const path = await write(JSON.stringify(honestRunResult()));
    await expect(readUntrustedRunResult(path, { ...opts, expectedPr: 43 })).rejects.toThrow(
      /it is for pull request #42, but the workflow_run event is for #43/,
    );
    await expect(readUntrustedRunResult(path, { ...opts, expectedSha: 'c'.repeat(40) })).rejects.toThrow(
      new RegExp(`it is for commit ${HEAD_SHA}, but the workflow_run event is for c{40}`),
    );
  });

  it('cuts an over-long log tail and says so', async () => {
    const r = honestRunResult();
    r.steps[0].logTail = 'x'.repeat(STRING_CAPS.logTail + 10);
    const got = await readUntrustedRunResult(await write(JSON.stringify(r)), opts);
    expect(got.steps[0].logTail).toBe(`${'x'.repeat(STRING_CAPS.logTail)}… [10 characters cut]`);
  });
});
