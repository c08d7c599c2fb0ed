// The check run on the PR's head commit: its conclusion is the merge gate.
import { type Annotation, MAX_ANNOTATIONS } from '../report/annotations.js';
import type { GitHubClient } from './client.js';

export type CheckConclusion = 'success' | 'failure' | 'neutral' | 'cancelled';

/** GitHub's limit on a check run's summary (and text), in characters. */
export const CHECK_SUMMARY_MAX = 65_535;

export interface GateInput {
  verdict: string;
  /** 0 unless correctness failed, a step stopped the run, or a regression fails the run by choice */
  exitCode: number;
}

/**
 * Failing runs fail the gate (correctness failures always; regressions only when `fail-on-regression` made them
 * fail the run); a run with nothing to judge is neutral, so it neither blocks nor passes for a green result.
 */
export function gateConclusion(v: GateInput): CheckConclusion {
  if (v.exitCode !== 0) return 'failure';
  if (v.verdict === 'not-available' || v.verdict === 'insufficient-data') return 'neutral';
  return 'success';
}

/** Cuts a summary to GitHub's limit at a line boundary, saying where the rest is. */
export function fitCheckSummary(markdown: string, rest: string): string {
  if (markdown.length <= CHECK_SUMMARY_MAX) return markdown;
  const note = `\n\n_Cut to fit the check run's ${CHECK_SUMMARY_MAX.toLocaleString('en-US')} characters; the full report is in ${rest}._\n`;
  const room = CHECK_SUMMARY_MAX - note.length;
  const cut = markdown.lastIndexOf('\n', room);
  return `${markdown.slice(0, cut > room / 2 ? cut : room)}${note}`;
}

export interface CheckRunInput {
  owner: string;
  repo: string;
  headSha: string;
  name: string;
  /** in_progress: a stage has reported and another follows (no conclusion yet); completed: the verdict */
  status?: 'in_progress' | 'completed';
  conclusion: CheckConclusion;
  title: string;
  summary: string;
  detailsUrl?: string;
  /** failing cases and drifted patch sites at file:line (at most 50) */
  annotations?: Annotation[];
}

type CheckWhere = Pick<CheckRunInput, 'owner' | 'repo' | 'headSha' | 'name'>;

/** Our check runs of that name on the commit, newest first: one, unless two report jobs created one each at once. */
async function ourCheckRuns(
  client: GitHubClient,
  where: CheckWhere,
): Promise<{ id: number; status: string }[]> {
  const { data } = await client.rest.checks.listForRef({
    owner: where.owner,
    repo: where.repo,
    ref: where.headSha,
    check_name: where.name,
    filter: 'all',
    per_page: 100,
  });
  return data.check_runs.map((r) => ({ id: r.id, status: r.status }));
}

/** What a create or an update of the check run sends, annotations aside. */
function checkBody(input: Omit<CheckRunInput, 'headSha' | 'annotations'>) {
  const completed = (input.status ?? 'completed') === 'completed';
  return {
    owner: input.owner,
    repo: input.repo,
    name: input.name,
    ...(completed
      ? {
          status: 'completed' as const,
          conclusion: input.conclusion,
          completed_at: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        }
      : { status: 'in_progress' as const }),
    ...(input.detailsUrl ? { details_url: input.detailsUrl } : {}),
    output: {
      title: input.title.slice(0, 1000),
      summary: fitCheckSummary(input.summary, 'the job summary'),
    },
  };
}

/**
 * Creates the commit's check run, or updates the one an earlier stage created (in progress after the kernel stage,
 * completed with the verdict after the e2e), so a commit has one check of this name (or, after two report jobs
 * created one each at once, several that say the same).
 */
export async function publishCheckRun(
  client: GitHubClient,
  input: CheckRunInput,
): Promise<{ id: number; url: string }> {
  const body = checkBody(input);
  const [existing] = await ourCheckRuns(client, input);
  const id = existing?.id;
  // annotations go with the create only: GitHub appends those of an update, so a second report would repeat them
  const annotations = input.annotations?.length
    ? input.annotations.slice(0, MAX_ANNOTATIONS).map((a) => ({
        path: a.path,
        start_line: a.line,
        end_line: a.line,
        annotation_level: 'failure' as const,
        title: a.title.slice(0, 255),
        message: a.message,
      }))
    : undefined;
  const { data } =
    id === undefined
      ? await client.rest.checks.create({
          ...body,
          head_sha: input.headSha,
          output: { ...body.output, ...(annotations ? { annotations } : {}) },
        })
      : await client.rest.checks.update({ ...body, check_run_id: id });
  // two jobs that looked at once created one each: every one of them says the same, whichever GitHub shows
  for (const other of await ourCheckRuns(client, input))
    if (other.id !== data.id) await client.rest.checks.update({ ...body, check_run_id: other.id });
  return { id: data.id, url: data.html_url ?? '' };
}

/**
 * Completes our check runs on the commit that are still in progress: a stage said another follows (the kernel
 * stage, with the e2e to come), and that stage's job ended without a RunResult. Returns how many it completed.
 */
export async function completeOpenCheckRuns(
  client: GitHubClient,
  input: Omit<CheckRunInput, 'status' | 'annotations'>,
): Promise<number> {
  const open = (await ourCheckRuns(client, input)).filter((r) => r.status !== 'completed');
  const body = checkBody({ ...input, status: 'completed' });
  for (const r of open) await client.rest.checks.update({ ...body, check_run_id: r.id });
  return open.length;
}
