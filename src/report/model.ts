// The analysed Report: every verdict, compared cell and kernel row a renderer, the exit code, the check run and
// nightly read. Built once per mode by analyseRuns (stats/analyse.ts); rendering only formats it. Types only.
import type { E2eCell, RunResult } from '../results/run-result.js';

export type CellVerdict =
  | 'improved'
  | 'regressed'
  | 'no-significant-change'
  | 'too-noisy'
  | 'insufficient-data';

export type OverallVerdict = 'passed' | 'failed' | CellVerdict | 'not-available';

export interface CellComparison {
  verdict: CellVerdict;
  /**
   * Relative change of the patched arm against the baseline, in %, with its raw sign: positive means the
   * patched metric is larger. Whether larger is better is the cell's `higherIsBetter`, which the verdict uses.
   * NaN when it cannot be computed.
   */
  deltaPct: number;
  /** interval of deltaPct (same sign convention); NaN when there are too few pairs */
  ciLow: number;
  ciHigh: number;
  /** Named for a re-run: one more run could change the verdict. */
  borderline: boolean;
  /** pairs used (repeat i of each arm, both finite and positive) */
  pairs: number;
  /** the interval's nominal level, in %: 95, or 97.5 for a cell that was re-run */
  levelPct: number;
  /** exact coverage of [ciLow, ciHigh], in % (at least levelPct) */
  confidencePct: number;
  baselineMedian: number;
  patchedMedian: number;
  /** why the verdict is insufficient-data, or why a call was withdrawn, when it is */
  reason?: string;
  /** sequential rule: the fitted order effect γ (the run second in a pair against the first), % */
  orderEffectPct?: number;
  /** sequential rule: SD of one pair's residual after the fit (the cell's own, before pooling), % */
  residualPct?: number;
  /** sequential rule: runs left out as stalled (a residual past STALL_SCALES pooled scales), by pair */
  stalled?: { pair: number; arm: 'baseline' | 'patched' }[];
}

export interface ComparedCell {
  cell: E2eCell;
  comparison: CellComparison;
}

export interface KernelRow {
  dtype: string;
  k: number;
  n: number;
  /** CUDA-graph replay medians, µs; NaN when that implementation was not measured */
  fusedUs: number;
  eagerUs: number;
  compileUs: number;
  /** eager ÷ fused and compile ÷ fused: above 1 means the fused kernel is faster */
  speedupVsEager: number;
  speedupVsCompile: number;
  /** the fused kernel's bandwidth as % of the copy bandwidth measured in the same run */
  fusedPctOfCopy: number;
  /** bytes ÷ copy bandwidth: no kernel can beat it, µs */
  floorUs: number;
}

export interface RunVerdict {
  verdict: OverallVerdict;
  exitCode: number;
  /** one line saying why exitCode is not 0 */
  failure?: string;
}

/** How e2e cells are judged; stored in the RunResult by validate so any later reader decides the same. */
export interface VerdictMethod {
  /** smallest relative change called improved or regressed, % */
  minEffectPct: number;
  /** level of a cell's first look, % */
  confidencePct: number;
  /** level once a cell was re-run, % */
  rerunConfidencePct: number;
  /**
   * confirmed: a called cell is re-run and stays called only when its fresh pairs agree (run-level error
   * control); per-cell: only borderline cells are re-run and a call needs no confirmation (RunResults written
   * before the method was recorded)
   */
  rule: 'confirmed' | 'per-cell' | 'sequential';
  /** sequential rule: pairs between looks */
  lookEvery?: number;
  /** sequential rule: most pairs a cell runs */
  maxPairs?: number;
  /** sequential rule: a cell is clear when its 95% interval rules out a change this large either way, % */
  clearPct?: number;
  /** sequential rule: false-call rate of a whole run, spent equally over its cells and looks, % */
  familyPct?: number;
}

export interface RooflineShape {
  dtype: string;
  k: number;
  n: number;
  /** x and out read, y written, the weight read once: 3·N·K·elt + K·elt (the microbench's bytes) */
  bytes: number;
}

export interface CardRoofline {
  card: string;
  target: string;
  gbps: number;
  source: 'published' | 'measured';
  /** floor per shape, µs, in the order of `shapes` */
  floorUs: number[];
}

export interface Roofline {
  shapes: RooflineShape[];
  cards: CardRoofline[];
}

export interface RunnerReport {
  result: RunResult;
  method: VerdictMethod;
  /** what differs from the method the GPU job recorded, in words, when the report overrode it */
  override?: string;
  verdict: RunVerdict;
  compared: ComparedCell[];
  rows: KernelRow[];
  /** the microbenchmark's base kernel against the head kernel per shape (a PR that changes a kernel) */
  kernelAb: ComparedCell[];
  /** the row a headline quotes */
  headline?: KernelRow;
  /** what the kernel's headline says: head against the base kernel when the base has one, else the serving shapes */
  kernelHeadline?: KernelHeadline;
  /** the gate's floor per card and shape: published bandwidth, or the copy ceiling measured here */
  roofline: Roofline;
}

/** Head kernel against the base kernel over the microbenchmark's shapes, judged like e2e cells. */
export interface KernelVsBase {
  shapes: number;
  slower: number;
  faster: number;
  /** the largest slowdown and speedup among the called shapes, % (head vs base, positive: slower) */
  worstPct: number;
  bestPct: number;
}

export type KernelHeadline =
  | { kind: 'vs-base'; vsBase: KernelVsBase }
  | {
      kind: 'serving';
      dtype: string;
      k: number;
      decode: KernelRow[];
      prefill?: KernelRow;
      geomeanEager: number;
      geomeanCompile: number;
      shapes: number;
    };

export interface Report {
  /** sorted by runner id */
  runners: RunnerReport[];
  /** across runners: the worst verdict wins, and the run fails when any runner's does */
  verdict: RunVerdict;
}
