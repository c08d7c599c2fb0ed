// Mode nightly: validate against vLLM main, append the night to the history branch, compare with the history,
// and open, update or close the one regression issue.
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Config } from '../config.js';
import { createOctokit } from '../github/client.js';
import { githubIssueTracker, type IssueTracker, parseRepoRef } from '../github/issue.js';
import type { Host, ModeOutcome } from '../host.js';
import { gitHistoryStore, type HistorySnapshot, type HistoryStore } from '../nightly/history-git.js';
import { acceptanceOf } from '../nightly/issue-action.js';
import { ISSUE_LABEL, type IssueTextOptions, issueBody, issueMarker } from '../nightly/issue-body.js';
import { type PublishedIssue, publishRegressionIssue } from '../nightly/publish.js';
import { historyRecordFrom, poolKey, unmeasuredReason } from '../nightly/record.js';
import {
  DEFAULT_TREND,
  type NightlyTrends,
  nightlyTrends,
  pinnedNights,
  type RunnerTrend,
  type TrendOptions,
} from '../nightly/trend.js';
import { runCommand } from '../pipeline/process.js';
import { inlineMarkdown } from '../report/markdown.js';
import type { OverallVerdict, RunnerReport } from '../report/model.js';
import { stopsRun } from '../results/predicates.js';
import { parseRunResult, type RunResult } from '../results/run-result.js';
import { analyseRun } from '../stats/analyse.js';
import { runValidate } from './validate.js';

export interface NightlyRun {
  result: RunResult;
  resultPath?: string;
  reportPath?: string;
}

/** What the nightly mode needs from the world; the action wires the real ones, tests pass their own. */
export interface NightlyDeps {
  /** produces tonight's RunResult for this runner (validate against vLLM main) */
  validate: (config: Config, host: Host) => Promise<NightlyRun>;
  history: HistoryStore;
  /** undefined when no token was given: the history is still written, the issue is left alone */
  issues?: IssueTracker;
}

/** How many times the issue is re-rendered when another runner's night lands while it is being written. */
const MAX_PUBLISH_ROUNDS = 3;

/** The nightly validates vLLM main; PyPI has no main, so `pypi` means the upstream repository. */
export function nightlyTarget(config: Config): Config {
  if (config.vllm.repository !== 'pypi') return config;
  return { ...config, vllm: { repository: 'vllm-project/vllm', ref: 'main' } };
}

const inert = (text: string) => inlineMarkdown(text);

function runUrlFromEnv(env: Host['env']): string | undefined {
  const { GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_RUN_ID } = env;
  if (!GITHUB_REPOSITORY || !GITHUB_RUN_ID) return undefined;
  return `${GITHUB_SERVER_URL ?? 'https://github.com'}/${GITHUB_REPOSITORY}/actions/runs/${GITHUB_RUN_ID}`;
}

/** Said in the issue when vLLM main carries the op itself and the night tested that kernel, not the bundle's. */
export function treeKernelNote(result: RunResult): string | undefined {
  const kernel = result.kernel;
  if (kernel?.source !== 'tree') return undefined;
  return `**vLLM main carries ${inert(kernel.symbol)} itself** (in ${inert(kernel.path)}, blob ${inert(kernel.blobSha.slice(0, 12))}): ${inert(result.identity.runner)} tested main's own kernel instead of putting the bundle's in (kernel-source tree); its numbers form a new history series.`;
}

const trendOptionsFor = (config: Config): TrendOptions => ({
  ...DEFAULT_TREND,
  thresholdPct: config.nightly.regressionThresholdPct,
});

/** Tonight's run as validate judged it (failed steps and cases), then its place in the history. */
function nightlyVerdict(
  run: RunnerReport,
  unmeasured: string | undefined,
  own: RunnerTrend | undefined,
): OverallVerdict {
  if (unmeasured) return 'failed';
  if (!own) return 'not-available';
  if (own.drift.length > 0 || own.correctness.length > 0) return 'failed';
  if (run.verdict.verdict === 'failed') return 'failed';
  if (own.regressed.length > 0 || own.slowLoss.length > 0) return 'regressed';
  // a regression not yet back for enough nights is no pass yet
  if (own.status === 'suspicious' || own.status === 'recovering') return 'no-significant-change';
  if (own.status === 'warming-up' || own.status === 'new-series') return 'insufficient-data';
  return 'passed';
}

