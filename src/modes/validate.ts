// Mode validate: what runs on one GPU runner. The pipeline fills the RunResult; this writes it and the report, always.
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Config } from '../config.js';
import type { Host, ModeOutcome } from '../host.js';
import { applyBundle } from '../patch/engine.js';
import { emptyResult, type PipelineDeps, runPipeline } from '../pipeline/validate-pipeline.js';
import { renderReport } from '../report/render.js';
import type { RunResult } from '../results/run-result.js';
import { knownSecrets, scrubSecrets } from '../security/scrub.js';
import { assertSafeToRunGpuSteps } from '../security/trust.js';
import { gpuTrustContext } from '../security/trust-context.js';
import { analyseRuns } from '../stats/analyse.js';
import { defaultMethod, needsRerun } from '../stats/e2e.js';
import { defaultCacheRoot, defaultPypiCacheDir, fetchVllmSource } from '../vllm/pypi.js';

export function defaultDeps(config: Config, host: Host): PipelineDeps {
  const secrets = knownSecrets({ ...process.env, ...host.env }, config.githubToken);
  return {
    env: { ...process.env },
    reposDir: join(defaultCacheRoot(), 'repos'),
    fetchVllmSource: (version) =>
      fetchVllmSource(version, { cacheDir: defaultPypiCacheDir(), log: (m) => host.info(m) }),
    applyBundle,
    scrub: (text) => scrubSecrets(text, secrets),
    isBorderline: (cell) => needsRerun(cell, verdictSettings(config)),
  };
}

/** What validate records so a later report judges the cells the way this job chose its re-runs. */
export function verdictSettings(config: Config): NonNullable<RunResult['verdicts']> {
  return { ...defaultMethod(config.thresholds.minEffectPct), repeats: config.e2e.repeats };
}

/** Name of the artifact holding one runner's output directory; unique per runner within a workflow run. */
export function outputArtifactName(runner: string): string {
  return `vllm-kernel-ci-out-${runner.replace(/[^A-Za-z0-9._-]+/g, '-')}`.slice(0, 200);
}

async function uploadOutputs(host: Host, outDir: string, runner: string): Promise<void> {
  if (!host.uploadArtifact) return;
  const entries = await readdir(outDir, { withFileTypes: true, recursive: true });
  const files = entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  try {
    await host.uploadArtifact(outputArtifactName(runner), files, outDir);
  } catch (error) {
    // the RunResult and report are written; a failed upload must not turn a measured run into a failure
    host.warning(
      `uploading the output directory failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

export async function runValidate(config: Config, host: Host, deps?: PipelineDeps): Promise<ModeOutcome> {
  assertSafeToRunGpuSteps(await gpuTrustContext(config, host.env));
  const outDir = resolve(config.outputDir);
  await mkdir(outDir, { recursive: true });
  const resultPath = join(outDir, 'run-result.json');
  const reportPath = join(outDir, 'report.md');
  const result = emptyResult(config, host);
  result.verdicts = verdictSettings(config);
  let stopped: string | undefined;
  try {
    stopped = (await runPipeline(config, host, outDir, result, deps ?? defaultDeps(config, host))).stopped;
  } catch (error) {
    // an error outside any step (e.g. an unknown bundle) still leaves a RunResult and a report
    stopped = error instanceof Error ? error.message : String(error);
    for (const s of result.steps) if (s.reason === 'did not run') s.reason = `did not run: ${stopped}`;
  } finally {
    result.identity.finishedAt = new Date().toISOString();
    await writeFile(resultPath, `${JSON.stringify(result, null, 2)}\n`);
  }
  const analysed = analyseRuns([result], config.thresholds);
  const report = renderReport(analysed);
  await writeFile(reportPath, report);
  await host.summary(report);
  host.info(report);
  await uploadOutputs(host, outDir, result.identity.runner);
  // non-zero only for a failed correctness case or a run-stopping error (or, by choice, a regression)
  const verdict = stopped ? { verdict: 'failed', exitCode: 1, failure: stopped } : analysed.verdict;
  return { ...verdict, resultPath, reportPath };
}
