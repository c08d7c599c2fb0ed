// The example reports under docs/ are rendered from real RunResults committed beside them:
// docs/example-report-NAME.md holds every docs/example-report-NAME.*.json. UPDATE_EXAMPLES=1 rewrites them.
// The H200 ones are assembled from the captures in fixtures/gpu/ through the pipeline's own parsers.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseNvidiaCudaVersion } from '../src/pipeline/device-parse.js';
import { renderReport } from '../src/report/render.js';
import { parseE2eModel } from '../src/results/parsers/e2e-model.js';
import { analyseRuns } from '../src/stats/analyse.js';

const T = { minEffectPct: 2, failOnRegression: false };

import { parseJunit } from '../src/results/parsers/junit.js';
import { parseMicrobench } from '../src/results/parsers/microbench.js';
import { parseRunResult, type RunResult } from '../src/results/run-result.js';
import { TOOL_VERSION } from '../src/version.js';
import { ROOT } from './helpers.js';

const gpu = (name: string) => readFile(join(ROOT, 'fixtures', 'gpu', name), 'utf8');
const update = process.env.UPDATE_EXAMPLES === '1';

/**
 * The H200 run of fixtures/gpu (gpu_check.sh, 2026-11-27): the bundle ran standalone, so there was no vLLM
 * checkout, patch or install; step times come from the JUnit file and the log's section timestamps.
 */
async function h200Run(arm: 'ab' | 'aa'): Promise<RunResult> {
  const [name, driver] = (await gpu('tools/nvidia-smi-query.csv')).split(',').map((c) => c.trim());
  const bench = JSON.parse(await gpu('microbench-h200.json')) as { device: Record<string, string> };
  const notRun = 'not part of the capture: gpu_check.sh runs the bundle standalone, outside a vLLM tree';
  const junit = await gpu('junit-h200.xml');
  const junitSeconds = Number(/<testsuite [^>]*time="([\d.]+)"/.exec(junit)?.[1]);
  return parseRunResult(
    {
      schema: 1,
      tool: { name: 'vllm-kernel-ci', version: TOOL_VERSION },
      identity: {
        runner: arm === 'ab' ? 'lent-h200' : 'lent-h200-aa',
        vllmRepo: 'none',
        vllmRef: 'none',
        bundle: 'fused_shared_expert_gate',
        bundleHash: '',
        startedAt: '2026-11-27T21:23:12Z',
        finishedAt: '2026-11-27T21:39:45Z',
      },
      device: {
        vendor: 'nvidia',
        name,
        count: 1,
        driver,
        cuda: parseNvidiaCudaVersion(await gpu('tools/nvidia-smi.txt')),
        torch: bench.device.torch,
        triton: bench.device.triton,
        python: bench.device.python,
      },
      steps: [
        { name: 'checkout', status: 'skipped', seconds: 0, reason: notRun },
        { name: 'apply-bundle', status: 'skipped', seconds: 0, reason: notRun },
        { name: 'install', status: 'skipped', seconds: 0, reason: notRun },
        {
          name: 'detect-device',
          status: 'passed',
          seconds: 0,
          reason: 'nvidia-smi and torch, captured in fixtures/gpu/tools',
        },
        { name: 'kernel-tests', status: 'passed', seconds: junitSeconds },
        // 21:37:20 → 21:38:12, then 21:38:12 → 21:39:02 (A/B) or 21:39:02 → 21:39:45 (A/A)
        { name: 'microbench', status: 'passed', seconds: 52 },
        { name: 'e2e', status: 'passed', seconds: arm === 'ab' ? 50 : 43 },
      ],
      settings: {},
      tests: parseJunit(junit),
      microbench: parseMicrobench(await gpu('microbench-h200.json'), 'microbench-h200.json'),
      e2e: parseE2eModel(await gpu(`e2e-model-${arm}-h200.json`), `e2e-model-${arm}-h200.json`),
    },
    `fixtures/gpu (${arm})`,
  );
}

const docs = join(ROOT, 'docs');
const files = async () =>
  (await readdir(docs)).filter((f) => /^example-report-[\w-]+\..*json$/.test(f)).sort();
const examples = [...new Set((await files()).map((f) => f.split('.')[0]))];

describe('docs/example-report-h200.*.json', () => {
  it.each(['ab', 'aa'] as const)('%s is the RunResult built from fixtures/gpu', async (arm) => {
    const path = join(ROOT, 'docs', `example-report-h200.${arm === 'ab' ? '1-ab' : '2-aa'}.json`);
    const json = `${JSON.stringify(await h200Run(arm), null, 2)}\n`;
    if (update) await writeFile(path, json);
    expect(await readFile(path, 'utf8')).toBe(json);
  });
});

describe('docs/example-report-*.md', () => {
  it('exist', () => {
    expect(examples.length).toBeGreaterThan(0);
  });

  it.each(examples)('%s.md is the current rendering of its RunResults', async (name) => {
    const results = await Promise.all(
      (await files())
        .filter((f) => f.startsWith(`${name}.`))
        .map(async (f) => parseRunResult(JSON.parse(await readFile(join(docs, f), 'utf8')), `docs/${f}`)),
    );
    const markdown = renderReport(analyseRuns(results, T));
    const path = join(docs, `${name}.md`);
    if (update) await writeFile(path, markdown);
    expect(
      await readFile(path, 'utf8'),
      'run UPDATE_EXAMPLES=1 npx vitest run test/report-examples.test.ts',
    ).toBe(markdown);
  });
});
