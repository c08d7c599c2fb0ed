// What tonight does to the regression issue: open it on the first alert, update it while open, close it on recovery.
import { type IssueTextOptions, issueBody, issueTitle, recoveryNote } from './issue-body.js';
import type { RunnerTrend } from './trend.js';

export type IssueAction =
  | { kind: 'none' }
  | { kind: 'open'; title: string; body: string }
  | { kind: 'update'; body: string }
  | { kind: 'close'; body: string; note: string };

/** Open while any runner alerts; a single suspicious night keeps an open issue open but never opens one. */
export function decideIssueAction(
  trends: readonly RunnerTrend[],
  issueIsOpen: boolean,
  options: IssueTextOptions,
): IssueAction {
  const alerting = trends.some((t) => t.status === 'alert');
  const unsettled = trends.some((t) => t.status === 'suspicious');
  if (!issueIsOpen) {
    return alerting
      ? { kind: 'open', title: issueTitle(options.bundle), body: issueBody(trends, options) }
      : { kind: 'none' };
  }
  if (alerting || unsettled) return { kind: 'update', body: issueBody(trends, options) };
  return {
    kind: 'close',
    body: issueBody(trends, options),
    note: recoveryNote(trends, options.night, options.inert),
  };
}
