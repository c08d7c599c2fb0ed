// Check-run annotations and workflow `::error` lines: failing test cases at their test file and line, and patch
// sites that drifted or were refused at file:line. Pure.
import { caseFailed, siteDrifted } from '../results/predicates.js';
import type { RunResult } from '../results/run-result.js';

export interface Annotation {
  /** path relative to where it was found: the bundle or test directory for a case, the vLLM tree for a site */
  path: string;
  line: number;
  title: string;
  message: string;
}

/** GitHub takes at most 50 annotations per check-run request. */
export const MAX_ANNOTATIONS = 50;

const oneLine = (text: string, max: number) => {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
};

export function annotations(result: RunResult): Annotation[] {
  const runner = result.identity.runner;
  const out: Annotation[] = [];
  for (const t of (result.tests ?? []).filter(caseFailed)) {
    if (!t.file || !t.line) continue;
    out.push({
      path: t.file,
      line: t.line,
      title: `${t.id.split('::').pop()} ${t.status} on ${runner}`,
      message: oneLine(t.message ?? `${t.status}, no message`, 1000),
    });
  }
  for (const s of (result.patch?.sites ?? []).filter(siteDrifted)) {
    if (s.line < 1) continue;
    out.push({
      path: s.file,
      line: s.line,
      title: `patch site ${s.status} on ${runner}`,
      message: oneLine(`${s.reason ?? s.status}: ${s.source}`, 1000),
    });
  }
  return out.slice(0, MAX_ANNOTATIONS);
}