export async function runNightlyWith(config: Config, host: Host, deps: NightlyDeps): Promise<ModeOutcome> {
  const target = nightlyTarget(config);
  if (target !== config)
    host.info('Nightly: vllm-repository `pypi` has no main branch; using vllm-project/vllm at main.');
  const run = await deps.validate(target, host);
  const record = historyRecordFrom(run.result);
  record.runUrl ??= runUrlFromEnv(host.env);

  const problems: string[] = [];
  const kernelNote = treeKernelNote(run.result);
  const textOptions = (judged: NightlyTrends): IssueTextOptions => ({
    bundle: record.bundle,
    night: record.night,
    thresholdPct: config.nightly.regressionThresholdPct,
    inert,
    unmeasured: judged.unmeasured,
    ...(kernelNote ? { notes: [kernelNote] } : {}),
  });
  const trendOptions = trendOptionsFor(config);
  const judge = (snapshot: HistorySnapshot) =>
    nightlyTrends(
      snapshot.records.filter((r) => r.bundle === record.bundle),
      trendOptions,
      record.night,
    );
  // why tonight measured nothing (no GPU, a measuring step failed); undefined when it measured
  const unmeasured = unmeasuredReason(record);
  if (deps.issues && !unmeasured) {
    try {
      const accepted = acceptanceOf(await deps.issues.latest(ISSUE_LABEL, issueMarker(record.bundle)));
      if (accepted) record.accepted = accepted;
    } catch (error) {
      problems.push(
        `Reading the regression issue failed: ${error instanceof Error ? error.message : String(error)}.`,
      );
    }
  }

  let snapshot: HistorySnapshot | undefined;
  try {
    snapshot = await host.group('Nightly history', async () => {
      const appended = await deps.history.append(record);
      host.info(
        `Appended ${record.night} for ${record.runner} to ${config.nightly.historyBranch} (${appended.records.length} nights kept, ${appended.attempts} push attempt(s)).`,
      );
      return appended;
    });
    for (const p of snapshot.problems) host.warning(`History line skipped: ${p}`);
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
  }
  // without the history branch, tonight is judged alone: drift and failing tests still show
  let trends = judge(snapshot ?? { records: [record], problems: [] });

  let published: PublishedIssue | undefined;
  if (!deps.issues) {
    host.warning('No github-token: the nightly history is written but the regression issue is not updated.');
  } else if (snapshot) {
    try {
      published = await host.group('Regression issue', async () => {
        let outcome: PublishedIssue | undefined;
        for (let round = 1; round <= MAX_PUBLISH_ROUNDS; round++) {
          outcome = await publishRegressionIssue(
            deps.issues as IssueTracker,
            trends.pools,
            textOptions(trends),
            !unmeasured,
          );
          const head = await deps.history.head();
          if (!head || head === snapshot?.commit) break;
          // another runner's night landed meanwhile: render from the newer history so its line is not lost
          snapshot = await deps.history.read();
          trends = judge(snapshot);
        }
        if (outcome?.issue) host.info(`Regression issue: ${outcome.action} ${outcome.issue.url}`);
        else host.info(`Regression issue: ${outcome?.action ?? 'none'} (no runner alerting).`);
        return outcome;
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      problems.push(
        `Updating the regression issue failed: ${message}. The nightly workflow needs \`permissions: issues: write\`.`,
      );
    }
  }

  const outDir = resolve(config.outputDir);
  await mkdir(outDir, { recursive: true });
  const reportPath = join(outDir, 'nightly.md');
  const report = [
    issueBody(trends.pools, textOptions(trends)),
    ...problems.map((p) => `> **Nightly problem:** ${inert(p)}`),
    '',
  ].join('\n');
  await writeFile(reportPath, report);
  await host.summary(report);

  const own = !unmeasured ? trends.pools.find((t) => t.pool === poolKey(record.device)) : undefined;
  const verdict = nightlyVerdict(analyseRun(run.result, config.thresholds), unmeasured, own);
  for (const p of problems) host.warning(p);
  const stopped = record.failedSteps.filter(stopsRun);
  // the most specific reason first; a night that measured nothing for any other reason fails saying so
  const failure =
    problems[0] ??
    (own && (own.drift.length > 0 || own.correctness.length > 0)
      ? `Nightly on ${record.runner}: patch drift or failing kernel tests on vLLM main (see the regression issue).`
      : stopped.length > 0
        ? `Nightly on ${record.runner}: the run stopped at ${stopped.join(', ')}; see the report for the step's log.`
        : unmeasured
          ? `Nightly on ${record.runner}: nothing measured (${unmeasured}), so the night counts as failed; see the report.`
          : verdict === 'regressed' && config.thresholds.failOnRegression
            ? `Nightly on ${record.runner}: performance regression on vLLM main (see the regression issue).`
            : undefined);
  return {
    verdict,
    resultPath: run.resultPath,
    reportPath,
    commentUrl: published?.issue?.url,
    exitCode: failure ? 1 : 0,
    failure,
  };
}

/** The remote of the history branch: this repository on GitHub, or the git repository of the working directory. */
async function historyRemote(host: Host): Promise<{ remote: string; env: Record<string, string> }> {
  const { GITHUB_SERVER_URL, GITHUB_REPOSITORY } = host.env;
  if (GITHUB_REPOSITORY) {
    parseRepoRef(GITHUB_REPOSITORY);
    return { remote: `${GITHUB_SERVER_URL ?? 'https://github.com'}/${GITHUB_REPOSITORY}.git`, env: {} };
  }
  const top = await runCommand('git', ['rev-parse', '--show-toplevel'], { timeoutMs: 60_000 });
  if (top.exitCode !== 0) {
    throw new Error(
      'Nightly keeps its history on a branch of a git repository: run it inside a git checkout, or in GitHub Actions.',
    );
  }
  return { remote: top.stdout.trim(), env: {} };
}

/** git sends the token as a header, the way actions/checkout does, so it never sits in a URL or a file. */
function gitAuthEnv(remote: string, token: string | undefined): Record<string, string> {
  if (!token || !/^https:\/\//.test(remote)) return {};
  const origin = new URL(remote).origin;
  const basic = Buffer.from(`x-access-token:${token}`).toString('base64');
  return {
    GIT_CONFIG_COUNT: '1',
    GIT_CONFIG_KEY_0: `http.${origin}/.extraheader`,
    GIT_CONFIG_VALUE_0: `AUTHORIZATION: basic ${basic}`,
  };
}

async function validateForNightly(config: Config, host: Host): Promise<NightlyRun> {
  const outcome = await runValidate(config, host);
  if (!outcome.resultPath) throw new Error('Validate wrote no RunResult; the nightly has nothing to record.');
  const result = parseRunResult(JSON.parse(await readFile(outcome.resultPath, 'utf8')), outcome.resultPath);
  return { result, resultPath: outcome.resultPath, reportPath: outcome.reportPath };
}

export async function runNightly(config: Config, host: Host): Promise<ModeOutcome> {
  const { remote, env } = await historyRemote(host);
  const workDir = join(await mkdtemp(join(host.env.RUNNER_TEMP ?? tmpdir(), 'vkci-history-')), 'history');
  const history = gitHistoryStore({
    remote,
    branch: config.nightly.historyBranch,
    workDir,
    retentionDays: config.nightly.historyDays,
    pinned: (records) => pinnedNights(records, trendOptionsFor(config)),
    env: { ...env, ...gitAuthEnv(remote, config.githubToken) },
    log: (m) => host.info(m),
  });
  let issues: IssueTracker | undefined;
  if (config.githubToken) {
    const octokit = createOctokit(config.githubToken, { baseUrl: host.env.GITHUB_API_URL });
    issues = githubIssueTracker(octokit, parseRepoRef(host.env.GITHUB_REPOSITORY));
  }
  return runNightlyWith(config, host, { validate: validateForNightly, history, issues });
}
