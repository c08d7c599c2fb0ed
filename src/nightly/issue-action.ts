// What tonight does to the regression issue: open it on the first alert, update it while open, close it on recovery.
import type { IssueState } from '../github/issue.js';
import { type IssueTextOptions, issueBody, issueTitle, recoveryNote } from './issue-body.js';
import type { HistoryRecord } from './record.js';
import type { RunnerTrend } from './trend.js';

export type IssueAction =
  | { kind: 'none' }
  | { kind: 'open'; title: string; body: string }
  | { kind: 'update'; body: string }
  | { kind: 'close'; body: string; note: string };

/**
 * Open while any pool alerts; a suspicious night or a regression not yet back for enough nights keeps an open
 * issue open but never opens one. A night that measured nothing (`measured` false) neither opens nor closes it.
 */
export function decideIssueAction(
  trends: readonly RunnerTrend[],
  issueIsOpen: boolean,
  options: IssueTextOptions,
  measured = true,
): IssueAction {
  const alerting = trends.some((t) => t.status === 'alert');
  const unsettled = trends.some((t) => t.status === 'suspicious' || t.status === 'recovering');
  if (!issueIsOpen) {
    return alerting && measured
      ? { kind: 'open', title: issueTitle(options.bundle), body: issueBody(trends, options) }
      : { kind: 'none' };
  }
  if (alerting || unsettled || !measured) return { kind: 'update', body: issueBody(trends, options) };
  return {
    kind: 'close',
    body: issueBody(trends, options),
    note: recoveryNote(trends, options.night, options.inert),
  };
}

/** The label a maintainer adds to accept the level an issue reports (closing it as not planned does the same). */
export const ACCEPT_LABEL = 'accepted';

/** Whether the newest issue accepted its level; tonight's line then records it, and the level is the reference. */
export function acceptanceOf(latest: IssueState | undefined): HistoryRecord['accepted'] {
  if (!latest) return undefined;
  const how =
    latest.state === 'closed' && latest.stateReason === 'not_planned'
      ? 'closed as not planned'
      : latest.labels.includes(ACCEPT_LABEL)
        ? `labelled ${ACCEPT_LABEL}`
        : undefined;
  return how ? { issue: latest.number, url: latest.url, how } : undefined;
}
