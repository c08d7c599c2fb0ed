// Every report, rendered as GitHub renders it (micromark: CommonMark + GFM): no visible backslash escape, no
// broken table, no unbalanced markup. The reports are those of every committed RunResult, rendered by this code,
// and the committed example reports under docs/.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { micromark } from 'micromark';
import { gfm, gfmHtml } from 'micromark-extension-gfm';
import { describe, expect, it } from 'vitest';
import { renderReport } from '../src/report/render.js';
import { parseRunResult } from '../src/results/run-result.js';
import { analyseRuns } from '../src/stats/analyse.js';
import { ROOT } from './helpers.js';

const T = { minEffectPct: 2, failOnRegression: false };

function runResultFiles(): string[] {
  const found: string[] = [];
  for (const dir of ['fixtures/gpu', 'docs']) {
    for (const entry of readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })) {
      if (/run-result[^/]*\.json$|example-report-.*\.json$/.test(entry) && !entry.endsWith('schema.json'))
        found.push(join(dir, entry));
    }
  }
  return found.sort();
}

const REPORTS: [string, string][] = [
  ...runResultFiles().map((f): [string, string] => {
    const result = parseRunResult(JSON.parse(readFileSync(join(ROOT, f), 'utf8')), f);
    return [`rendered from ${f}`, renderReport(analyseRuns([result], T))];
  }),
  ...readdirSync(join(ROOT, 'docs'))
    .filter((n) => /^example-report-.*\.md$/.test(n))
    .map((n): [string, string] => [`docs/${n}`, readFileSync(join(ROOT, 'docs', n), 'utf8')]),
];

const html = (markdown: string) =>
  micromark(markdown, { extensions: [gfm()], htmlExtensions: [gfmHtml()], allowDangerousHtml: true });

/** What a reader sees outside code blocks: the HTML's text, code spans included, tags and <pre> removed. */
function visibleText(page: string): string {
  return page
    .replace(/<pre>[\s\S]*?<\/pre>/g, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');
}

/** Cells of a markdown table row: split at pipes that no backslash escapes. */
const cells = (row: string) =>
  row
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split(/(?<!\\)\|/).length;

/** The markdown's lines outside fenced code blocks. */
function outsideFences(markdown: string): string[] {
  let fence: string | undefined;
  return markdown.split('\n').filter((line) => {
    const f = /^(`{3,})/.exec(line)?.[1];
    if (f && (!fence || f.length >= fence.length)) {
      fence = fence ? undefined : f;
      return false;
    }
    return !fence;
  });
}

/** Each markdown table outside fences: its rows, as written. */
function tables(markdown: string): string[][] {
  const out: string[][] = [];
  let fence: string | undefined;
  let current: string[] = [];
  for (const line of markdown.split('\n')) {
    const f = /^(`{3,})/.exec(line)?.[1];
    if (f && (!fence || f.length >= fence.length)) fence = fence ? undefined : f;
    if (!fence && line.startsWith('|')) current.push(line);
    else if (current.length) {
      out.push(current);
      current = [];
    }
  }
  if (current.length) out.push(current);
  return out;
}

describe.each(REPORTS)('%s, as GitHub renders it', (_name, markdown) => {
  const page = html(markdown);
  const text = visibleText(page);

  it('shows no backslash escape', () => {
    const shown = text.split('\n').filter((l) => /\\[!-/:-@[-`{-~]/.test(l));
    expect(shown).toEqual([]);
  });

  it("every table row has its header's cells, and every row is a table row", () => {
    const found = tables(markdown);
    for (const rows of found) {
      const width = cells(rows[0]);
      expect(rows.filter((r) => cells(r) !== width)).toEqual([]);
    }
    const rows = found.reduce((n, t) => n + t.length - 1, 0);
    expect((page.match(/<tr>/g) ?? []).length).toBe(rows);
  });

  it('leaves no markup unbalanced', () => {
    for (const tag of ['details', 'summary', 'sub']) {
      expect((page.match(new RegExp(`<${tag}>`, 'g')) ?? []).length).toBe(
        (page.match(new RegExp(`</${tag}>`, 'g')) ?? []).length,
      );
    }
    // strong emphasis and code spans open and close on their line (escaped characters are text)
    const odd = (line: string, mark: RegExp) => (line.match(mark) ?? []).length % 2 === 1;
    const stray = outsideFences(markdown).filter((l) => odd(l, /(?<!\\)\*\*/g) || odd(l, /(?<!\\)`/g));
    expect(stray).toEqual([]);
  });
});
