// The example reports under docs/ are rendered from real RunResults committed beside them:
// docs/example-report-NAME.md holds every docs/example-report-NAME.*.json. UPDATE_EXAMPLES=1 rewrites them.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderReport } from '../src/report/render.js';
import { parseRunResult } from '../src/results/run-result.js';
import { ROOT } from './helpers.js';

const docs = join(ROOT, 'docs');
const files = (await readdir(docs)).filter((f) => /^example-report-[\w-]+\..*json$/.test(f)).sort();
const examples = [...new Set(files.map((f) => f.split('.')[0]))];

describe('docs/example-report-*.md', () => {
  it('exist', () => {
    expect(examples.length).toBeGreaterThan(0);
  });

  it.each(examples)('%s.md is the current rendering of its RunResults', async (name) => {
    const results = await Promise.all(
      files
        .filter((f) => f.startsWith(`${name}.`))
        .map(async (f) => parseRunResult(JSON.parse(await readFile(join(docs, f), 'utf8')), `docs/${f}`)),
    );
    const markdown = renderReport(results);
    const path = join(docs, `${name}.md`);
    if (process.env.UPDATE_EXAMPLES === '1') await writeFile(path, markdown);
    expect(
      await readFile(path, 'utf8'),
      'run UPDATE_EXAMPLES=1 npx vitest run test/report-examples.test.ts',
    ).toBe(markdown);
  });
});
