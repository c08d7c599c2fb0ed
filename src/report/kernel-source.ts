// The report's lines on the kernel under test (source, path, blob, commit, base) and on each test group. Pure.
import { contractWords } from '../results/contract.js';
import { caseAdvisory, caseFailed } from '../results/predicates.js';
import type { RunResult, TestGroup } from '../results/run-result.js';
import { cuttable } from './budget.js';
import { escapeText } from './escape.js';
import { cellMark, interval, pct, plain } from './format.js';
import type { ComparedCell } from './model.js';

const short = (sha: string) => escapeText(sha.slice(0, 12), 12);
const GROUP_WORDS: Record<TestGroup, string> = {
  conformance: 'conformance (the public signature)',
  pr: "the PR's own tests",
  bundle: "the bundle's unit tests",
};

function kernelLine(kernel: NonNullable<RunResult['kernel']>): string {
  const whose = kernel.source === 'tree' ? "the tree's own kernel" : "the bundle's kernel";
  let line = `**Kernel under test** ${kernel.source}: ${whose} ${escapeText(kernel.symbol, 80)} in ${escapeText(kernel.path, 160)} (blob ${short(kernel.blobSha)}) at vLLM ${short(kernel.commit)}`;
  if (kernel.base) {
    line += kernel.base.path
      ? `; baseline: the base ${short(kernel.base.commit)} with its kernel in ${escapeText(kernel.base.path, 160)} (blob ${short(kernel.base.blobSha ?? '')})`
      : `; baseline: the base ${short(kernel.base.commit)}, which has no kernel of the op (the original expression)`;
  }
  return line;
}

function sitesLines(result: RunResult): string {
  const sites = (result.patch?.sites ?? []).filter((s) => s.status === 'tree-native');
  if (sites.length === 0) return '**Call sites in the tree** none: no model calls this kernel\n';
  const list = sites
    .map(
      (s) =>
        `- ${escapeText(`${s.file}:${s.line}`, 120)}${s.symbol ? ` (${escapeText(s.symbol, 60)})` : ''}: ${escapeText(s.source.trim(), 160)}`,
    )
    .join('\n');
  return `**Call sites in the tree** ${sites.length}\n${cuttable(1, `${list}\n`)}`;
}

function groupLine(result: RunResult, run: NonNullable<RunResult['testGroups']>[number]): string {
  const words = GROUP_WORDS[run.group];
  if (run.status === 'skipped')
    return `- ⏭️ ${words}: skipped, ${escapeText(run.reason ?? 'no reason recorded', 240)}`;
  const cases = (result.tests ?? []).filter((t) => t.group === run.group);
  const failed = cases.filter(caseFailed);
  const advisory = cases.filter(caseAdvisory);
  const passed = cases.filter((t) => t.status === 'passed').length;
  const skipped = cases.length - passed - failed.length - advisory.length;
  const counts = `${passed} passed${failed.length ? `, ${failed.length} failed` : ''}${advisory.length ? `, ⚠️ ${advisory.length} beyond the contract failed (advisory)` : ''}${skipped ? `, ${skipped} skipped` : ''}`;
  const mark = failed.length || cases.length === 0 ? '❌' : '✅';
  const names = failed.length
    ? `: ${failed
        .slice(0, 5)
        .map((t) => escapeText(t.id.split('::').pop(), 100))
        .join(', ')}${failed.length > 5 ? ', …' : ''}`
    : '';
  const notes = advisory.map(
    (t) => `\n  - ⚠️ ${escapeText(t.id.split('::').pop(), 100)}: ${escapeText(t.beyondContract ?? '', 200)}`,
  );
  return `- ${mark} ${words}: ${cases.length === 0 ? 'no case ran' : counts}${names}${notes.join('')}`;
}

/** The microbenchmark's base kernel against head kernel per shape, judged like the e2e cells (per cell). */
function baseAgainstHeadLines(compared: readonly ComparedCell[]): string {
  if (compared.length === 0) return '';
  const rows = compared.map(({ cell: c, comparison: v }) => {
    if (c.status !== 'ok')
      return `| ${escapeText(c.id, 60)} | – | – | – | – | ${escapeText(c.reason ?? 'failed', 120)} |`;
    return `| ${escapeText(c.id, 60)} | ${plain(v.baselineMedian)} | ${plain(v.patchedMedian)} | ${pct(v.deltaPct)} ${interval(v.ciLow, v.ciHigh)} | ${v.pairs} | ${cellMark(v.verdict)}${v.reason ? ` ${escapeText(v.reason, 120)}` : ''} |`;
  });
  const first = compared[0].cell;
  const title = `**Base kernel against head kernel** (microbenchmark, ${escapeText(first.metric, 30)} in ${escapeText(first.unit, 10)}, ${first.higherIsBetter ? 'higher' : 'lower'} is better; medians, Δ head vs base with its ${compared[0].comparison.levelPct}% interval over interleaved pairs, judged per shape as the e2e cells are)`;
  return [
    title,
    '',
    '| shape | base | head | Δ | pairs | verdict |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

/** Which kernel ran and each test group's outcome; empty for RunResults from before kernel sources. */
export function kernelUnderTestPart(result: RunResult, kernelAb: readonly ComparedCell[]): string {
  const parts: string[] = [];
  if (result.kernel) {
    parts.push(`${kernelLine(result.kernel)}\n`);
    if (result.kernel.source === 'tree') parts.push(sitesLines(result));
    const contract = contractWords(result.kernel.contract);
    if (contract)
      parts.push(
        `**Contract tested** ${escapeText(contract, 200)}: a case passing anything else is advisory (⚠️), never a failure of the run\n`,
      );
  }
  const ab = baseAgainstHeadLines(kernelAb);
  if (ab) parts.push(cuttable(1, ab));
  if (result.testGroups?.length) {
    parts.push(`**Test groups**\n${result.testGroups.map((g) => groupLine(result, g)).join('\n')}\n`);
  }
  return parts.join('\n');
}
