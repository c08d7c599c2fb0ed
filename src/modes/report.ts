// Mode report: read every runner's RunResult (untrusted), decide, render, publish (PR comment, check run,
// job summary, outputs, report.md). Publishing problems are warnings; only the verdict fails the run.
import { glob, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Config } from '../config.js';
import {
  type CheckRunInput,
  completeOpenCheckRuns,
  fitCheckSummary,
  gateConclusion,
  publishCheckRun,
} from '../github/check-run.js';
import { type ClientOptions, createOctokit, type GitHubClient } from '../github/client.js';
import {
  type CommentFormat,
  httpStatus,
  publishStickyComment,
  readStickySections,
  type StickyOptions,
} from '../github/comment.js';
import { workflowContextOf } from '../github/context.js';
import {
  confirmPullRequest,
  findPullRequestByHead,
  type ReportTarget,
  reportTarget,
} from '../github/event.js';
import type { Host, ModeOutcome } from '../host.js';
import { annotations } from '../report/annotations.js';
import { VERDICT_WORDS } from '../report/format.js';
import type { OverallVerdict, Report, RunnerReport, RunVerdict } from '../report/model.js';
import {
  COMMENT_MARKER,
  type EndedRun,
  metaOf,
  parseCommentSections,
  type RenderOptions,
  renderComment,
  renderEndedE2e,
  renderNotes,
  renderReport,
  renderRunnerSection,
  sectionMeta,
} from '../report/render.js';
import { awaitingE2e, checkState, type SectionMeta, sectionKey, sectionVerdicts } from '../report/stages.js';
import type { RunResult } from '../results/run-result.js';
import { DEFAULT_MAX_RUN_RESULT_BYTES, readUntrustedRunResult } from '../security/artifacts.js';
import { workflowChangeReason } from '../security/pr-files.js';
import { distinctRunners } from '../security/runners.js';
import { analyseRuns } from '../stats/analyse.js';
import { combineVerdicts } from '../stats/verdict.js';

export const CHECK_RUN_NAME = 'vllm-kernel-ci';
/** how often the check run is decided again when racing report jobs keep changing the comment */
const CHECK_ROUNDS = 4;

function sameSections(a: Map<string, string>, b: Map<string, string>): boolean {
  return a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);
}

/** GitHub refuses a step summary over 1 MiB. */
export const SUMMARY_MAX_BYTES = 1024 * 1024;

/** What tests tune: GitHub's pacing is seconds, a test's is milliseconds. */
export interface ReportTuning {
  client?: Omit<ClientOptions, 'baseUrl' | 'log'>;
  sticky?: Omit<StickyOptions, 'warn' | 'tooLongBody'>;
}

interface Refused {
  file: string;
  reason: string;
}

/** The directory a results pattern starts from: its components before the first glob character. */
export function globRoot(pattern: string): string {
  const parts = pattern.split('/');
  const fixed = parts.slice(
    0,
    Math.max(
      0,
      parts.findIndex((p) => /[*?[\]{}]/.test(p)),
    ),
  );
  return resolve(fixed.join('/') || '.');
}

async function resultFiles(pattern: string): Promise<string[]> {
  const files: string[] = [];
  for await (const f of glob(pattern)) files.push(resolve(f));
  return files.sort();
}

/** Artifacts of another run are untrusted: size cap, schema, and (workflow_run) the PR and head SHA it names. */
async function readResults(
  files: string[],
  target: ReportTarget,
  host: Host,
  root: string,
): Promise<{ results: RunResult[]; refused: Refused[] }> {
  const fromOtherRun = target.eventName?.toLowerCase() === 'workflow_run';
  const results: RunResult[] = [];
  const refused: Refused[] = [];
  for (const file of files) {
    try {
      results.push(
        await readUntrustedRunResult(file, {
          maxBytes: DEFAULT_MAX_RUN_RESULT_BYTES,
          expectedSha: fromOtherRun ? target.headSha : undefined,
          expectedPr: fromOtherRun ? target.pr : undefined,
          root,
        }),
      );
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      refused.push({ file, reason });
      host.warning(reason);
    }
  }
  return { results, refused };
}

// the reasons quote artifact content: made inert like any RunResult string
const refusedSection = (refused: Refused[]) =>
  renderNotes(
    'Refused RunResults',
    refused.map((r) => r.reason),
  );
const runnerNotesSection = (notes: string[]) => renderNotes('Runner labels', notes);

