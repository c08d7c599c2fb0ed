import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { micromark } from 'micromark';
import { gfm, gfmHtml } from 'micromark-extension-gfm';
import { describe, expect, it } from 'vitest';
import {
  parseCommentSections,
  renderComment,
  renderReport,
  renderRunnerSection,
} from '../src/report/render.js';
import { analyseRun, analyseRuns } from '../src/stats/analyse.js';

const T = { minEffectPct: 2, failOnRegression: false };

import type { RunResult } from '../src/results/run-result.js';
import {
  DEFAULT_MAX_RUN_RESULT_BYTES,
  RUN_RESULT_BOUNDS,
  readUntrustedRunResult,
} from '../src/security/artifacts.js';
import {
  EVIL_HOST,
  HEAD_SHA,
  PAYLOADS,
  type PayloadName,
  PR,
  withPayloadEverywhere,
} from './fixtures/hostile/corpus.js';
import { tempDir } from './helpers.js';

// The rendered markdown is turned into HTML by a GFM parser (micromark, CommonMark + GFM like GitHub's own),
// raw HTML passed through, and compared with the same report over harmless text in the same fields: a payload
// is neutralised when it adds no element, attribute, link, heading, table cell, mention or cross-reference.

function toHtml(markdown: string): string {
  return micromark(markdown, { extensions: [gfm()], htmlExtensions: [gfmHtml()], allowDangerousHtml: true });
}

interface Shape {
  /** every element as `tag attr1 attr2`, sorted */
  elements: string[];
  urls: string[];
  headings: string[];
  /** text GitHub post-processes: outside code and pre */
  prose: string;
}

