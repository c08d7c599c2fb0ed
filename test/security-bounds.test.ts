// Bounded work: an interval that stays O(n² log n), RunResults over the bounds refused, charts without
// non-finite numbers, runner labels kept apart, links refused, and the worst allowed RunResult through report
// mode in under a minute.
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import type { Host } from '../src/host.js';
import { runReport } from '../src/modes/report.js';
import { deltaBarChart } from '../src/report/chart.js';
import { parseCommentSections } from '../src/report/render.js';
import type { MicrobenchCell, RunResult, TestCase } from '../src/results/run-result.js';
import {
  DEFAULT_MAX_RUN_RESULT_BYTES,
  RUN_RESULT_BOUNDS,
  readUntrustedRunResult,
} from '../src/security/artifacts.js';
import { distinctRunners } from '../src/security/runners.js';
import {
  EXACT_MAX_PAIRS,
  normalCdf,
  normalQuantile,
  signedRankCritical,
  signedRankInterval,
} from '../src/stats/signed-rank.js';
import { tempDir } from './helpers.js';
import { fullRun } from './report-fixtures.js';
import { startFakeGitHub, WRITE_TOKEN } from './support/fake-github.js';

function host(env: Record<string, string>): Host & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    warnings,
    info: () => {},
    warning: (m) => warnings.push(m),
    group: (_n, fn) => fn(),
    setOutput: () => {},
    summary: async () => {},
    setSecret: () => {},
    env,
  };
}

const cell = (id: string, n: number, seed: number) => {
  const baseline = Array.from({ length: n }, (_, i) => 1000 + ((i * 7919 + seed) % 97));
  const patched = baseline.map((v, i) => v * 1.01 + ((i * 31) % 5));
  return {
    id,
    params: { concurrency: 4 },
    metric: 'output_throughput',
    unit: 'tok/s',
    status: 'ok' as const,
    reruns: 0,
    higherIsBetter: true,
    baseline,
    patched,
  };
};

describe('the signed-rank interval is O(n² log n)', () => {
  it('4000 + 4000 samples in a few seconds (the normal approximation above the stated n)', () => {
    const d = Array.from({ length: 4000 }, (_, i) => Math.sin(i) * 3 + 1);
    const t0 = performance.now();
    const r = signedRankInterval(d);
    expect(performance.now() - t0).toBeLessThan(20_000);
    expect(r.reached).toBe(true);
    expect(r.low).toBeLessThan(r.estimate);
    expect(r.high).toBeGreaterThan(r.estimate);
    expect(r.confidencePct).toBeGreaterThanOrEqual(94.9);
  });

  it('at the switch the normal critical value is within one rank of the exact one', () => {
    const n = EXACT_MAX_PAIRS;
    const mean = (n * (n + 1)) / 4;
    const sd = Math.sqrt((n * (n + 1) * (2 * n + 1)) / 24);
    const normal = Math.floor(mean + normalQuantile(0.025) * sd - 0.5);
    expect(Math.abs(normal - signedRankCritical(n, 0.05))).toBeLessThanOrEqual(1);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 6);
  });
});

describe('RunResults over the bounds are refused at intake, saying which bound', () => {
  const dir = tempDir('vkci-bounds-');
  const write = async (r: RunResult) => {
    const path = join(await dir, `${Math.random()}.json`);
    await writeFile(path, JSON.stringify(r));
    return path;
  };
  const read = (path: string) => readUntrustedRunResult(path, { maxBytes: DEFAULT_MAX_RUN_RESULT_BYTES });

  it('one e2e cell with 4000 + 4000 samples', async () => {
    const r = fullRun();
    r.e2e = { ...(r.e2e as NonNullable<RunResult['e2e']>), cells: [cell('huge', 4000, 1)] };
    await expect(read(await write(r))).rejects.toThrow(
      /e2e cell "huge" has 4000 samples in one arm, over the 200/,
    );
  });

  it('400 e2e cells', async () => {
    const r = fullRun();
    r.e2e = {
      ...(r.e2e as NonNullable<RunResult['e2e']>),
      cells: Array.from({ length: 400 }, (_, i) => cell(`c${i}`, 6, i)),
    };
    await expect(read(await write(r))).rejects.toThrow(/400 e2e cells, over the 200/);
  });

  it('6000 tests', async () => {
    const r = fullRun();
    r.tests = Array.from({ length: 6000 }, (_, i) => ({
      id: `t${i}`,
      status: 'passed' as const,
      seconds: 0.1,
    }));
    await expect(read(await write(r))).rejects.toThrow(/6000 test cases, over the 5000/);
  });

  it('a results path through a linked parent directory', async () => {
    const root = await tempDir('vkci-linkroot-');
    const outside = await tempDir('vkci-outside-');
    await writeFile(join(outside, 'run-result.json'), JSON.stringify(fullRun()));
    await mkdir(join(root, 'results'));
    await symlink(outside, join(root, 'results', 'h100'));
    await expect(
      readUntrustedRunResult(join(root, 'results', 'h100', 'run-result.json'), {
        maxBytes: DEFAULT_MAX_RUN_RESULT_BYTES,
        root,
      }),
    ).rejects.toThrow(/its directory .*results\/h100 is a link/);
  });
});

describe('charts hold only plottable numbers', () => {
  it('Infinity and 1e308 are left out, the axis stays finite', () => {
    const chart = deltaBarChart('t', 'Δ%', [
      { label: 'a', value: Number.POSITIVE_INFINITY, low: -1e308, high: 1e308 },
      { label: 'b', value: 2, low: 1, high: 3 },
    ]);
    expect(chart).not.toMatch(/Infinity|NaN|e\+/);
    expect(chart).toContain('-4 --> 4');
  });
});

