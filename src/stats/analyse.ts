// RunResults → the analysed Report every mode reads: each runner's method, judged cells, kernel rows and
// verdict, and the verdict across runners. Built once per mode. Pure.
import type {
  ComparedCell,
  KernelVsBase,
  Report,
  RunnerReport,
  RunVerdict,
  VerdictMethod,
} from '../report/model.js';
import type { RunResult } from '../results/run-result.js';
import { compareCell, judgeE2e } from './e2e.js';
import { headlineRow, kernelRows, servingHeadline } from './microbench.js';
import { rooflines } from './roofline.js';
import { combineVerdicts, overallVerdict, perCellMethod } from './verdict.js';

export interface Thresholds {
  minEffectPct: number;
  failOnRegression: boolean;
  /** the minimum effect was given explicitly, so it overrides the one a RunResult recorded */
  minEffectSet?: boolean;
}

/**
 * The method a RunResult is judged by: the one its GPU job recorded, so validate and report agree; a minimum
 * effect given explicitly overrides it (and the report says so). A RunResult that recorded none was re-run under
 * the per-cell rule and is judged by it.
 */
export function methodFor(
  result: RunResult,
  thresholds: Thresholds,
): { method: VerdictMethod; firstRound?: number; override?: string } {
  const recorded = result.verdicts;
  if (!recorded) return { method: perCellMethod(thresholds.minEffectPct) };
  const { repeats, ...method } = recorded;
  if (thresholds.minEffectSet && thresholds.minEffectPct !== recorded.minEffectPct) {
    return {
      method: { ...method, minEffectPct: thresholds.minEffectPct },
      firstRound: repeats,
      override: `min effect ${thresholds.minEffectPct}% given to the report; the GPU job used ${recorded.minEffectPct}%`,
    };
  }
  return { method, firstRound: repeats };
}

/** Head against base over the kernel's shapes; undefined when the base has no kernel (no A/B cells). */
export function kernelVsBase(kernelAb: readonly ComparedCell[]): KernelVsBase | undefined {
  const judged = kernelAb.filter((c) => c.cell.status === 'ok');
  if (judged.length === 0) return undefined;
  // µs: lower is better, so a positive Δ is slower; a throughput metric flips the sign
  const slowdown = (c: ComparedCell) => (c.cell.higherIsBetter ? -1 : 1) * c.comparison.deltaPct;
  const slower = judged.filter((c) => c.comparison.verdict === 'regressed');
  const faster = judged.filter((c) => c.comparison.verdict === 'improved');
  return {
    shapes: judged.length,
    slower: slower.length,
    faster: faster.length,
    worstPct: Math.max(0, ...slower.map(slowdown)),
    bestPct: Math.min(0, ...faster.map(slowdown)),
  };
}

/** A kernel slower than the base kernel is a regression of the run, under the same fail-on-regression rule as e2e. */
export function withKernelRegression(
  verdict: RunVerdict,
  vsBase: KernelVsBase | undefined,
  runner: string,
  failOnRegression: boolean,
): RunVerdict {
  if (!vsBase || vsBase.slower === 0 || verdict.verdict === 'failed') return verdict;
  const what = `${vsBase.slower} of ${vsBase.shapes} kernel shapes slower than the base kernel on ${runner}`;
  if (!failOnRegression) return { verdict: 'regressed', exitCode: 0 };
  const failure = `${what} (fail-on-regression is on)`;
  return {
    verdict: 'regressed',
    exitCode: 1,
    failure: verdict.exitCode !== 0 && verdict.failure ? `${verdict.failure}; ${failure}` : failure,
  };
}

export function analyseRun(result: RunResult, thresholds: Thresholds): RunnerReport {
  const { method, firstRound, override } = methodFor(result, thresholds);
  const compared = result.e2e ? judgeE2e(result.e2e, method, firstRound) : [];
  const rows = result.microbench ? kernelRows(result.microbench) : [];
  const kernelAb = (result.microbench?.ab ?? []).map((cell) => ({
    cell,
    comparison: compareCell(cell, method),
  }));
  const vsBase = kernelVsBase(kernelAb);
  const serving = vsBase ? undefined : servingHeadline(rows, result.e2e?.cells);
  const verdict = overallVerdict(
    result,
    { ...thresholds, method, firstRound },
    compared.map((c) => c.comparison),
  );
  return {
    result,
    method,
    override,
    verdict: withKernelRegression(verdict, vsBase, result.identity.runner, thresholds.failOnRegression),
    compared,
    rows,
    headline: headlineRow(rows),
    ...(vsBase
      ? { kernelHeadline: { kind: 'vs-base' as const, vsBase } }
      : serving
        ? { kernelHeadline: { kind: 'serving' as const, ...serving } }
        : {}),
    kernelAb,
    roofline: rooflines(result),
  };
}

export function analyseRuns(results: readonly RunResult[], thresholds: Thresholds): Report {
  const runners = [...results]
    .sort((a, b) => a.identity.runner.localeCompare(b.identity.runner))
    .map((r) => analyseRun(r, thresholds));
  return { runners, verdict: combineVerdicts(runners.map((r) => r.verdict)) };
}

/**
 * Why the e2e stage on `runner` does not run after this kernel stage (its RunResult), or undefined when it passed
 * there for the same commit. The one place that decides whether an e2e follows a kernel stage.
 */
export function kernelStageBlocks(
  kernel: RunResult,
  runner: string,
  headSha: string | undefined,
  thresholds: Thresholds,
): string | undefined {
  const id = kernel.identity;
  if (kernel.stage !== 'kernel')
    return `kernel-result holds a ${kernel.stage ?? 'all'} stage, not the kernel stage`;
  if (id.runner !== runner)
    return `kernel-result is ${id.runner}'s kernel stage, not this runner's (${runner})`;
  if (headSha && id.headSha && id.headSha !== headSha)
    return `kernel-result is the kernel stage of ${id.headSha}, not of ${headSha}`;
  if (kernel.cancelled) return `the kernel stage on ${runner} was cancelled (${kernel.cancelled.signal})`;
  const verdict = analyseRun(kernel, thresholds).verdict;
  if (verdict.exitCode !== 0 || verdict.verdict === 'failed')
    return `the kernel stage did not pass on ${runner}: ${verdict.failure ?? verdict.verdict}`;
  return undefined;
}
