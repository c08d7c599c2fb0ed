// Every string that came from a RunResult is made inert here before it goes into the report's tree. Artifacts are
// untrusted: no @mentions or cross-references, no autolinks, no hidden comment markers, no invisible characters,
// bounded length. Markdown's own escaping is the serialiser's (markdown.ts), which knows each string's context;
// raw HTML (a `<summary>`) is escaped here, since no markdown is processed there. Pure.

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

/**
 * Controls, bidi marks, zero-width and filler characters removed (they hide or reorder what a reviewer sees), and
 * HTML comment delimiters broken: the report's sections are found by their comment markers in the raw text.
 */
function clean(value: unknown): string {
  return stripInvisible(String(value ?? '').replace(/\r\n?/g, '\n'))
    .replace(/<!--/g, `<!${ZWJ}--`)
    .replace(/--!?>/g, (m) => `-${ZWJ}${m.slice(1)}`);
}

const oneLine = (value: unknown, max: number) => capLength(clean(value).replace(/\s+/g, ' ').trim(), max);

/** @user, @org/team and e-mail autolinks broken; GitHub does not read mentions in code, but a copy pasted elsewhere would. */
const defuseMentions = (text: string) => text.replace(/@(?=[\p{L}\p{N}_-])/gu, `@${ZWJ}`);

/** Breaks what GitHub would turn into a notification, a reference or a link, without changing what a reader sees. */
function defuse(text: string): string {
  return (
    defuseMentions(text)
      // #123, GH-123 and owner/repo#123 cross-references (they post a back-link into the referenced issue)
      .replace(/#(?=\d)/g, `#${ZWJ}`)
      .replace(/\bGH-(?=\d)/gi, (m) => `${m.slice(0, 2)}${ZWJ}-`)
      // autolinked URLs: scheme:// and www.
      .replace(/:\/\//g, `${ZWSP}://`)
      .replace(/\bwww\./gi, (m) => `${m.slice(0, 3)}${ZWSP}.`)
  );
}

/** Text for a paragraph, a heading, a list item or a table cell: one line, at most `max` characters, defused. */
export function inert(value: unknown, max: number = CAPS.inline): string {
  return defuse(oneLine(value, max));
}

/** Text for a code span: one line, capped; nothing else changes, so it copies as it is. */
export function inertCode(value: unknown, max: number = CAPS.inline): string {
  return defuseMentions(oneLine(value, max));
}

/** Text for a fenced block (a log tail): its last `max` characters, where the error is; lines kept. */
export function inertBlock(value: unknown, max: number = CAPS.block): string {
  const points = Array.from(clean(value));
  const text = points.length > max ? `…${points.slice(points.length - max + 1).join('')}` : points.join('');
  return defuseMentions(text);
}

/**
 * Text inside raw HTML such as `<summary>`: GitHub processes no markdown there, so a backslash escape would show;
 * only HTML's own characters are escaped (one line, capped, mentions and links defused).
 */
export function escapeHtml(value: unknown, max: number = CAPS.inline): string {
  return inert(value, max)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
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
