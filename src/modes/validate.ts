// Mode validate: what runs on one GPU runner. Each step fills in its part of the RunResult.
import { mkdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { Config } from '../config.js';
import type { Host, ModeOutcome } from '../host.js';
import { renderReport } from '../report/render.js';
import { RUN_RESULT_SCHEMA_VERSION, type RunResult, STEP_NAMES } from '../results/run-result.js';
import { assertSafeToRunGpuSteps } from '../security/trust.js';
import { gpuTrustContext } from '../security/trust-context.js';
import { TOOL_VERSION } from '../version.js';

export async function runValidate(config: Config, host: Host): Promise<ModeOutcome> {
  assertSafeToRunGpuSteps(await gpuTrustContext(config, host.env));
  const startedAt = new Date().toISOString();
  const result: RunResult = {
    schema: RUN_RESULT_SCHEMA_VERSION,
    tool: { name: 'vllm-kernel-ci', version: TOOL_VERSION },
    identity: {
      runner: config.runnerLabel ?? host.env.RUNNER_NAME ?? hostname(),
      vllmRepo: config.vllm.repository,
      vllmRef: config.vllm.ref,
      bundle: config.bundle,
      bundleHash: '',
      startedAt,
      finishedAt: startedAt,
    },
    device: { vendor: 'unknown', name: 'unknown', count: 0 },
    steps: STEP_NAMES.map((name) => ({
      name,
      status: 'not-available',
      seconds: 0,
      reason: 'not yet available',
    })),
    settings: {},
  };
  result.identity.finishedAt = new Date().toISOString();

  const outDir = resolve(config.outputDir);
  await mkdir(outDir, { recursive: true });
  const resultPath = join(outDir, 'run-result.json');
  const reportPath = join(outDir, 'report.md');
  const report = renderReport([result]);
  await writeFile(resultPath, `${JSON.stringify(result, null, 2)}\n`);
  await writeFile(reportPath, report);
  await host.summary(report);
  host.info(report);
  return { verdict: 'not-available', resultPath, reportPath, exitCode: 0 };
}