const decode = (s: string) =>
  s
    .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(Number.parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(Number(d)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

function shape(html: string): Shape {
  const elements: string[] = [];
  const urls: string[] = [];
  const headings: string[] = [];
  let prose = '';
  let inCode = 0;
  let heading: string | undefined;
  for (const part of html.split(/(<[^>]*>)/)) {
    const tag = /^<(\/?)([a-zA-Z][\w-]*)([^>]*)>$/.exec(part);
    if (part.startsWith('<!--')) {
      elements.push('#comment');
      continue;
    }
    if (tag) {
      const [, close, name, attrs] = tag;
      const lower = name.toLowerCase();
      if (lower === 'code' || lower === 'pre') inCode += close ? -1 : 1;
      if (/^h[1-6]$/.test(lower)) {
        if (close && heading !== undefined) headings.push(heading.trim());
        heading = close ? undefined : '';
      }
      if (!close) {
        const names = [...attrs.matchAll(/([\w:-]+)\s*=/g)].map((m) => m[1].toLowerCase()).sort();
        elements.push([lower, ...names].join(' '));
        for (const m of attrs.matchAll(/(?:href|src)\s*=\s*"([^"]*)"/gi)) urls.push(decode(m[1]));
      }
      continue;
    }
    const text = decode(part);
    if (heading !== undefined) heading += text;
    if (inCode === 0) prose += `${text}\n`;
  }
  return { elements: elements.sort(), urls, headings, prose };
}

/** Dollar signs GitHub would read as math delimiters: unescaped, outside fenced code (micromark has no math). */
function mathDelimiters(markdown: string): number {
  let fence: string | undefined;
  let count = 0;
  for (const line of markdown.split('\n')) {
    const f = /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence === undefined && f) fence = f;
    else if (fence !== undefined && f && f[0] === fence[0] && f.length >= fence.length && line.trim() === f)
      fence = undefined;
    else if (fence === undefined) count += (line.match(/(?<!\\)\$/g) ?? []).length;
  }
  return count;
}

/** What GitHub turns into a notification or a back-link in prose (not in code). */
const MENTION = /(^|[^\w`])@[A-Za-z0-9]/m;
const CROSS_REFERENCE = /(^|[^\w&])(#\d|GH-\d)|[\w.-]+\/[\w.-]+#\d/im;

const dir = await tempDir('vkci-hostile-render-');
let n = 0;
/** Through the real intake path: written as an artifact, read back as untrusted. */
async function intake(r: RunResult): Promise<RunResult> {
  const path = join(dir, `run-result-${n++}.json`);
  await writeFile(path, JSON.stringify(r));
  return readUntrustedRunResult(path, {
    maxBytes: DEFAULT_MAX_RUN_RESULT_BYTES,
    expectedPr: PR,
    expectedSha: HEAD_SHA,
  });
}

const renderings = {
  report: (r: RunResult) => renderReport(analyseRuns([r], T)),
  comment: (r: RunResult) => renderComment([renderRunnerSection(analyseRun(r, T))]),
};

// through intake (report mode), and straight to the renderer (validate renders its own RunResult): both must hold
const paths = {
  'read as an artifact': intake,
  'rendered directly': async (r: RunResult) => r,
};
const cases = (Object.keys(renderings) as (keyof typeof renderings)[]).flatMap((kind) =>
  (Object.keys(paths) as (keyof typeof paths)[]).map((path) => [kind, path] as const),
);

for (const [kind, path] of cases) {
  describe(`hostile text in every field: ${kind}, ${path}`, async () => {
    const render = renderings[kind];
    const prepare = paths[path];
    const harmless = await prepare(withPayloadEverywhere('plain words'));
    const baseline = shape(toHtml(render(harmless)));

    it('the harmless baseline renders a real report (the comparison has something to compare)', () => {
      expect(baseline.elements.filter((e) => e === 'table').length).toBeGreaterThan(1);
      expect(baseline.headings.length).toBeGreaterThan(0);
      expect(baseline.prose).not.toMatch(MENTION);
    });

    for (const name of Object.keys(PAYLOADS) as PayloadName[]) {
      it(`${name}: adds no element, link, heading, mention or cross-reference`, async () => {
        const hostile = await prepare(withPayloadEverywhere(PAYLOADS[name]));
        const markdown = render(hostile);
        const got = shape(toHtml(markdown));
        expect(got.elements).toEqual(baseline.elements);
        expect(got.urls).toEqual(baseline.urls);
        expect(got.urls.join(' ')).not.toContain(EVIL_HOST);
        expect(got.headings.length).toBe(baseline.headings.length);
        // the payload may show inside an existing heading, as text; it must not start one of its own
        expect(got.headings.filter((h) => /^(All checks passed|Escaped the)/.test(h))).toEqual([]);
        expect(got.prose).not.toMatch(MENTION);
        expect(got.prose).not.toMatch(CROSS_REFERENCE);
        expect(mathDelimiters(markdown)).toBe(mathDelimiters(render(harmless)));
        // the hidden markers: exactly the ones the renderer wrote, and the section still belongs to its runner
        expect(markdown.match(/<!--/g)?.length).toBe(render(harmless).match(/<!--/g)?.length);
        expect([...parseCommentSections(markdown).keys()]).toEqual([hostile.identity.runner]);
      });
    }
  });
}

describe('a flood within the size cap', () => {
  it('as many failing cases as intake allows, with long messages, still make one comment under 65,536 characters', {
    timeout: 60_000,
  }, async () => {
    const r = withPayloadEverywhere(PAYLOADS.mention);
    r.tests = Array.from({ length: RUN_RESULT_BOUNDS.tests }, (_, i) => ({
      id: `test_gate[bf16-${i}] ${PAYLOADS.fenceBreak}`,
      status: 'failed' as const,
      seconds: 0.1,
      message: `${PAYLOADS.html} ${'x'.repeat(500)}`,
    }));
    const hostile = await intake(r);
    const comment = renderComment([renderRunnerSection(analyseRun(hostile, T))]);
    expect(comment.length).toBeLessThanOrEqual(65_536);
    expect([...parseCommentSections(comment).keys()]).toEqual([hostile.identity.runner]);
    expect(shape(toHtml(comment)).prose).not.toMatch(MENTION);
  });
});
