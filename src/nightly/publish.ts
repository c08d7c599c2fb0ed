// Carries tonight's issue action out through an IssueTracker, so that at most one issue stays open per bundle.
import type { IssueTracker, TrackedIssue } from '../github/issue.js';
import { decideIssueAction, type IssueAction } from './issue-action.js';
import { ISSUE_LABEL, type IssueTextOptions, issueMarker } from './issue-body.js';
import type { RunnerTrend } from './trend.js';

export interface PublishedIssue {
  action: IssueAction['kind'];
  issue?: TrackedIssue;
  /** issues closed because another run opened the same one at the same time */
  duplicatesClosed: number[];
}

/** Keeps the oldest open issue and closes the others as duplicates of it. */
async function closeDuplicates(tracker: IssueTracker, open: TrackedIssue[]): Promise<number[]> {
  const [keep, ...duplicates] = open;
  for (const d of duplicates) {
    await tracker.comment(
      d.number,
      `Duplicate of #${keep.number}: two nightly runs opened it at the same time.`,
    );
    // 'duplicate', not 'not_planned': a maintainer's 'not planned' accepts the level
    await tracker.close(d.number, 'duplicate');
  }
  return duplicates.map((d) => d.number);
}

export async function publishRegressionIssue(
  tracker: IssueTracker,
  trends: readonly RunnerTrend[],
  options: IssueTextOptions,
  measured = true,
): Promise<PublishedIssue> {
  const marker = issueMarker(options.bundle);
  const open = await tracker.findOpen(ISSUE_LABEL, marker);
  const duplicatesClosed = open.length > 1 ? await closeDuplicates(tracker, open) : [];
  let issue = open[0];
  const action = decideIssueAction(trends, issue !== undefined, options, measured);
  switch (action.kind) {
    case 'none':
      break;
    case 'open': {
      const created = await tracker.create(action.title, action.body, ISSUE_LABEL);
      // another runner may have opened it at the same time: the oldest stays, each closes only its own
      const oldest = (await tracker.findOpen(ISSUE_LABEL, marker))[0] ?? created;
      if (oldest.number < created.number) {
        duplicatesClosed.push(...(await closeDuplicates(tracker, [oldest, created])));
        await tracker.update(oldest.number, action.body);
        issue = oldest;
      } else {
        issue = created;
      }
      break;
    }
    case 'update':
      if (issue && issue.body !== action.body) await tracker.update(issue.number, action.body);
      break;
    case 'close':
      if (issue) {
        await tracker.update(issue.number, action.body);
        await tracker.comment(issue.number, action.note);
        await tracker.close(issue.number, 'completed');
      }
      break;
  }
  return { action: action.kind, issue, duplicatesClosed };
}