/** `n`: the runners with sections of the commit, this job's and the others'. */
function checkTitle(verdict: RunVerdict, runners: readonly RunnerReport[], n: number): string {
  const words = VERDICT_WORDS[verdict.verdict as OverallVerdict] ?? verdict.verdict;
  // a kernel slower than its base is a regression of the run: the title says where
  const slower = runners.flatMap((r) => {
    const h = r.kernelHeadline;
    return h?.kind === 'vs-base' && h.vsBase.slower > 0
      ? [
          `${r.result.identity.runner}: kernel ${h.vsBase.slower} of ${h.vsBase.shapes} shapes slower than base`,
        ]
      : [];
  });
  return `${words} on ${n} runner${n === 1 ? '' : 's'}${slower.length ? ` (${slower.join('; ')})` : ''}`;
}

/** The PR to comment on; for a fork's workflow_run, found through the API and checked against the run. */
async function pullRequestToComment(
  client: GitHubClient,
  target: ReportTarget,
  results: RunResult[],
  host: Host,
): Promise<{ pr?: number; head?: string }> {
  if (target.pr !== undefined || !target.run || !target.owner || !target.repo)
    return { pr: target.pr, head: await headOfPullRequest(client, target, host) };
  const named = [...new Set(results.map((r) => r.identity.pr).filter((n): n is number => n !== undefined))];
  if (named.length > 1) {
    host.warning(
      `The RunResults name different pull requests (${named.join(', ')}); no PR comment is written.`,
    );
    return { head: target.headSha };
  }
  try {
    const pr =
      named[0] ??
      (target.headLabel
        ? await findPullRequestByHead(client, target.owner, target.repo, target.headLabel, target.run.headSha)
        : undefined);
    if (pr === undefined) {
      host.warning(`No open pull request has head ${target.run.headSha}; no PR comment is written.`);
      return { head: target.headSha };
    }
    const { headSha } = await confirmPullRequest(client, target.owner, target.repo, pr, target.run);
    return { pr, head: headSha };
  } catch (error) {
    host.warning(error instanceof Error ? error.message : String(error));
    return { head: target.headSha };
  }
}

/**
 * Why a fork's RunResult cannot gate the merge: its pull request changes .github/workflows/, so the validate run
 * may have been a workflow of its own making that uploaded any RunResult. undefined when it does not (or no fork).
 */
async function untrustedWorkflowChange(
  client: GitHubClient,
  target: ReportTarget,
  pr: number | undefined,
): Promise<string | undefined> {
  const run = target.run;
  if (!run || !target.owner || !target.repo) return undefined;
  if (run.headRepository.toLowerCase() === run.repository.toLowerCase()) return undefined;
  if (pr === undefined) return 'the pull request of this fork run could not be confirmed';
  try {
    // changed_files is the whole count; the list stops at 3000 (security/pr-files.ts)
    const { data: pull } = await client.rest.pulls.get({
      owner: target.owner,
      repo: target.repo,
      pull_number: pr,
    });
    const files = await client.paginate(client.rest.pulls.listFiles, {
      owner: target.owner,
      repo: target.repo,
      pull_number: pr,
      per_page: 100,
    });
    return workflowChangeReason(pr, pull.changed_files, files);
  } catch (error) {
    return `the files of pull request #${pr} could not be listed (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`;
  }
}

/**
 * The pull request's head now: a stage of an older commit can finish after a newer push, and its sections then show
 * as superseded. The event's head when the PR was confirmed against it already, or when GitHub cannot say.
 */
async function headOfPullRequest(
  client: GitHubClient,
  target: ReportTarget,
  host: Host,
): Promise<string | undefined> {
  const pr = target.pr;
  // a pull_request event is its own head; only a workflow_run can come after a newer push
  if (pr === undefined || !target.run || !target.owner || !target.repo) return target.headSha;
  try {
    const { data } = await client.rest.pulls.get({ owner: target.owner, repo: target.repo, pull_number: pr });
    return data.head.sha;
  } catch (error) {
    host.warning(
      `Could not read the head of pull request #${pr} (${error instanceof Error ? error.message.split('\n')[0] : String(error)}); ${target.headSha} counts as current.`,
    );
    return target.headSha;
  }
}

/** The check run of the commit a stage reported on: in progress while an e2e follows, else its verdict. */
function checkOf(
  metas: readonly SectionMeta[],
  sha: string,
  own: RunVerdict,
): { status: 'in_progress' | 'completed'; verdict: RunVerdict; cancelled: boolean } {
  const state = checkState(metas, sha);
  const verdicts = sectionVerdicts(metas, sha);
  return {
    status: state.status,
    cancelled: state.cancelled,
    // a refused RunResult fails the report's own verdict: it fails the check too
    verdict: verdicts.length ? combineVerdicts([...verdicts, ...(own.exitCode ? [own] : [])]) : own,
  };
}

