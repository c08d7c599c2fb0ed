// Which pull request and commit a report is about, from the workflow's event payload.
import {
  checkPullRequestMatchesRun,
  type WorkflowRunIdentity,
  workflowRunIdentity,
} from '../security/workflow-run.js';
import type { GitHubClient } from './client.js';
import { runUrl as buildRunUrl } from './context.js';

export interface ReportTarget {
  owner?: string;
  repo?: string;
  /** known from the event itself (pull_request, or a same-repository workflow_run) */
  pr?: number;
  headSha?: string;
  /** workflow_run of a fork's PR: the event names no PR, only the head branch; look it up by branch and SHA */
  headLabel?: string;
  eventName?: string;
  /** link to this workflow run, for the check run and the comment */
  runUrl?: string;
  /** the triggering run, for a workflow_run event */
  run?: WorkflowRunIdentity;
}

type Payload = Record<string, unknown>;

function get(obj: unknown, ...path: string[]): unknown {
  let at = obj;
  for (const key of path) at = at && typeof at === 'object' ? (at as Payload)[key] : undefined;
  return at;
}

const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
const num = (v: unknown) => (typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : undefined);

/** Pure: reads the event payload and GITHUB_* variables; throws only for a workflow_run payload without a head SHA. */
export function reportTarget(
  eventName: string | undefined,
  payload: unknown,
  env: Readonly<Record<string, string | undefined>>,
): ReportTarget {
  const full = str(get(payload, 'repository', 'full_name')) ?? str(env.GITHUB_REPOSITORY);
  const [owner, repo] = full?.split('/') ?? [];
  const server = str(env.GITHUB_SERVER_URL) ?? 'https://github.com';
  const runUrl = buildRunUrl({ repository: full, runId: str(env.GITHUB_RUN_ID), serverUrl: server });
  const base: ReportTarget = { owner, repo, eventName, runUrl };
  switch (eventName?.toLowerCase()) {
    case 'pull_request':
    case 'pull_request_target':
      return {
        ...base,
        pr: num(get(payload, 'pull_request', 'number')) ?? num(get(payload, 'number')),
        headSha: str(get(payload, 'pull_request', 'head', 'sha')),
      };
    case 'workflow_run': {
      // throws, saying what is missing, for a payload without a head SHA: nothing could be published safely
      const run = workflowRunIdentity(payload);
      const headOwner = str(get(payload, 'workflow_run', 'head_repository', 'owner', 'login'));
      return {
        ...base,
        headSha: run.headSha,
        pr: run.pr,
        run,
        headLabel:
          run.pr === undefined && headOwner && run.headBranch ? `${headOwner}:${run.headBranch}` : undefined,
      };
    }
    default:
      // push, schedule, workflow_dispatch: no PR; the check run goes on the commit that ran
      return { ...base, headSha: str(env.GITHUB_SHA) };
  }
}

/** The open PR whose head is exactly `headLabel` at `headSha` (a fork's PR in a workflow_run), or undefined. */
export async function findPullRequestByHead(
  client: GitHubClient,
  owner: string,
  repo: string,
  headLabel: string,
  headSha: string,
): Promise<number | undefined> {
  const { data } = await client.rest.pulls.list({
    owner,
    repo,
    state: 'open',
    head: headLabel,
    per_page: 100,
  });
  const exact = data.filter((p) => p.head.sha.toLowerCase() === headSha.toLowerCase());
  return exact.length === 1 ? exact[0].number : undefined;
}

/** Fetches the pull request and throws unless it is the one the triggering run validated (same head, same repos). */
export async function confirmPullRequest(
  client: GitHubClient,
  owner: string,
  repo: string,
  pr: number,
  run: WorkflowRunIdentity,
): Promise<{ headSha: string }> {
  const { data } = await client.rest.pulls.get({ owner, repo, pull_number: pr });
  // a stage of an older commit ends after a newer push (a cancelled e2e): still this PR's, shown as superseded
  const commits =
    data.head.sha.toLowerCase() === run.headSha.toLowerCase()
      ? []
      : (
          await client.paginate(client.rest.pulls.listCommits, {
            owner,
            repo,
            pull_number: pr,
            per_page: 100,
          })
        ).map((c) => c.sha);
  checkPullRequestMatchesRun(data, run, commits);
  return { headSha: data.head.sha };
}
