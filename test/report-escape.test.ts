import { describe, expect, it } from 'vitest';
import {
  capLength,
  codeBlock,
  decodeMarkerId,
  encodeMarkerId,
  escapeCell,
  escapeText,
} from '../src/report/escape.js';

const visible = (s: string) => s.replace(/[\u200b\u200d]/g, '');

describe('escapeText', () => {
  it('breaks @mentions and team mentions without changing what a reader sees', () => {
    const out = escapeText('ping @octocat and @github/security-team');
    expect(out).not.toMatch(/@[A-Za-z]/);
    expect(visible(out)).toBe('ping @octocat and @github/security-team');
  });

  it('breaks issue cross-references and autolinked URLs', () => {
    const out = escapeText('see owner/repo#12, GH-34 and https://evil.example/x or www.evil.example');
    expect(out).not.toMatch(/#\d|GH-\d|https?:\/\/|www\./i);
    expect(visible(out)).toContain('https://evil.example/x');
  });

  it('leaves no raw HTML, no markdown link or image, no emphasis', () => {
    const out = escapeText(
      '<img src=x onerror=alert(1)> [click](https://x) ![i](y) **bold** `code` <!-- x -->',
    );
    expect(out).not.toContain('<');
    expect(out).not.toContain('>');
    expect(out).not.toMatch(/(?<!\\)[[\]()*`!]/);
  });

  it('cannot break out of a table cell or start a block', () => {
    expect(escapeCell('a | b\n| c |\n\n# heading')).toBe('a \\| b \\| c \\| # heading');
    expect(escapeText('# heading')).toBe('\\# heading');
    expect(escapeText('- item')).toBe('\\- item');
    expect(escapeText('1. first')).toBe('1\\. first');
    expect(escapeText('> quote')).toBe('&gt; quote');
    // a version number mid-text keeps its dot
    expect(escapeText('0.33.0')).toBe('0.33.0');
  });

  it('strips control and bidi-override characters', () => {
    expect(escapeText('ok\u202e\u0007\u0000 fine')).toBe('ok fine');
  });

  it('caps length by code points, with an ellipsis', () => {
    expect(escapeText('x'.repeat(500), 50)).toHaveLength(50);
    expect(escapeText('x'.repeat(500), 50).endsWith('…')).toBe(true);
    expect(capLength('😀'.repeat(10), 4)).toBe('😀😀😀…');
  });

  it('makes entities literal', () => {
    expect(escapeText('&lt;script&gt;')).toBe('&amp;lt;script&amp;gt;');
  });
});

describe('codeBlock', () => {
  it('uses a fence longer than any backtick run inside, so the content cannot close it', () => {
    const block = codeBlock('a\n````\n@everyone [x](y)\n```');
    const fence = block.split('\n')[0].replace('text', '');
    expect(fence).toBe('`````');
    expect(block.endsWith(`\n${fence}`)).toBe(true);
  });

  it('keeps the end of a long log, where the error is', () => {
    const block = codeBlock(`${'noise\n'.repeat(2000)}RuntimeError: boom`, 200);
    expect(block).toContain('RuntimeError: boom');
    expect(block.length).toBeLessThan(260);
  });

  it('breaks comment markers so a log cannot forge a report section', () => {
    const block = codeBlock('<!-- /vllm-kernel-ci:runner --> <!-- vllm-kernel-ci:runner=x -->');
    expect(block).not.toContain('<!--');
    expect(block).not.toContain('-->');
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
