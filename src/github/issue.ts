// The regression issue on GitHub: find the open ones by label and marker, create, edit, comment, close.
import type { Octokit } from '@octokit/rest';

export interface TrackedIssue {
  number: number;
  url: string;
  body: string;
}

/** An issue as a maintainer left it: its state, why it was closed, its labels. */
export interface IssueState extends TrackedIssue {
  state: 'open' | 'closed';
  stateReason?: string;
  labels: string[];
}

export interface IssueTracker {
  /** the newest issue, open or closed, carrying the label and the marker */
  latest(label: string, marker: string): Promise<IssueState | undefined>;
  /** open issues carrying the label whose body holds the marker, oldest first */
  findOpen(label: string, marker: string): Promise<TrackedIssue[]>;
  create(title: string, body: string, label: string): Promise<TrackedIssue>;
  update(issueNumber: number, body: string): Promise<void>;
  comment(issueNumber: number, body: string): Promise<void>;
  close(issueNumber: number, reason: 'completed' | 'not_planned' | 'duplicate'): Promise<void>;
}

export interface RepoRef {
  owner: string;
  repo: string;
}

/** `owner/name` from GITHUB_REPOSITORY, or an error that says what to set. */
export function parseRepoRef(value: string | undefined): RepoRef {
  const m = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/.exec(value ?? '');
  if (!m) {
    throw new Error(
      `Invalid repository '${value ?? ''}'. Expected format {owner}/{repo} in GITHUB_REPOSITORY (set by GitHub Actions).`,
    );
  }
  return { owner: m[1], repo: m[2] };
}

export function githubIssueTracker(octokit: Octokit, { owner, repo }: RepoRef): IssueTracker {
  const tracked = (i: { number: number; html_url: string; body?: string | null }): TrackedIssue => ({
    number: i.number,
    url: i.html_url,
    body: i.body ?? '',
  });
  return {
    async latest(label, marker) {
      const { data } = await octokit.rest.issues.listForRepo({
        owner,
        repo,
        state: 'all',
        labels: label,
        sort: 'created',
        direction: 'desc',
        per_page: 30,
      });
      const found = data.find((i) => !i.pull_request && (i.body ?? '').includes(marker));
      if (!found) return undefined;
      return {
        ...tracked(found),
        state: found.state === 'closed' ? 'closed' : 'open',
        stateReason: found.state_reason ?? undefined,
        labels: found.labels.map((l) => (typeof l === 'string' ? l : (l.name ?? ''))),
      };
    },
    async findOpen(label, marker) {
      const issues = await octokit.paginate(octokit.rest.issues.listForRepo, {
        owner,
        repo,
        state: 'open',
        labels: label,
        per_page: 100,
      });
      return issues
        .filter((i) => !i.pull_request && (i.body ?? '').includes(marker))
        .map(tracked)
        .sort((a, b) => a.number - b.number);
    },
    async create(title, body, label) {
      const { data } = await octokit.rest.issues.create({ owner, repo, title, body, labels: [label] });
      return tracked(data);
    },
    async update(issueNumber, body) {
      await octokit.rest.issues.update({ owner, repo, issue_number: issueNumber, body });
    },
    async comment(issueNumber, body) {
      await octokit.rest.issues.createComment({ owner, repo, issue_number: issueNumber, body });
    },
    async close(issueNumber, reason) {
      await octokit.rest.issues.update({
        owner,
        repo,
        issue_number: issueNumber,
        state: 'closed',
        state_reason: reason,
      });
    },
  };
}
