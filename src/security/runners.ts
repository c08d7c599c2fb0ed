// Runner labels name the report's sections and the comment's markers: two RunResults must never share one. Pure.
import type { RunResult } from '../results/run-result.js';
import { stripInvisible } from './text.js';

/** The label as a reader sees it: no invisible characters, compatibility forms folded, no case, no edge blanks. */
export function runnerKey(label: string): string {
  return stripInvisible(label).normalize('NFKC').replace(/\s+/g, ' ').trim().toLowerCase();
}

/**
 * Gives every RunResult a label of its own: the first keeps its (cleaned) label, a later one whose label reads
 * the same gets " (2)", " (3)"...; each rename is returned as a note to show in the report.
 */
export function distinctRunners(results: readonly RunResult[]): { results: RunResult[]; notes: string[] } {
  const taken = new Set<string>();
  const notes: string[] = [];
  const out = results.map((r) => {
    const shown = stripInvisible(r.identity.runner).replace(/\s+/g, ' ').trim() || 'runner';
    let label = shown;
    for (let i = 2; taken.has(runnerKey(label)); i++) label = `${shown} (${i})`;
    taken.add(runnerKey(label));
    if (label === r.identity.runner) return r;
    if (label !== shown)
      notes.push(
        `Two RunResults name runner "${shown}" (after removing invisible characters and case): the later one is shown as "${label}". Give each runner its own runner-label.`,
      );
    return { ...r, identity: { ...r.identity, runner: label } };
  });
  return { results: out, notes };
}
