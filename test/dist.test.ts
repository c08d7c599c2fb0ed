import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runNode, tempDir } from './helpers.js';

async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

describe('committed build outputs', () => {
  it('dist/ and docs/run-result.schema.json match a fresh build of src/ (run `npm run build`)', {
    timeout: 120_000,
  }, async () => {
    const out = await tempDir('vkci-build-');
    const r = await runNode(['scripts/build.mjs', '--out', out], { PATH: process.env.PATH ?? '' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(await files(join(ROOT, 'dist'))).toEqual(await files(join(out, 'dist')));
    for (const f of await files(join(out, 'dist'))) {
      const fresh = await readFile(join(out, 'dist', f), 'utf8');
      expect(await readFile(join(ROOT, 'dist', f), 'utf8'), `dist/${f} is stale`).toBe(fresh);
    }
    const schema = await readFile(join(out, 'docs/run-result.schema.json'), 'utf8');
    expect(await readFile(join(ROOT, 'docs/run-result.schema.json'), 'utf8')).toBe(schema);
  });
});
