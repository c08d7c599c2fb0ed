import { describe, expect, it } from 'vitest';
import { COMMENT_MAX_CHARS } from '../src/report/budget.js';
import { mermaidLabel } from '../src/report/chart.js';
import {
  COMMENT_MARKER,
  parseCommentSections,
  renderComment,
  renderReport,
  renderRunnerSection,
} from '../src/report/render.js';
import { analyseRun, analyseRuns } from '../src/stats/analyse.js';

const T = { minEffectPct: 2, failOnRegression: false };

import { type RunResult, STEP_NAMES } from '../src/results/run-result.js';
import { fullRun } from './report-fixtures.js';

/** Everything a run can get wrong at once, with the longest strings it may carry. */
function worstRun(i: number): RunResult {
  const run = fullRun({
    runner: `gpu-runner-${String(i).padStart(2, '0')}-${'x'.repeat(40)}`,
    seed: i,
    failCases: 24,
  });
  run.device.name = `AMD Instinct MI355X ${'y'.repeat(80)}`;
  run.steps = run.steps.map((s) => ({
    ...s,
    status: s.name === 'e2e' ? 'timed-out' : s.status,
    reason: 'r'.repeat(500),
    logTail: `${'Traceback line\n'.repeat(400)}RuntimeError: CUDA error`,
  }));
  for (const t of run.tests ?? [])
    if (t.status === 'failed') t.message = `AssertionError ${'m'.repeat(2000)}`;
  run.settings = Object.fromEntries(Array.from({ length: 40 }, (_, k) => [`SETTING_${k}`, 'v'.repeat(100)]));
  return run;
}

const headingOf = (section: string) => section.split('\n').find((line) => line.startsWith('#'));

