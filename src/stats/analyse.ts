// RunResults → the analysed Report every mode reads: each runner's method, judged cells, kernel rows and
// verdict, and the verdict across runners. Built once per mode. Pure.
import type { Report, RunnerReport, VerdictMethod } from '../report/model.js';
import type { RunResult } from '../results/run-result.js';
import { compareCell, judgeE2e } from './e2e.js';
import { headlineRow, kernelRows } from './microbench.js';
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

export function analyseRun(result: RunResult, thresholds: Thresholds): RunnerReport {
  const { method, firstRound, override } = methodFor(result, thresholds);
  const compared = result.e2e ? judgeE2e(result.e2e, method, firstRound) : [];
  const rows = result.microbench ? kernelRows(result.microbench) : [];
  return {
    result,
    method,
    override,
    verdict: overallVerdict(
      result,
      { ...thresholds, method, firstRound },
      compared.map((c) => c.comparison),
    ),
    compared,
    rows,
    headline: headlineRow(rows),
    kernelAb: (result.microbench?.ab ?? []).map((cell) => ({
      cell,
      comparison: compareCell(cell, method),
    })),
    roofline: rooflines(result),
  };
}

export function analyseRuns(results: readonly RunResult[], thresholds: Thresholds): Report {
  const runners = [...results]
    .sort((a, b) => a.identity.runner.localeCompare(b.identity.runner))
    .map((r) => analyseRun(r, thresholds));
  return { runners, verdict: combineVerdicts(runners.map((r) => r.verdict)) };
}
