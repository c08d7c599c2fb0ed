// Every string that came from a RunResult goes through here before it reaches markdown. Artifacts are
// untrusted: no @mentions or cross-references, no raw HTML, no links or images, no way out of a table cell or
// a code fence, no hidden comment markers, bounded length. Pure.

import { stripInvisible } from '../security/text.js';

const ZWJ = '\u200d';
const ZWSP = '\u200b';

/** Default caps, in characters of the original text. */
export const CAPS = { inline: 200, cell: 120, block: 4000 } as const;

/** Caps by code points (never splits a surrogate pair) and says so with an ellipsis. */
export function capLength(text: string, max: number): string {
  const points = Array.from(text);
  return points.length <= max ? text : `${points.slice(0, Math.max(0, max - 1)).join('')}…`;
}

function clean(value: unknown): string {
  // controls, bidi marks and overrides, zero-width and filler characters: they hide or reorder what a reviewer sees
  return stripInvisible(String(value ?? '').replace(/\r\n?/g, '\n'));
}

/** Breaks what GitHub would turn into a notification, a reference or a link, without changing what a reader sees. */
function defuse(text: string): string {
  return (
    text
      // @user, @org/team, and e-mail autolinks
      .replace(/@(?=[\p{L}\p{N}_-])/gu, `@${ZWJ}`)
      // #123, GH-123 and owner/repo#123 cross-references (they post a back-link into the referenced issue)
      .replace(/#(?=\d)/g, `#${ZWJ}`)
      .replace(/\bGH-(?=\d)/gi, (m) => `${m.slice(0, 2)}${ZWJ}-`)
      // autolinked URLs: scheme:// and www.
      .replace(/:\/\//g, `${ZWSP}://`)
      .replace(/\bwww\./gi, (m) => `${m.slice(0, 3)}${ZWSP}.`)
  );
}

/**
 * Inline text for a paragraph, a heading or a table cell: one line, every markdown and HTML special
 * character neutralised, at most `max` characters of the original.
 */
export function escapeText(value: unknown, max: number = CAPS.inline): string {
  const oneLine = clean(value).replace(/\s+/g, ' ').trim();
  let text = capLength(oneLine, max)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    // backslash-escape every ASCII punctuation with a meaning in GFM (tables: |) or in GitHub's math ($)
    .replace(/[\\`*_[\]()!|~{}"$]/g, '\\$&');
  // what only means something at the start of a line: headings, lists, quotes, setext underlines
  text = text.replace(/^([#+=-])/, '\\$1').replace(/^(\d{1,9})([.)])(?=\s|$)/, '$1\\$2');
  return defuse(text);
}

/**
 * Text inside raw HTML such as `<summary>`: GitHub processes no markdown there, so a backslash escape would show;
 * only HTML's own characters are escaped (one line, capped, mentions and links defused).
 */
export function escapeHtml(value: unknown, max: number = CAPS.inline): string {
  const oneLine = capLength(clean(value).replace(/\s+/g, ' ').trim(), max);
  return defuse(
    oneLine.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;'),
  );
}

/**
 * A code span: nothing inside it is processed, so the text goes as it is between backtick runs longer than any
 * inside (one line, capped). In a table cell (`inTable`) a pipe is written `\|`, which GFM's table reads back.
 */
export function codeSpan(value: unknown, max: number = CAPS.inline, inTable = false): string {
  let text = capLength(clean(value).replace(/\s+/g, ' ').trim(), max).replace(
    /@(?=[\p{L}\p{N}_-])/gu,
    `@${ZWJ}`,
  );
  if (inTable) text = text.replace(/\|/g, '\\|');
  const longestRun = Math.max(0, ...(text.match(/`+/g) ?? []).map((r) => r.length));
  const ticks = '`'.repeat(longestRun + 1);
  // a space on each side when the text starts or ends with a backtick, which CommonMark strips again
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${ticks}${pad}${text}${pad}${ticks}`;
}

/** A table cell: like escapeText, shorter by default. */
export function escapeCell(value: unknown, max: number = CAPS.cell): string {
  return escapeText(value, max);
}

/**
 * A fenced code block holding untrusted text (a log tail): the fence is longer than any backtick run inside,
 * so nothing can close it; hidden-comment markers are broken so they cannot forge a report section.
 */
export function codeBlock(value: unknown, max: number = CAPS.block, info = 'text'): string {
  const lines = clean(value).split('\n');
  // keep the end of a log: that is where the error is
  let text = lines.join('\n');
  const points = Array.from(text);
  if (points.length > max) text = `…${points.slice(points.length - max + 1).join('')}`;
  text = text
    .replace(/<!--/g, `<!${ZWJ}--`)
    .replace(/--!?>/g, (m) => `-${ZWJ}${m.slice(1)}`)
    // GitHub leaves code alone, but a copy of this text pasted elsewhere should not ping anyone
    .replace(/@(?=[\p{L}\p{N}_-])/gu, `@${ZWJ}`);
  const longestRun = Math.max(0, ...(text.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(Math.max(3, longestRun + 1));
  return `${fence}${info}\n${text}\n${fence}`;
}

/**
 * An id inside a hidden HTML comment marker: percent-encoded outside [A-Za-z0-9._-], so it can neither end the
 * comment nor hold a space; `decodeMarkerId` reverses it.
 */
export function encodeMarkerId(id: string): string {
  return Array.from(new TextEncoder().encode(id))
    .map((byte) => {
      const ch = String.fromCharCode(byte);
      return /[A-Za-z0-9._-]/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
}

export function decodeMarkerId(encoded: string): string {
  return decodeURIComponent(encoded);
}