function permissionAdvice(what: string, permission: string, error: unknown): string {
  return (
    `Could not ${what}: GitHub answered ${httpStatus(error)} (${error instanceof Error ? error.message.split('\n')[0] : String(error)}). ` +
    `The token is read-only here (a fork's pull_request run, or missing permissions): publish from the trusted ` +
    `workflow_run workflow (docs/workflows/pr-report.yml) with \`permissions: ${permission}: write\`. ` +
    'The report is in the job summary.'
  );
}

async function publish(
  config: Config,
  host: Host,
  target: ReportTarget,
  analysed: Report,
  verdict: RunVerdict,
  render: RenderOptions,
  tuning: ReportTuning,
  ended?: EndedRun,
): Promise<string | undefined> {
  const token = config.githubToken;
  if (!token) {
    host.info(
      'No github-token: nothing is published to GitHub; the report is in the job summary and report.md.',
    );
    return undefined;
  }
  const { owner, repo } = target;
  if (!owner || !repo) {
    host.warning('No repository is known (GITHUB_REPOSITORY is unset): nothing is published to GitHub.');
    return undefined;
  }
  const client = gitHubClient(token, host, tuning);
  const results = analysed.runners.map((r) => r.result);
  const sections = new Map(analysed.runners.map((r) => [sectionKey(metaOf(r)), renderRunnerSection(r)]));
  let commentUrl: string | undefined;

  const { pr, head } = await pullRequestToComment(client, target, results, host);
  const format: CommentFormat = {
    marker: COMMENT_MARKER,
    parse: parseCommentSections,
    compose: (s) => renderComment(s, { ...render, headSha: head }),
  };
  if (ended && pr !== undefined && target.headSha) {
    // the stage's run is over: a runner it left without a RunResult gets its e2e section now, or the comment
    // says "e2e: running" for ever and the check waits on it
    const headSha = target.headSha;
    const reported = new Set(results.map((r) => r.identity.runner));
    try {
      const present = await readStickySections(client, { owner, repo, issueNumber: pr }, format);
      const metas = [...present.values()].flatMap((t) => sectionMeta(t) ?? []);
      for (const k of awaitingE2e(metas, headSha))
        if (!reported.has(k.runner))
          sections.set(
            sectionKey({ runner: k.runner, stage: 'e2e', sha: headSha }),
            renderEndedE2e(k.runner, headSha, ended),
          );
    } catch (error) {
      host.warning(
        `Could not read the PR comment: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
      );
    }
  }
  if (sections.size === 0) return undefined;
  /** Writes this job's sections into the sticky comment; the sections on the PR after the write, or none. */
  const stick = async (): Promise<Map<string, string> | undefined> => {
    if (pr === undefined) return undefined;
    try {
      const sticky = await publishStickyComment(client, { owner, repo, issueNumber: pr }, sections, format, {
        ...tuning.sticky,
        warn: (m) => host.warning(m),
        tooLongBody: () =>
          `${COMMENT_MARKER}\n## vllm-kernel-ci\n\nThe report is too long for a comment. It is in ${render.fullReportHint}.\n`,
      });
      if (commentUrl === undefined) host.info(`PR comment: ${sticky.url}`);
      commentUrl = sticky.url;
      return new Map([...parseCommentSections(sticky.body), ...sections]);
    } catch (error) {
      host.warning(
        httpStatus(error) === 403
          ? permissionAdvice(`comment on pull request #${pr}`, 'pull-requests', error)
          : `Could not publish the PR comment: ${error instanceof Error ? error.message : String(error)}`,
      );
      return undefined;
    }
  };
  // every section on the PR after our write: what the check run of a staged run is decided from
  let merged = (await stick()) ?? sections;

  if (target.headSha) {
    const headSha = target.headSha;
    // a fork that edits the workflows never gets a success from its own upload: neutral, saying why
    const untrusted = await untrustedWorkflowChange(client, target, pr);
    if (untrusted)
      host.warning(
        `The check run is neutral: ${untrusted}. A maintainer reviews the workflow change and merges it first.`,
      );
    const checkInput = (view: Map<string, string>): CheckRunInput => {
      const metas = [...view.values()].flatMap((t) => sectionMeta(t) ?? []);
      const check = checkOf(metas, headSha, verdict);
      // the commit's own sections, every stage reported so far: the summary of its check run
      const comment = renderComment([...view.values()], { ...render, headSha });
      const inProgress = check.status === 'in_progress';
      const runnerCount = Math.max(
        analysed.runners.length,
        new Set(metas.filter((m) => m.sha === headSha).map((m) => m.runner)).size,
      );
      return {
        owner,
        repo,
        headSha,
        name: CHECK_RUN_NAME,
        status: untrusted || !inProgress ? 'completed' : 'in_progress',
        conclusion: untrusted ? 'neutral' : check.cancelled ? 'cancelled' : gateConclusion(check.verdict),
        title: untrusted
          ? 'Not trusted: the fork changes .github/workflows/'
          : check.cancelled
            ? 'Cancelled: a newer push superseded this commit, or the runner stopped'
            : `${inProgress ? 'Kernel stage: ' : ''}${checkTitle(check.verdict, analysed.runners, runnerCount)}${inProgress ? '; e2e running' : ''}`,
        summary: untrusted
          ? `Not a merge gate: ${untrusted}. The workflow change needs a maintainer's review and a merge before the GPU results of this fork can count.\n\n${fitCheckSummary(comment, render.fullReportHint ?? 'the job summary').slice(0, 60_000)}`
          : fitCheckSummary(comment, render.fullReportHint ?? 'the job summary'),
        detailsUrl: target.runUrl,
        annotations: untrusted ? [] : results.flatMap(annotations),
      };
    };
    try {
      // a report job racing this one may add its sections to the comment after this job's view of it: the check
      // is decided again from the comment until the comment holds nothing the check did not see
      for (let round = 0; round < CHECK_ROUNDS; round++) {
        const published = await publishCheckRun(client, checkInput(merged));
        if (round === 0) host.info(`Check run: ${published.url}`);
        const after = await stick();
        if (!after || sameSections(after, merged)) break;
        merged = after;
      }
    } catch (error) {
      host.warning(
        httpStatus(error) === 403
          ? permissionAdvice('create the check run', 'checks', error)
          : `Could not create the check run: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  return commentUrl;
}

/** The client every publication of a report job uses: the runner's API URL, its log, the job's tuning. */
function gitHubClient(token: string, host: Host, tuning: ReportTuning): GitHubClient {
  return createOctokit(token, { ...tuning.client, baseUrl: host.env.GITHUB_API_URL, log: host });
}

/** A workflow run's conclusion that leaves no result to report (GitHub's names). */
function endedBadly(conclusion: unknown): boolean {
  return ['failure', 'cancelled', 'timed_out', 'startup_failure'].includes(String(conclusion));
}

/** The commit's check run still in progress, completed as failed (cancelled for a cancelled run); how many. */
async function completeStalledCheck(
  config: Config,
  host: Host,
  target: ReportTarget,
  ended: EndedRun,
  tuning: ReportTuning,
): Promise<number> {
  const conclusion = ended.conclusion;
  const { owner, repo, headSha } = target;
  if (!config.githubToken || !owner || !repo || !headSha) return 0;
  const client = gitHubClient(config.githubToken, host, tuning);
  try {
    return await completeOpenCheckRuns(client, {
      owner,
      repo,
      headSha,
      name: CHECK_RUN_NAME,
      conclusion: conclusion === 'cancelled' ? 'cancelled' : 'failure',
      title: `The ${conclusion === 'cancelled' ? 'stage was cancelled' : 'stage failed'} before it reported`,
      summary: `Workflow run ${ended.runId} ended (${conclusion}) without uploading a RunResult for ${headSha}. The results reported before it stay in the PR comment.`,
      detailsUrl: target.runUrl,
    });
  } catch (error) {
    host.warning(
      httpStatus(error) === 403
        ? permissionAdvice('complete the check run', 'checks', error)
        : `Could not complete the check run: ${error instanceof Error ? error.message : String(error)}`,
    );
    return 0;
  }
}

/** The whole report when it fits the job summary; else one cut in priority order, pointing to report.md. */
function fitSummary(report: string, analysed: Report, render: RenderOptions, refused: Refused[]): string {
  if (Buffer.byteLength(report) <= SUMMARY_MAX_BYTES) return report;
  const hint = "`report.md` in this job's `output-dir`";
  // a character can take up to 3 bytes in UTF-8 (4 for a pair that is 2 characters)
  for (const maxChars of [SUMMARY_MAX_BYTES / 2, SUMMARY_MAX_BYTES / 3 - 4096]) {
    const cut = `${renderReport(analysed, { ...render, maxChars, fullReportHint: hint })}${refusedSection(refused)}`;
    if (Buffer.byteLength(cut) <= SUMMARY_MAX_BYTES) return cut;
  }
  return `# vllm-kernel-ci report\n\nThe report is over GitHub's 1 MiB job-summary limit; it is in ${hint}.\n`;
}

export async function runReport(config: Config, host: Host, tuning: ReportTuning = {}): Promise<ModeOutcome> {
  const outDir = resolve(config.outputDir);
  await mkdir(outDir, { recursive: true });
  const reportPath = join(outDir, 'report.md');
  const workflow = await workflowContextOf(host);
  const target = reportTarget(workflow.eventName, workflow.payload, host.env);

  const files = await resultFiles(config.results);
  const read = await host.group('Read RunResults', () =>
    readResults(files, target, host, globRoot(config.results)),
  );
  const refused = read.refused;
  // two sections under one label would let one runner's numbers silently replace another's
  const { results, notes: runnerNotes } = distinctRunners(read.results);
  for (const note of runnerNotes) host.warning(note);
  const hint = target.runUrl
    ? `the [job summary](${target.runUrl}) and the run's \`vllm-kernel-ci\` artifact`
    : "the job summary and the run's `vllm-kernel-ci` artifact";
  const render: RenderOptions = { fullReportHint: hint };

  const analysed = analyseRuns(results, config.thresholds);
  let verdict: RunVerdict = analysed.verdict;
  const upstream = workflow.payload.workflow_run as
    | { conclusion?: unknown; updated_at?: unknown }
    | undefined;
  // the stage's workflow run ended badly: some of its runners may never upload
  const ended: EndedRun | undefined =
    target.run && endedBadly(upstream?.conclusion)
      ? {
          runId: target.run.runId,
          conclusion: String(upstream?.conclusion),
          ...(typeof upstream?.updated_at === 'string' ? { at: upstream.updated_at } : {}),
        }
      : undefined;
  if (results.length === 0 && files.length === 0 && target.run && upstream?.conclusion === 'success') {
    // the validate run succeeded without a GPU job: a fork's push waiting for a maintainer's approval
    verdict = { verdict: 'not-available', exitCode: 0 };
    host.info(
      `Workflow run ${target.run.runId} uploaded no RunResult for ${target.headSha}: it is waiting for a maintainer's approval. Nothing to publish yet.`,
    );
  } else if (results.length === 0 && files.length === 0 && ended) {
    // the stage's job died (or was cancelled) before it uploaded: below, the comment gets its e2e sections and a
    // check run left in progress by the kernel stage is completed, or both would wait for an e2e that never reports
    const why = `Workflow run ${ended.runId} ended (${ended.conclusion}) without uploading a RunResult for ${target.headSha}`;
    verdict = {
      verdict: 'not-available',
      exitCode: ended.conclusion === 'cancelled' ? 0 : 1,
      failure: ended.conclusion === 'cancelled' ? undefined : `${why}. Its job log says why.`,
    };
    host.info(`${why}.`);
  } else if (results.length === 0) {
    verdict = {
      verdict: 'not-available',
      exitCode: 1,
      failure:
        files.length === 0
          ? `No RunResult matched results '${config.results}' in ${process.cwd()}. Download the validate jobs' artifacts there, or set \`results\` to where they are.`
          : `All ${files.length} RunResults were refused (see the warnings).`,
    };
  } else if (refused.length > 0) {
    const failure = `${refused.length} RunResult${refused.length === 1 ? ' was' : 's were'} refused: ${refused[0].reason}`;
    verdict = {
      ...verdict,
      exitCode: 1,
      failure: verdict.failure ? `${verdict.failure}; ${failure}` : failure,
    };
  }

  const report = `${renderReport(analysed, render)}${refusedSection(refused)}${runnerNotesSection(runnerNotes)}`;
  await writeFile(reportPath, report);
  await host.summary(fitSummary(report, analysed, render, refused));

  const commentUrl =
    results.length > 0 || (ended && files.length === 0)
      ? await host.group('Publish to GitHub', () =>
          publish(config, host, target, analysed, verdict, render, tuning, ended),
        )
      : undefined;
  if (results.length === 0 && files.length === 0 && ended) {
    // no comment to decide the check from (no pull request, or nothing awaited there): complete it directly
    const closed = await completeStalledCheck(config, host, target, ended, tuning);
    if (closed)
      host.info(
        `The check run left in progress is completed as ${ended.conclusion === 'cancelled' ? 'cancelled' : 'failed'}.`,
      );
  }
  return {
    verdict: verdict.verdict,
    reportPath,
    commentUrl,
    exitCode: verdict.exitCode,
    failure: verdict.failure,
  };
}
