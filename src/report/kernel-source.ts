// The report's lines on the kernel under test (source, path, blob, commit, base) and on each test group. Pure.
import { contractWords } from '../results/contract.js';
import { caseAdvisory, caseFailed } from '../results/predicates.js';
import type { RunResult, TestGroup } from '../results/run-result.js';
import { cuttable } from './budget.js';
import { inert } from './escape.js';
import { cellMark, DASH, interval, pct, plain } from './format.js';
import { type Block, item, list, paragraph, strong, table } from './markdown.js';
import type { ComparedCell } from './model.js';

const short = (sha: string) => inert(sha.slice(0, 12), 12);
const GROUP_WORDS: Record<TestGroup, string> = {
  conformance: 'conformance (the public signature)',
  pr: "the PR's own tests",
  bundle: "the bundle's unit tests",
};

function kernelLine(kernel: NonNullable<RunResult['kernel']>): Block {
  const whose = kernel.source === 'tree' ? "the tree's own kernel" : "the bundle's kernel";
  let line = ` ${kernel.source}: ${whose} ${inert(kernel.symbol, 80)} in ${inert(kernel.path, 160)} (blob ${short(kernel.blobSha)}) at vLLM ${short(kernel.commit)}`;
  if (kernel.base) {
    line += kernel.base.path
      ? `; baseline: the base ${short(kernel.base.commit)} with its kernel in ${inert(kernel.base.path, 160)} (blob ${short(kernel.base.blobSha ?? '')})`
      : `; baseline: the base ${short(kernel.base.commit)}, which has no kernel of the op (the original expression)`;
  }
  return paragraph(strong('Kernel under test'), line);
}

function sitesLines(result: RunResult): Block[] {
  const sites = (result.patch?.sites ?? []).filter((s) => s.status === 'tree-native');
  if (sites.length === 0)
    return [paragraph(strong('Call sites in the tree'), ' none: no model calls this kernel')];
  const items = sites.map((s) => [
    `${inert(`${s.file}:${s.line}`, 120)}${s.symbol ? ` (${inert(s.symbol, 60)})` : ''}: ${inert(s.source.trim(), 160)}`,
  ]);
  return [paragraph(strong('Call sites in the tree'), ` ${sites.length}`), ...cuttable(1, [list(items)])];
}

function groupItem(result: RunResult, run: NonNullable<RunResult['testGroups']>[number]) {
  const words = GROUP_WORDS[run.group];
  if (run.status === 'skipped')
    return item([`⏭️ ${words}: skipped, ${inert(run.reason ?? 'no reason recorded', 240)}`]);
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
        .map((t) => inert(t.id.split('::').pop(), 100))
        .join(', ')}${failed.length > 5 ? ', …' : ''}`
    : '';
  const notes = advisory.map((t) => [
    `⚠️ ${inert(t.id.split('::').pop(), 100)}: ${inert(t.beyondContract ?? '', 200)}`,
  ]);
  return item(
    [`${mark} ${words}: ${cases.length === 0 ? 'no case ran' : counts}${names}`],
    notes.length ? list(notes) : undefined,
  );
}

/** The microbenchmark's base kernel against head kernel per shape, judged like the e2e cells (per cell). */
function baseAgainstHead(compared: readonly ComparedCell[]): Block[] {
  if (compared.length === 0) return [];
  const rows = compared.map(({ cell: c, comparison: v }) =>
    c.status !== 'ok'
      ? [inert(c.id, 60), DASH, DASH, DASH, DASH, inert(c.reason ?? 'failed', 120)]
      : [
          inert(c.id, 60),
          plain(v.baselineMedian),
          plain(v.patchedMedian),
          `${pct(v.deltaPct)} ${interval(v.ciLow, v.ciHigh)}`,
          String(v.pairs),
          `${cellMark(v.verdict)}${v.reason ? ` ${inert(v.reason, 120)}` : ''}`,
        ],
  );
  const first = compared[0].cell;
  const title = paragraph(
    strong('Base kernel against head kernel'),
    ` (microbenchmark, ${inert(first.metric, 30)} in ${inert(first.unit, 10)}, ${first.higherIsBetter ? 'higher' : 'lower'} is better; medians, Δ head vs base with its ${compared[0].comparison.levelPct}% interval over interleaved pairs, judged per shape as the e2e cells are)`,
  );
  return [title, table([['shape', 'base', 'head', 'Δ', 'pairs', 'verdict'], ...rows])];
}

/** Which kernel ran and each test group's outcome; empty for RunResults from before kernel sources. */
export function kernelUnderTestPart(result: RunResult, kernelAb: readonly ComparedCell[]): Block[] {
  const parts: Block[] = [];
  if (result.kernel) {
    parts.push(kernelLine(result.kernel));
    if (result.kernel.source === 'tree') parts.push(...sitesLines(result));
    const contract = contractWords(result.kernel.contract);
    if (contract)
      parts.push(
        paragraph(
          strong('Contract tested'),
          ` ${inert(contract, 200)}: a case passing anything else is advisory (⚠️), never a failure of the run`,
        ),
      );
  }
  const ab = baseAgainstHead(kernelAb);
  if (ab.length) parts.push(...cuttable(1, ab));
  if (result.testGroups?.length) {
    parts.push(paragraph(strong('Test groups')), list(result.testGroups.map((g) => groupItem(result, g))));
  }
  return parts;
}
