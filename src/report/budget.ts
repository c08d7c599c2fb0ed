// The size budget. Rendered sections carry their cuttable parts between hidden markers with a priority, so a
// section read back from an existing comment can still be cut. Cutting goes in priority order; headlines,
// failures and verdicts are never inside a cuttable part. Pure.

import { type Block, html } from './markdown.js';

/** GitHub rejects an issue or pull-request comment body longer than this (characters). */
export const COMMENT_MAX_CHARS = 65_536;

/** What each priority holds, in the order it is cut. */
export const CUT_LEVELS = {
  1: 'lists of passing cases and applied patch sites',
  2: 'per-cell detail (e2e detail tables and charts, full kernel tables, the steps table)',
  3: 'log tails',
  4: 'per-cell e2e tables (verdict counts kept) and failures past the first ten',
} as const;
export type CutLevel = keyof typeof CUT_LEVELS;
export const MAX_CUT_LEVEL = 4;

const OPEN = (level: CutLevel) => `<!-- vkci:cut=${level} -->`;
const ELSE = '<!-- vkci:else -->';
const CLOSE = '<!-- /vkci:cut -->';
// the serialiser puts a blank line between blocks, so a table inside ends before the marker
const BLOCK =
  /<!-- vkci:cut=(\d) -->\n\n([\s\S]*?)(?:<!-- vkci:else -->\n\n([\s\S]*?))?<!-- \/vkci:cut -->\n+/g;

/**
 * Marks `full` as cuttable at `level`; when cut, `short` stands in its place. Neither may hold another cuttable
 * part.
 */
export function cuttable(level: CutLevel, full: readonly Block[], short: readonly Block[] = []): Block[] {
  return [html(OPEN(level)), ...full, ...(short.length ? [html(ELSE), ...short] : []), html(CLOSE)];
}

/** Removes every part of priority ≤ level (putting its short form in place); keeps the rest, unmarked or not. */
export function cutTo(text: string, level: number, keepMarkers = true): string {
  return text.replace(BLOCK, (whole, p: string, full: string, short: string | undefined) => {
    if (Number(p) <= level) return short ?? '';
    return keepMarkers ? whole : full;
  });
}

/** The text without the cut markers, as a person reading a file wants it. */
export function stripCutMarkers(text: string): string {
  return cutTo(text, 0, false);
}

/** The highest level of any cuttable part still in the text, 0 if none. */
export function highestCutLevel(text: string): number {
  let level = 0;
  for (const m of text.matchAll(BLOCK)) level = Math.max(level, Number(m[1]));
  return level;
}

export interface Budgeted {
  sections: string[];
  /** descriptions of what was cut, in order */
  cut: string[];
}

/**
 * Cuts sections until head + sections + tail fits in maxChars: priority levels 1..4 across all sections,
 * then whole sections from the last to the first down to their headline (`headline(section)`). The caller
 * still guarantees the hard limit on the final text.
 */
export function fitSections(
  sections: readonly string[],
  fixedChars: (sections: readonly string[], cut: readonly string[]) => number,
  maxChars: number,
  headline: (section: string) => string,
): Budgeted {
  let current = [...sections];
  const cut: string[] = [];
  const size = () => fixedChars(current, cut) + current.reduce((sum, s) => sum + s.length, 0);
  for (
    let level = 1 as CutLevel;
    level <= MAX_CUT_LEVEL && size() > maxChars;
    level = (level + 1) as CutLevel
  ) {
    const next = current.map((s) => cutTo(s, level));
    if (next.some((s, i) => s !== current[i])) cut.push(CUT_LEVELS[level]);
    current = next;
  }
  if (size() > maxChars) {
    const label = 'the detail of some runners (their headlines kept)';
    cut.push(label);
    for (let i = current.length - 1; i >= 0 && size() > maxChars; i--) current[i] = headline(current[i]);
  }
  return { sections: current, cut };
}