describe('runner labels', () => {
  it('labels equal after removing invisible characters and case are told apart and shown as such', () => {
    const { results, notes } = distinctRunners([
      fullRun({ runner: 'h100' }),
      fullRun({ runner: 'h100\u200b' }),
      fullRun({ runner: 'H100\u0007' }),
    ]);
    expect(results.map((r) => r.identity.runner)).toEqual([
      'h100',
      'h100 (2)',
      'H100 (2)'.replace('(2)', '(3)'),
    ]);
    expect(notes).toHaveLength(2);
    expect(notes[0]).toContain('Two RunResults name runner "h100"');
  });

  it('two RunResults with one runner label keep two sections in the PR comment', async () => {
    const fake = await startFakeGitHub();
    try {
      fake.addPullRequest('example/vllm', {
        number: 43190,
        headSha: '3f1c2a9e8b7d6c5f4e3d2c1b0a9f8e7d6c5b4a39',
      });
      const dir = await tempDir('vkci-dup-');
      for (const [i, seed] of [1, 2].entries()) {
        await mkdir(join(dir, 'results', String(i)), { recursive: true });
        await writeFile(
          join(dir, 'results', String(i), 'run-result.json'),
          JSON.stringify(fullRun({ runner: 'h100', seed })),
        );
      }
      const eventPath = join(dir, 'event.json');
      await writeFile(
        eventPath,
        JSON.stringify({
          number: 43190,
          pull_request: { number: 43190, head: { sha: '3f1c2a9e8b7d6c5f4e3d2c1b0a9f8e7d6c5b4a39' } },
          repository: { full_name: 'example/vllm' },
        }),
      );
      const h = host({
        GITHUB_EVENT_NAME: 'pull_request',
        GITHUB_EVENT_PATH: eventPath,
        GITHUB_REPOSITORY: 'example/vllm',
        GITHUB_API_URL: fake.url,
      });
      const config = parseConfig(
        (name) =>
          ({
            mode: 'report',
            results: join(dir, 'results/**/run-result.json'),
            'output-dir': join(dir, 'out'),
            'github-token': WRITE_TOKEN,
          })[name],
      );
      await runReport(config, h, {
        client: { retryUnitMs: 5, writeSpacingMs: 0 },
        sticky: { jitterMs: 10, settleMs: 40 },
      });
      const [comment] = fake.commentsOn('example/vllm', 43190);
      expect([...parseCommentSections(comment.body).keys()]).toEqual(['h100', 'h100 (2)']);
      expect(h.warnings.join('\n')).toContain('shown as "h100 (2)"');
    } finally {
      await fake.close();
    }
  });
});

/** The most a RunResult may hold: every bound at its limit, every test and cell distinct. */
function worstAllowed(runner: string): RunResult {
  const r = fullRun({ runner });
  const b = RUN_RESULT_BOUNDS;
  const dtypes = ['bfloat16', 'float16', 'float32', 'float8_e4m3fn'];
  r.tests = Array.from(
    { length: b.tests },
    (_, i): TestCase => ({
      id: `test_x.py::test_gate[${dtypes[i % 4]}-K${1024 + i}-N${i}]`,
      status: i % 50 === 0 ? 'failed' : 'passed',
      seconds: 0.1,
      dtype: dtypes[i % 4],
      k: 1024 + i,
      n: i,
      ...(i % 50 === 0 ? { message: `AssertionError ${'x'.repeat(300)}` } : {}),
    }),
  );
  const template = (r.microbench?.cells[0] ?? {}) as MicrobenchCell;
  if (r.microbench)
    r.microbench.cells = Array.from({ length: b.microbenchCells }, (_, i) => ({
      ...template,
      k: 1024 + i,
      n: i + 1,
    }));
  if (r.e2e)
    r.e2e.cells = Array.from({ length: b.e2eCells }, (_, i) =>
      cell(`in${i}-out${i}-c${i}`, b.samplesPerArm, i),
    );
  return r;
}

describe('the worst allowed RunResult', () => {
  it('goes through report mode, published, in under 60 seconds', { timeout: 120_000 }, async () => {
    const dir = await tempDir('vkci-worst-');
    for (const runner of ['h100', 'mi355x']) {
      await mkdir(join(dir, 'results', runner), { recursive: true });
      await writeFile(join(dir, 'results', runner, 'run-result.json'), JSON.stringify(worstAllowed(runner)));
    }
    const fake = await startFakeGitHub();
    try {
      const head = '3f1c2a9e8b7d6c5f4e3d2c1b0a9f8e7d6c5b4a39';
      fake.addPullRequest('example/vllm', { number: 43190, headSha: head });
      const eventPath = join(dir, 'event.json');
      await writeFile(
        eventPath,
        JSON.stringify({
          pull_request: { number: 43190, head: { sha: head } },
          repository: { full_name: 'example/vllm' },
        }),
      );
      const config = parseConfig(
        (name) =>
          ({
            mode: 'report',
            results: join(dir, 'results/**/run-result.json'),
            'output-dir': join(dir, 'out'),
            'github-token': WRITE_TOKEN,
          })[name],
      );
      const h = host({
        GITHUB_EVENT_NAME: 'pull_request',
        GITHUB_EVENT_PATH: eventPath,
        GITHUB_REPOSITORY: 'example/vllm',
        GITHUB_API_URL: fake.url,
      });
      const t0 = performance.now();
      const outcome = await runReport(config, h, {
        client: { retryUnitMs: 5, writeSpacingMs: 0 },
        sticky: { jitterMs: 10, settleMs: 40 },
      });
      const seconds = (performance.now() - t0) / 1000;
      expect(outcome.verdict).not.toBe('not-available');
      expect(outcome.commentUrl).toBeDefined();
      expect(seconds).toBeLessThan(60);
    } finally {
      await fake.close();
    }
  });
});
