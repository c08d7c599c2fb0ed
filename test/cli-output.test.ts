// What the CLI prints: the summary row, the verdict and the paths on stdout (or JSON), the log on stderr; flag
// mistakes get the nearest flag and the input's own message.
import { describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/main.js';
import { didYouMean, joinNegativeValues, outcomeLines } from '../src/cli/modes.js';
import { INPUTS } from '../src/inputs.js';
import { summaryLine } from '../src/report/render.js';
import { analyseRun } from '../src/stats/analyse.js';
import { fullRun } from './report-fixtures.js';

async function cli(...argv: string[]) {
  const lines = { out: [] as string[], err: [] as string[] };
  const code = await runCli(argv, { out: (t) => lines.out.push(t), err: (t) => lines.err.push(t) });
  return { code, ...lines };
}

describe('flags', () => {
  it('an unknown flag names the nearest known one', async () => {
    const r = await cli('validate', '--repeat', '3');
    expect(r).toEqual({
      code: 2,
      out: [],
      err: ["error: Unknown option '--repeat'. Did you mean --repeats? Run with --help to see the options."],
    });
    const names = INPUTS.map((i) => i.name);
    expect(didYouMean('--kernel-sorce', names)).toBe('--kernel-source');
    expect(didYouMean('--zzzzzz', names)).toBeUndefined();
  });

  it('a negative number after a flag is its value, so the input says what is wrong with it', async () => {
    expect(joinNegativeValues(['--repeats', '-2', '--min-effect', '3'])).toEqual([
      '--repeats=-2',
      '--min-effect',
      '3',
    ]);
    const r = await cli('validate', '--repeats', '-2');
    expect(r.code).toBe(2);
    expect(r.err).toEqual(["error: Invalid repeats '-2'. Expected a positive integer."]);
  });
});

describe('the outcome on stdout', () => {
  const runner = analyseRun(fullRun({ runner: 'h100-1', change: 0.05 }), {
    minEffectPct: 2,
    failOnRegression: false,
  });
  const outcome = {
    verdict: runner.verdict.verdict,
    exitCode: 0,
    resultPath: '/out/run-result.json',
    reportPath: '/out/report.md',
    summary: [summaryLine(runner)],
  };

  it('the summary row as one line, the verdict and the paths', () => {
    const [row, ...rest] = outcomeLines(outcome, false).split('\n');
    expect(row).toBe(
      'h100-1 · NVIDIA H100 80GB HBM3: ✅ improved · correctness 27/27 passed · kernel decode N 1, 128: 4.68×, 3.94× eager · prefill N 1024: 2.44× · geomean of 20 shapes 2.56× eager, 1.72× compile (bfloat16 K=2048) · end to end 9 improved of 9 cells',
    );
    expect(rest).toEqual(['verdict: improved', 'result: /out/run-result.json', 'report: /out/report.md']);
  });

  it('--json: the verdict and paths as one JSON object', () => {
    expect(JSON.parse(outcomeLines(outcome, true))).toEqual({
      verdict: 'improved',
      exitCode: 0,
      resultPath: '/out/run-result.json',
      reportPath: '/out/report.md',
      commentUrl: null,
    });
  });
});
