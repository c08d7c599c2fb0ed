// Mode validate: what runs on one GPU runner. The pipeline fills the RunResult; this writes it and the report, always.
import { mkdir, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Config } from '../config.js';
import { runResultIdentity, workflowContextOf } from '../github/context.js';
import type { Host, ModeOutcome } from '../host.js';
import { inputSpec } from '../inputs.js';
import { applyBundle } from '../patch/engine.js';
import { planRates } from '../pipeline/e2e-rates.js';
import { cancelRun, probeBwrap } from '../pipeline/process.js';
import { emptyResult, type PipelineDeps, runPipeline } from '../pipeline/validate-pipeline.js';
import { annotations } from '../report/annotations.js';
import { renderReport, summaryLine } from '../report/render.js';
import type { RunResult } from '../results/run-result.js';
import { DEFAULT_MAX_RUN_RESULT_BYTES, readUntrustedRunResult } from '../security/artifacts.js';
import { scrubFilesUnder, scrubStrings } from '../security/boundary.js';
import { childEnvironment } from '../security/child-env.js';
import { assertPlainDirectory, defaultOutputDir, writeNoFollow } from '../security/files.js';
import { decideSandbox, gpuDevices, hiddenPaths, type SandboxPolicy } from '../security/sandbox.js';
import { knownSecrets, makeScrubber } from '../security/scrub.js';
import { assertSafeToRunGpuSteps, decideTrust } from '../security/trust.js';
import { gpuTrustContext } from '../security/trust-context.js';
import { analyseRuns, kernelStageBlocks } from '../stats/analyse.js';
import { defaultCacheRoot, defaultPypiCacheDir, fetchVllmSource } from '../vllm/pypi.js';
import { e2ePlanFor } from './plan.js';
import { preflightValidate } from './preflight.js';

/** Every secret this job could hold: the github-token input and the credential variables of either environment. */
function boundaryScrub(config: Config, host: Host, deps?: PipelineDeps): (text: string) => string {
  const secrets = knownSecrets({ ...deps?.env, ...process.env, ...host.env }, config.githubToken);
  return makeScrubber(secrets);
}

export function defaultDeps(config: Config, host: Host): PipelineDeps {
  return {
    // an allowlist: no token input or variable, nothing that writes to the workflow (security/child-env.ts)
    env: childEnvironment(process.env),
    reposDir: join(defaultCacheRoot(), 'repos'),
    fetchVllmSource: (version) =>
      fetchVllmSource(version, { cacheDir: defaultPypiCacheDir(), log: (m) => host.info(m) }),
    applyBundle,
    scrub: boundaryScrub(config, host),
  };
}

/** Name of the artifact holding one runner's output directory; unique per runner within a workflow run. */
export function outputArtifactName(runner: string): string {
  return `vllm-kernel-ci-out-${runner.replace(/[^A-Za-z0-9._-]+/g, '-')}`.slice(0, 200);
}

