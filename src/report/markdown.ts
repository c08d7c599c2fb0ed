// The report as an mdast tree (remark's syntax tree), serialised by mdast-util-to-markdown with GFM, which escapes
// each string for where it stands: a paragraph, a heading, a table cell, a code span, a fenced block. A string in
// the tree is text as a reader should see it; one that came from a RunResult is made inert first (escape.ts).
// Raw HTML goes in only through `html`, for the report's own tags and hidden markers. Pure.
import type {
  AlignType,
  Blockquote,
  Code,
  Emphasis,
  Heading,
  Html,
  InlineCode,
  List,
  ListItem,
  Paragraph,
  PhrasingContent,
  RootContent,
  Strong,
  Table,
} from 'mdast';
import { gfmToMarkdown } from 'mdast-util-gfm';
import { type Options, toMarkdown } from 'mdast-util-to-markdown';
import { CAPS, escapeHtml, inert, inertBlock, inertCode } from './escape.js';

/** A piece of a line: a string is text (escaped by the serialiser), or any phrasing node. */
export type Inline = string | PhrasingContent;
export type Block = RootContent;

const phrasing = (children: readonly Inline[]): PhrasingContent[] =>
  children.map((c) => (typeof c === 'string' ? { type: 'text', value: c } : c));

export const strong = (...children: Inline[]): Strong => ({ type: 'strong', children: phrasing(children) });
export const emphasis = (...children: Inline[]): Emphasis => ({
  type: 'emphasis',
  children: phrasing(children),
});
export const paragraph = (...children: Inline[]): Paragraph => ({
  type: 'paragraph',
  children: phrasing(children),
});
export const heading = (depth: 1 | 2 | 3 | 4, ...children: Inline[]): Heading => ({
  type: 'heading',
  depth,
  children: phrasing(children),
});

/** The report's own raw HTML: tags and hidden markers, never text from a RunResult. */
export const html = (value: string): Html => ({ type: 'html', value });

/** A code span of untrusted text. */
export const code = (value: unknown, max: number = CAPS.inline): InlineCode => ({
  type: 'inlineCode',
  value: inertCode(value, max),
});

/** A fenced block of untrusted text (a log tail); the serialiser picks a fence that nothing inside can close. */
export const codeBlock = (value: unknown, max: number = CAPS.block): Code => ({
  type: 'code',
  lang: 'text',
  value: inertBlock(value, max),
});

/** Lines of one paragraph, joined by hard breaks. */
export function lines(...rows: readonly Inline[][]): Paragraph {
  const children: Inline[] = rows.flatMap((row, i) => (i === 0 ? row : [{ type: 'break' } as const, ...row]));
  return paragraph(...children);
}

/** A tight list; an item is a line, or a line with a nested list. */
export function list(items: readonly (Inline[] | ListItem)[]): List {
  return {
    type: 'list',
    ordered: false,
    spread: false,
    children: items.map((i) => (Array.isArray(i) ? item(i) : i)),
  };
}

export function item(line: readonly Inline[], nested?: List): ListItem {
  return { type: 'listItem', spread: false, children: [paragraph(...line), ...(nested ? [nested] : [])] };
}

/** A table: the first row is the header; a cell is a string or a line of pieces. */
export function table(rows: readonly (readonly (Inline | Inline[])[])[], align?: AlignType[]): Table {
  return {
    type: 'table',
    align: align ?? null,
    children: rows.map((row) => ({
      type: 'tableRow',
      children: row.map((cell) => ({
        type: 'tableCell',
        children: phrasing(Array.isArray(cell) ? cell : [cell]),
      })),
    })),
  };
}

/** A fold: GitHub processes no markdown in `<summary>`, so its text is HTML-escaped, not markdown-escaped. */
export function details(summary: string, children: readonly Block[], max = CAPS.inline): Block[] {
  return [html(`<details><summary>${escapeHtml(summary, max)}</summary>`), ...children, html('</details>')];
}

/** A GitHub alert (`> [!NOTE]`): mdast has no node for it, and as text its brackets would be escaped. */
export function alert(kind: 'NOTE' | 'WARNING', ...children: Inline[]): Blockquote {
  return { type: 'blockquote', children: [paragraph(html(`[!${kind}]`), '\n', ...children)] };
}

/** Small print: `<sub>` lines `<br>` lines `</sub>`, markdown inside. */
export function small(...rows: readonly Inline[][]): Paragraph {
  const children = rows.flatMap((row, i) => (i === 0 ? row : [html('<br>'), ...row]));
  return paragraph(html('<sub>'), ...children, html('</sub>'));
}

const OPTIONS: Options = {
  bullet: '-',
  emphasis: '_',
  extensions: [gfmToMarkdown({ tablePipeAlign: false })],
  // GitHub reads $…$ as math
  unsafe: [{ character: '$', inConstruct: 'phrasing' }],
};
/** Text serialised alone may land in a table cell, where a pipe would end it. */
const ALONE: Options = {
  ...OPTIONS,
  unsafe: [...(OPTIONS.unsafe ?? []), { character: '|', inConstruct: 'phrasing' }],
};

const write = (blocks: readonly Block[], options: Options) =>
  toMarkdown({ type: 'root', children: [...blocks] }, options);

/** The blocks as markdown, one newline at the end. */
export function serialise(blocks: readonly Block[]): string {
  return write(blocks, OPTIONS);
}

/**
 * Untrusted text as a line of markdown, for a document still built as a string (the nightly issue): safe in a
 * paragraph, a heading, a list item and a table cell.
 */
export function inlineMarkdown(value: unknown, max: number = CAPS.inline): string {
  return write([paragraph(inert(value, max))], ALONE).trimEnd();
}