describe('renderRunnerSection', () => {
  const run = fullRun({ failCases: 2 });
  const section = renderRunnerSection(analyseRun(run, T));

  it('sits between markers that name the runner, its stage, commit and verdict', () => {
    expect(section.split('\n')[0]).toBe(
      `<!-- vllm-kernel-ci:runner=h100-1 stage=all sha=${run.identity.headSha} verdict=failed exit=1 finished=${run.identity.finishedAt} -->`,
    );
    expect(section.trimEnd().endsWith('<!-- /vllm-kernel-ci:runner -->')).toBe(true);
  });

  it('leads with the runner, the device and the verdict', () => {
    expect(headingOf(section)).toBe('### ❌ h100-1 · NVIDIA H100 80GB HBM3: failed');
    expect(section).toContain('**Correctness** ❌ 2 failed, 25/27 passed');
  });

  it('names the models the patch reaches in its line, and how each is reached below it, uncut', () => {
    const reused = structuredClone(run);
    reused.patch = {
      ...(reused.patch ?? { sites: [], copied: [], mode: 'apply' }),
      coveredModels: [
        'interns2_mobius (Qwen2MoeMLP from qwen2_moe)',
        'qwen3_next (Qwen2MoeMLP as Qwen3NextMLP from qwen2_moe)',
        'plain_model',
      ],
    };
    const text = renderRunnerSection(analyseRun(reused, T));
    expect(text).toMatch(/\*\*Patch\*\* .*; reaches interns2_mobius, qwen3_next, plain_model\n/);
    expect(text).toContain('- ↪ qwen3_next reuses Qwen2MoeMLP as Qwen3NextMLP from qwen2_moe\n');
    expect(text).not.toContain('↪ plain_model');
  });

  it('shows correctness per dtype × K and each failure with its id and message', () => {
    expect(section).toContain('| dtype \\ K | 1024 | 2048 | other |');
    expect(section).toContain('| bfloat16 | ❌ 4/6 | ✅ 6/6 | — |');
    expect(section).toContain(
      'test_fused_shared_expert_gate\\[bfloat16-1024-7]: AssertionError: Tensor-likes',
    );
  });

  it('has the kernel table with µs, both speedups and % of the copy ceiling', () => {
    expect(section).toContain(
      '| dtype | K | N | fused µs | eager µs | compile µs | × eager | × compile | % of copy | floor µs |',
    );
    expect(section).toMatch(
      /\| bfloat16 \| 2048 \| 8192 \| 35\.\d \| 6\d\.\d \| 40\.\d \| 1\.7\d× \| 1\.1\d× \| 9\d% \| 33\.5 \|/,
    );
  });

  it('lays the e2e out like the original PR: three shapes × concurrencies, Δ% with its interval and a mark', () => {
    expect(section).toContain('| workload | concurrency 4 | concurrency 16 | concurrency 64 |');
    for (const shape of ['in 1024 → out 1024', 'in 1024 → out 8192', 'in 8192 → out 1024']) {
      expect(section).toMatch(
        new RegExp(`\\| ${shape} \\| ✅ \\+\\d\\.\\d% \\\\\\[\\+\\d\\.\\d, \\+\\d+\\.\\d\\]`),
      );
    }
  });

  it('charts Δ% per cell in mermaid, with the interval bounds', () => {
    const chart = section.split('```mermaid\n')[1].split('```')[0];
    expect(chart).toMatch(/^xychart-beta\n/);
    expect(chart).toContain('x-axis ["in1024-out1024-c4", ');
    expect(chart.match(/^ {2}bar \[/gm)).toHaveLength(1);
    expect(chart.match(/^ {2}line \[/gm)).toHaveLength(2);
  });

  it('ends with versions, SHAs, bundle hash, settings and how it measured', () => {
    const footer = section.split('<sub>')[1];
    for (const text of ['`a1b2c3d4e5f6`', '`9c0ffee12345`', 'torch 2.11.0+cu128', 'driver 570.124.06']) {
      expect(footer).toContain(text);
    }
    expect(footer).toContain('VLLM_SHARED_EXPERTS_STREAM_TOKEN_THRESHOLD=256');
    expect(footer).toContain('e2e method: vllm serve + vllm bench serve, 8 interleaved A/B repeats');
  });

  it('shows why steps did not run', () => {
    const cpu: RunResult = {
      ...fullRun(),
      device: { vendor: 'cpu', name: 'cpu', count: 0 },
      microbench: undefined,
      e2e: undefined,
      steps: STEP_NAMES.map((name) =>
        name === 'microbench' || name === 'e2e'
          ? { name, status: 'skipped', seconds: 0, reason: 'no GPU on this runner' }
          : { name, status: 'passed', seconds: 1 },
      ),
    };
    const s = renderRunnerSection(analyseRun(cpu, T));
    expect(headingOf(s)).toBe('### ✅ h100-1 · cpu: passed');
    expect(s).toContain('| microbench | ⏭️ skipped | 0.0 s | no GPU on this runner |');
  });

  it('lays out the model backend as phase × batch, rows named by the cell id', () => {
    const run2 = fullRun();
    const e2e = run2.e2e as NonNullable<RunResult['e2e']>;
    e2e.backend = 'model';
    e2e.cells = e2e.cells.slice(0, 5).map((c, i) => {
      const phase = i < 2 ? 'prefill' : 'decode';
      const batch = [1, 8, 1, 8, 64][i];
      // stepsPerSample differs per cell: incidental, it must not split rows
      const params = {
        batch,
        ...(i < 2 ? { seq: 512 } : { context: 512 }),
        model: 'qwen2-moe',
        stepsPerSample: 10 + i,
      };
      return { ...c, id: `qwen2-moe-${phase}-b${batch}-${i < 2 ? 's' : 'c'}512`, params };
    });
    const s = renderRunnerSection(analyseRun(run2, T));
    expect(s).toContain('| workload | batch 1 | batch 8 | batch 64 |');
    expect(s).toMatch(/\| qwen2-moe-prefill-s512 \| ✅ [^|]* \| ✅ [^|]* \| — \|/);
    expect(s).toMatch(/\| qwen2-moe-decode-c512 \| ✅ [^|]* \| ✅ [^|]* \| ✅ [^|]* \|/);
  });

  it('escapes every string from the RunResult and keeps its own markers intact', () => {
    const hostile = fullRun({ runner: 'evil --> <!-- /vllm-kernel-ci:runner -->', failCases: 1 });
    (hostile.tests ?? [])[0].message =
      '@octocat <script>x</script> [a](https://e.x) ```\n<!-- vllm-kernel-ci:comment -->';
    hostile.steps[4] = { ...hostile.steps[4], logTail: '```\n<!-- /vllm-kernel-ci:runner -->\n@here' };
    const s = renderRunnerSection(analyseRun(hostile, T));
    expect(s).not.toMatch(/@[a-z]/);
    // what GitHub would read as a tag or a link: a `<` or a `[` the serialiser did not escape
    expect(s).not.toMatch(/(?<!\\)<script/);
    expect(s).not.toMatch(/(?<!\\)\[[^\]]*\]\(https/);
    expect(s.match(/<!-- \/vllm-kernel-ci:runner -->/g)).toHaveLength(1);
    expect(s).not.toContain(COMMENT_MARKER);
    expect([...parseCommentSections(renderComment([s])).keys()]).toEqual([hostile.identity.runner]);
  });
});

describe('renderComment and parseCommentSections', () => {
  const a = renderRunnerSection(analyseRun(fullRun({ runner: 'h100-1' }), T));
  const b = renderRunnerSection(analyseRun(fullRun({ runner: 'mi355x-1', seed: 2, change: 0 }), T));

  it('starts with the comment marker and holds each runner once, in runner order', () => {
    const body = renderComment([b, a]);
    expect(body.startsWith(`${COMMENT_MARKER}\n`)).toBe(true);
    expect([...parseCommentSections(body).keys()]).toEqual(['h100-1', 'mi355x-1']);
  });

  it('merges a runner into an existing comment without touching the others, in either order', () => {
    const withA = renderComment([a]);
    const withB = renderComment([b]);
    const merge = (existing: string, section: string, runner: string) => {
      const sections = parseCommentSections(existing);
      sections.set(runner, section);
      return renderComment([...sections.values()]);
    };
    const ab = merge(withA, b, 'mi355x-1');
    const ba = merge(withB, a, 'h100-1');
    expect(ab).toBe(ba);
    expect(parseCommentSections(ab).get('h100-1')).toBe(a);
    // a newer run of the same runner replaces its section
    const newer = renderRunnerSection(analyseRun(fullRun({ runner: 'h100-1', failCases: 1 }), T));
    const replaced = merge(ab, newer, 'h100-1');
    expect(parseCommentSections(replaced).get('h100-1')).toBe(newer);
    expect(parseCommentSections(replaced).get('mi355x-1')).toBe(b);
    expect(replaced.match(/vllm-kernel-ci:runner=h100-1/g)).toHaveLength(1);
  });

  it('leaves a small comment uncut, with no note', () => {
    const body = renderComment([a, b]);
    expect(body).not.toContain('Cut to fit');
    expect(body).toContain('<details><summary>All 27 cases</summary>');
  });

  it('fits 16 runners × the full matrix, cutting passing lists first and saying where the full report is', () => {
    const sections = Array.from({ length: 16 }, (_, i) =>
      renderRunnerSection(
        analyseRun(fullRun({ runner: `runner-${String(i).padStart(2, '0')}`, seed: i, failCases: i % 3 }), T),
      ),
    );
    expect(sections.join('').length).toBeGreaterThan(COMMENT_MAX_CHARS);
    const body = renderComment(sections, { fullReportHint: 'the job summary of run 42' });
    expect(body.length).toBeLessThanOrEqual(COMMENT_MAX_CHARS);
    expect(body).toContain('Cut to fit GitHub');
    expect(body).toContain('lists of passing cases');
    expect(body).toContain('The full report is in the job summary of run 42.');
    expect(body).not.toContain('<details><summary>All 27 cases');
    const parsed = parseCommentSections(body);
    expect(parsed.size).toBe(16);
    sections.forEach((s, i) => {
      const kept = parsed.get(`runner-${String(i).padStart(2, '0')}`) ?? '';
      // headlines and verdicts are kept; the e2e grid (verdict per cell) survives at this size
      expect(headingOf(kept)).toBe(headingOf(s));
      expect(kept).toContain('| workload | concurrency 4 | concurrency 16 | concurrency 64 |');
      // failures are kept with their ids
      if (i % 3) expect(kept).toContain('bfloat16-1024-1]: AssertionError');
    });
  });

  it('never exceeds the limit even when every runner fails everything with the longest strings', () => {
    const sections = Array.from({ length: 16 }, (_, i) => renderRunnerSection(analyseRun(worstRun(i), T)));
    const body = renderComment(sections);
    expect(body.length).toBeLessThanOrEqual(COMMENT_MAX_CHARS);
    const parsed = parseCommentSections(body);
    expect(parsed.size).toBe(16);
    for (const s of sections) {
      const kept = [...parsed.values()].find((p) => headingOf(p) === headingOf(s));
      expect(kept, headingOf(s)).toBeDefined();
      expect(kept).toContain('❌ 24 failed, 3/27 passed');
    }
  });

  it('respects a smaller budget and still keeps every headline', () => {
    const sections = Array.from({ length: 16 }, (_, i) => renderRunnerSection(analyseRun(worstRun(i), T)));
    const body = renderComment(sections, { maxChars: 20_000 });
    expect(body.length).toBeLessThanOrEqual(20_000);
    expect(body).toContain('the detail of some runners (their headlines kept)');
    expect(parseCommentSections(body).size).toBe(16);
  });

  it('when even the headlines do not fit, says how many runners were left out', () => {
    const sections = Array.from({ length: 16 }, (_, i) => renderRunnerSection(analyseRun(worstRun(i), T)));
    const body = renderComment(sections, { maxChars: 4_000 });
    expect(body.length).toBeLessThanOrEqual(4_000);
    expect(body).toMatch(/\d+ more runners not shown: see the full report\./);
  });
});

describe('renderReport', () => {
  const runs = [
    fullRun({ runner: 'mi355x-1', seed: 2, change: 0 }),
    fullRun({ runner: 'h100-1', failCases: 1 }),
  ];

  it('has an overview row per runner, then each runner section, without cut markers', () => {
    const report = renderReport(analyseRuns(runs, T));
    expect(report).toContain('| runner | device | verdict | correctness | kernel | end to end |');
    expect(report.indexOf('| h100-1 |')).toBeLessThan(report.indexOf('| mi355x-1 |'));
    expect(report).toContain('| h100-1 | NVIDIA H100 80GB HBM3 | ❌ failed |');
    expect(report).not.toContain('vkci:cut');
    expect(parseCommentSections(report).size).toBe(2);
  });

  it('judges with the given minimum effect', () => {
    const small = fullRun({ change: 0.01, cv: 0.002 });
    expect(renderReport(analyseRuns([small], T))).toContain('no significant change');
    expect(renderReport(analyseRuns([small], { ...T, minEffectPct: 0.5 }))).toContain('✅ improved');
  });

  it('judges with the method the GPU job recorded, unless the report is given a minimum effect, and says so', () => {
    const small = fullRun({ change: 0.01, cv: 0.002 });
    small.verdicts = {
      minEffectPct: 0.5,
      confidencePct: 95,
      rerunConfidencePct: 97.5,
      rule: 'confirmed',
      repeats: 8,
    };
    // the recorded 0.5% decides, whatever the report's default; a call of one round waits for its re-run
    const recorded = analyseRuns([small], T).runners[0];
    expect(recorded.method).toMatchObject({ minEffectPct: 0.5, rule: 'confirmed' });
    expect(recorded.compared[0].comparison).toMatchObject({
      verdict: 'improved',
      borderline: true,
      reason: 'one round only: not confirmed by a re-run',
    });
    const text = renderReport(analyseRuns([small], T));
    expect(text).toContain('min effect 0.5%, calls confirmed by a re-run ·');
    expect(text).toContain(
      'A call is re-run and stands only when the fresh pairs, judged alone, make the same call.',
    );
    const overridden = analyseRuns([small], { ...T, minEffectSet: true });
    expect(overridden.verdict.verdict).toBe('no-significant-change');
    expect(renderReport(overridden)).toContain('(min effect 2% given to the report; the GPU job used 0.5%)');
  });

  it('cuts to maxChars when asked', () => {
    const many = Array.from({ length: 16 }, (_, i) => worstRun(i));
    const report = renderReport(analyseRuns(many, T), { maxChars: COMMENT_MAX_CHARS });
    expect(report.length).toBeLessThanOrEqual(COMMENT_MAX_CHARS);
    expect(report).toContain("Cut to fit GitHub's 65,536-character comment limit");
    const summary = renderReport(analyseRuns(many, T), { maxChars: 20_000, fullReportHint: 'report.md' });
    expect(summary.length).toBeLessThanOrEqual(20_000);
    expect(summary).toContain('Cut to fit 20,000 characters:');
    expect(summary).toContain('The full report is in report.md.');
  });

  it('says so when there is nothing to report', () => {
    expect(renderReport(analyseRuns([], T))).toContain('No RunResults were given.');
  });
});

describe('mermaid labels', () => {
  it('cannot close a quoted string, start a directive or add a line', () => {
    const label = mermaidLabel('x"] \n  bar [1]\n%%{init: {"theme":"dark"}}%%');
    expect(label).not.toMatch(/["[\]\n%{}]/);
    expect(label.length).toBeLessThanOrEqual(40);
  });
});