export async function uploadOutputs(
  host: Host,
  outDir: string,
  runner: string,
  artifacts: Config['artifacts'],
): Promise<void> {
  if (!host.uploadArtifact) return;
  if (!artifacts.upload) {
    host.info(`not uploading ${outDir} as an artifact: upload-artifacts is false`);
    return;
  }
  const entries = await readdir(outDir, { withFileTypes: true, recursive: true });
  const files = entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  try {
    await host.uploadArtifact(outputArtifactName(runner), files, outDir, {
      retentionDays: artifacts.retentionDays,
    });
  } catch (error) {
    // the RunResult and report are written; a failed upload must not turn a measured run into a failure
    host.warning(
      `uploading the output directory failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

/** The run's sandbox: bwrap when it works (or as the sandbox input says), hiding the outputs and the job's files. */
async function sandboxPolicy(
  config: Config,
  host: Host,
  forkCode: boolean,
  outDir: string,
): Promise<SandboxPolicy> {
  const probe = config.sandbox === 'none' ? { ok: false as const, why: 'not probed' } : await probeBwrap();
  const decision = decideSandbox(config.sandbox, probe, forkCode);
  if (decision.warning) host.warning(decision.warning);
  host.info(`sandbox for the tree's code: ${decision.kind}`);
  return {
    kind: decision.kind,
    hidden: hiddenPaths({ ...process.env, ...host.env }, outDir),
    devices: gpuDevices(),
  };
}

/** The e2e stage's planned minutes, for the report's "e2e: running" line; undefined when there is no serve plan. */
async function plannedE2eMinutes(config: Config): Promise<number | undefined> {
  if (config.e2e.backend === 'none' || config.e2e.backend === 'model') return undefined;
  try {
    return e2ePlanFor(config, await planRates(config.e2e.model, config.e2e.ratesFile)).estimatedMinutes;
  } catch {
    return undefined; // an estimate for the report only: never a reason to stop the run
  }
}

/** Why the e2e stage does not run here: the kernel stage's RunResult (kernel-result) says it did not pass. */
async function kernelStageGate(config: Config, host: Host, runner: string): Promise<string | undefined> {
  if (config.stage !== 'e2e' || !config.kernelResult) return undefined;
  const headSha = runResultIdentity(await workflowContextOf(host)).headSha;
  try {
    // another job's artifact: read as untrusted data
    const kernel = await readUntrustedRunResult(config.kernelResult, {
      maxBytes: DEFAULT_MAX_RUN_RESULT_BYTES,
      root: dirname(config.kernelResult),
    });
    return kernelStageBlocks(kernel, runner, headSha, config.thresholds);
  } catch (error) {
    return `the kernel stage's RunResult could not be read: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/**
 * On SIGTERM or SIGINT (a newer push cancelling the job, the runner stopping) the run stops its process groups in
 * bounded time and goes on to write what finished; returns the function that removes the handlers.
 */
function onCancel(result: RunResult, host: Host): () => void {
  const handler = (signal: NodeJS.Signals) => {
    if (result.cancelled) return;
    result.cancelled = { signal, at: new Date().toISOString() };
    host.warning(`${signal}: cancelling the run; stopping its processes and writing what finished`);
    void cancelRun(signal);
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return () => {
    process.off('SIGTERM', handler);
    process.off('SIGINT', handler);
  };
}

export async function runValidate(config: Config, host: Host, deps?: PipelineDeps): Promise<ModeOutcome> {
  // an untrusted run is refused first; then configuration errors exit 2; both before anything runs or is written
  const trust = await gpuTrustContext(config, host.env, undefined, host.workflow);
  assertSafeToRunGpuSteps(trust);
  await preflightValidate(config, deps?.env ?? childEnvironment(process.env));
  const outDir = defaultOutputDir(config.outputDir, inputSpec('output-dir').default, host.env);
  // a committed output directory holding links (run-result.json -> ~/.gitconfig) is never written through
  await assertPlainDirectory(outDir);
  await mkdir(outDir, { recursive: true });
  const pipelineDeps = deps ?? {
    ...defaultDeps(config, host),
    sandbox: await sandboxPolicy(config, host, decideTrust(trust).forkCode, outDir),
  };
  const resultPath = join(outDir, 'run-result.json');
  const reportPath = join(outDir, 'report.md');
  const raw = emptyResult(config, host);
  raw.stage = config.stage;
  if (config.stage === 'kernel') raw.e2ePlanMinutes = await plannedE2eMinutes(config);
  const scrub = boundaryScrub(config, host, deps);
  let result = raw;
  let stopped: string | undefined;
  const blocked = await kernelStageGate(config, host, raw.identity.runner);
  if (blocked) host.warning(`the e2e stage is skipped: ${blocked}`);
  // on until the report and the upload are done: a second signal (the runner's SIGTERM after its SIGINT) changes nothing
  const offCancel = onCancel(raw, host);
  try {
    try {
      stopped = (await runPipeline(config, host, outDir, raw, { ...pipelineDeps, blocked })).stopped;
    } catch (error) {
      // an error outside any step (e.g. an unknown bundle) still leaves a RunResult and a report
      stopped = error instanceof Error ? error.message : String(error);
      for (const s of raw.steps) if (s.reason === 'did not run') s.reason = `did not run: ${stopped}`;
    } finally {
      raw.identity.finishedAt = new Date().toISOString();
      // every string the run collected (test ids, messages, cell ids, notes, device strings) leaves scrubbed
      result = scrubStrings(raw, scrub);
      // written once every step (and its sandbox) is gone, never through a link
      await writeNoFollow(resultPath, `${JSON.stringify(result, null, 2)}\n`);
    }
    // a run the cancel stopped is cancelled, not failed: what stopped it was the signal
    if (result.cancelled) stopped = undefined;
    if (stopped) stopped = scrub(stopped);
    const judged = analyseRuns([result], config.thresholds);
    // a run stopped outside its steps is failed, in the report as in the outputs
    const failed = { verdict: 'failed' as const, exitCode: 1, failure: stopped ?? '' };
    const analysed =
      stopped && judged.verdict.verdict !== 'failed'
        ? { runners: judged.runners.map((r) => ({ ...r, verdict: failed })), verdict: failed }
        : judged;
    const report = renderReport(analysed);
    await writeNoFollow(reportPath, report);
    await host.summary(report);
    host.report?.(report);
    for (const a of annotations(result))
      host.annotate?.(a.message, { file: a.path, line: a.line, title: a.title });
    // the raw logs and junit.xml go into the artifact too
    await scrubFilesUnder(outDir, scrub);
    await uploadOutputs(host, outDir, result.identity.runner, config.artifacts);
    // non-zero only for a failed correctness case or a run-stopping error (or, by choice, a regression), or a cancel
    const cancelled = result.cancelled
      ? { ...analysed.verdict, exitCode: 1, failure: `the run was cancelled (${result.cancelled.signal})` }
      : undefined;
    const verdict = stopped ? failed : (cancelled ?? analysed.verdict);
    return { ...verdict, resultPath, reportPath, summary: analysed.runners.map(summaryLine) };
  } finally {
    offCancel();
  }
}
