// Untrusted text in each context of the report: made inert (escape.ts), then escaped by the serialiser for where it
// stands (markdown.ts), and read back as GitHub reads it (micromark with GFM, raw HTML passed through).
import { micromark } from 'micromark';
import { gfm, gfmHtml } from 'micromark-extension-gfm';
import { describe, expect, it } from 'vitest';
import { capLength, decodeMarkerId, encodeMarkerId, escapeHtml, inert } from '../src/report/escape.js';
import {
  code,
  codeBlock,
  details,
  heading,
  inlineMarkdown,
  paragraph,
  serialise,
  table,
} from '../src/report/markdown.js';

const visible = (s: string) => s.replace(/[\u200b\u200d]/g, '');
const html = (markdown: string) =>
  micromark(markdown, { extensions: [gfm()], htmlExtensions: [gfmHtml()], allowDangerousHtml: true });
/** The text a reader sees: tags removed, entities decoded. */
const shown = (markdown: string) =>
  html(markdown)
    .replace(/<[^>]+>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&')
    .trim();

describe('inert', () => {
  it('breaks @mentions and team mentions without changing what a reader sees', () => {
    const out = inert('ping @octocat and @github/security-team');
    expect(out).not.toMatch(/@[A-Za-z]/);
    expect(visible(out)).toBe('ping @octocat and @github/security-team');
  });

  it('breaks issue cross-references and autolinked URLs', () => {
    const out = inert('see owner/repo#12, GH-34 and https://evil.example/x or www.evil.example');
    expect(out).not.toMatch(/#\d|GH-\d|https?:\/\/|www\./i);
    expect(visible(out)).toContain('https://evil.example/x');
  });

  it('breaks HTML comment delimiters, so no text can open or close a report section', () => {
    const out = inert('<!-- /vllm-kernel-ci:runner --> <!-- vllm-kernel-ci:runner=x -->');
    expect(out).not.toContain('<!--');
    expect(out).not.toContain('-->');
  });

  it('strips control and bidi-override characters and keeps one line', () => {
    expect(inert('ok\u202e\u0007\u0000 fine\n\nnext')).toBe('ok fine next');
  });

  it('caps length by code points, with an ellipsis', () => {
    expect(inert('x'.repeat(500), 50)).toHaveLength(50);
    expect(inert('x'.repeat(500), 50).endsWith('…')).toBe(true);
    expect(capLength('😀'.repeat(10), 4)).toBe('😀😀😀…');
  });
});

describe('text in the tree, as GitHub shows it', () => {
  const hostile = '<img src=x onerror=alert(1)> [click](https://x) ![i](y) **bold** `code` &lt;b&gt; $x$';

  it('shows as written in a paragraph: no element, link, image, emphasis, code or entity', () => {
    const markdown = serialise([paragraph(inert(hostile))]);
    expect(html(markdown)).not.toMatch(/<(?!\/?p>)/);
    expect(visible(shown(markdown))).toBe(hostile);
    // GitHub reads $…$ as math
    expect(markdown).not.toMatch(/(?<!\\)\$/);
  });

  it('cannot end a table cell or start a block', () => {
    const markdown = serialise([table([['h'], [inert('a | b\n| c |\n\n# heading')]])]);
    expect(html(markdown).match(/<td>/g)).toHaveLength(1);
    expect(visible(shown(markdown)).split(/\n+/)).toEqual(['h', 'a | b | c | # heading']);
    for (const start of ['# heading', '- item', '1. first', '> quote']) {
      const line = serialise([paragraph(inert(start))]);
      expect(html(line)).toBe(`<p>${start.replace('>', '&gt;')}</p>\n`);
    }
  });

  it('keeps a heading one heading', () => {
    const markdown = serialise([heading(3, `runner ${inert('x\n\n# All checks passed')}`)]);
    expect(html(markdown).match(/<h\d>/g)).toEqual(['<h3>']);
  });

  it('leaves a version number and an identifier unescaped', () => {
    expect(inlineMarkdown('0.33.0')).toBe('0.33.0');
    expect(inlineMarkdown('fused_shared_expert_gate')).toBe('fused_shared_expert_gate');
  });

  it('inlineMarkdown escapes a pipe, for a document that puts it in a table cell', () => {
    expect(inlineMarkdown('a | b')).toBe('a \\| b');
  });
});

describe('code', () => {
  it('a code span holds any backtick run and shows its text as it is, with no backslash', () => {
    const markdown = serialise([paragraph(code('a ``b`` *c* \\_'))]);
    expect(html(markdown)).toBe('<p><code>a ``b`` *c* \\_</code></p>\n');
  });

  it('a code span in a table cell keeps its pipe inside the cell', () => {
    const markdown = serialise([table([['h'], [[code('a|b')]]])]);
    expect(html(markdown)).toContain('<td><code>a|b</code></td>');
  });

  it('a fenced block uses a fence longer than any backtick run inside, so the content cannot close it', () => {
    const block = serialise([codeBlock('a\n````\n@everyone [x](y)\n```')]);
    const fence = block.split('\n')[0].replace('text', '');
    expect(fence).toBe('`````');
    expect(block.trimEnd().endsWith(`\n${fence}`)).toBe(true);
  });

  it('a fenced block keeps the end of a long log, where the error is', () => {
    const block = serialise([codeBlock(`${'noise\n'.repeat(2000)}RuntimeError: boom`, 200)]);
    expect(block).toContain('RuntimeError: boom');
    expect(block.length).toBeLessThan(260);
  });

  it('a fenced block breaks comment markers so a log cannot forge a report section', () => {
    const block = serialise([codeBlock('<!-- /vllm-kernel-ci:runner --> <!-- vllm-kernel-ci:runner=x -->')]);
    expect(block).not.toContain('<!--');
    expect(block).not.toContain('-->');
  });
});

describe('a fold', () => {
  it('its summary is HTML-escaped only: GitHub processes no markdown there, so a backslash would show', () => {
    const markdown = serialise(details('sm_80: <b>x</b> & "y"', [paragraph('body')]));
    expect(markdown.split('\n')[0]).toBe(
      '<details><summary>sm_80: &lt;b&gt;x&lt;/b&gt; &amp; &quot;y&quot;</summary>',
    );
    expect(escapeHtml('fused_shared_expert_gate')).toBe('fused_shared_expert_gate');
    expect(html(markdown)).toContain('<p>body</p>');
  });
});

describe('marker ids', () => {
  it.each(['h100-1', 'mi355x gfx950', 'a --> b', 'x\n<!-- y', 'ünï/cödé'])('round-trips %j safely', (id) => {
    const encoded = encodeMarkerId(id);
    expect(encoded).toMatch(/^[A-Za-z0-9._%-]*$/);
    expect(encoded).not.toContain('-->');
    expect(decodeMarkerId(encoded)).toBe(id);
  });
});
