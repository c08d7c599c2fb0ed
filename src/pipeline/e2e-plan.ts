// The vllm-serve A/B planned before it runs: cells, counterbalanced order, prompts per run, server starts, swap method, minutes. Pure.
import type { WorkloadShape } from '../config.js';
import { type ArmKey, counterbalancedOrder } from '../stats/arm-order.js';
import { defaultMethod } from '../stats/e2e.js';
import { lookSettings } from '../stats/sequential.js';
import { simulateRuns } from '../stats/simulate.js';

export { ARM_KEYS, type ArmKey, blocksUsed, counterbalancedOrder } from '../stats/arm-order.js';

/** One arm as the caller defines it: what the report calls it and the environment its server runs with. */
export interface ArmSpec {
  label: string;
  env: Record<string, string>;
  /** what its server should run: the op under test, or the original expression (checked by the arm probe) */
  claims: 'fused' | 'original';
  /** working directory of its server (a base or head worktree); the run's own when absent */
  cwd?: string;
}
export type ServeArms = Record<ArmKey, ArmSpec>;

/** The switch the bundle's patched call sites read: 0 runs vLLM's own gate, 1 the fused kernel. */
export const GATE_ENV = 'VLLM_FUSED_SHARED_EXPERT_GATE';

/** The bundle kernel's arms: the gate switch off against on (both off for an A/A run). */
export function gateSwitchArms(aa = false): ServeArms {
  return {
    baseline: { label: `${GATE_ENV}=0`, env: { [GATE_ENV]: '0' }, claims: 'original' },
    patched: {
      label: `${GATE_ENV}=${aa ? '0' : '1'}`,
      env: { [GATE_ENV]: aa ? '0' : '1' },
      claims: aa ? 'original' : 'fused',
    },
  };
}

/**
 * resident: both servers up at once, each with its share of GPU memory; sleep: vLLM's sleep mode (level 1)
 * parks the idle arm; restart: the idle arm's server is stopped and the other started.
 */
export type SwapMethod = 'resident' | 'sleep' | 'restart';
export const SWAP_METHODS: readonly SwapMethod[] = ['resident', 'sleep', 'restart'];

/** Fraction of GPU memory the servers may take together (vLLM's own default for one server). */
export const GPU_MEMORY_SHARE = 0.9;

export function cellId(shape: WorkloadShape, concurrency: number): string {
  return `in${shape.inputLen}-out${shape.outputLen}-c${concurrency}`;
}

export function defaultNumPrompts(concurrency: number): number {
  return Math.max(16, 4 * concurrency);
}

/** --max-model-len: the largest shape's prompt and output, with room for the few tokens a template adds. */
export function maxModelLen(shapes: WorkloadShape[]): number {
  return Math.max(...shapes.map((s) => s.inputLen + s.outputLen)) + 256;
}

/** Output throughput (tok/s) of one model on one card, from which the minutes of a plan follow. */
export interface ThroughputRates {
  /** where the figures come from, one line for the plan */
  source: string;
  card: string;
  cardMemoryGiB: number;
  /** model weights, GiB, for the fits-twice check */
  weightsGiB: number;
  /** baseline output tok/s by shape, at `concurrency` (`referenceConcurrency` when absent) */
  points: { inputLen: number; outputLen: number; concurrency?: number; tokPerS: number }[];
  referenceConcurrency: number;
  /** tok/s scale as (c / reference)^exponent away from the reference concurrency */
  concurrencyExponent: number;
  /** loading, compiling and capturing CUDA graphs once; assumed, replace with a runner's own figure */
  serverStartMinutes: number;
  /** sleeping one arm and waking the other (level 1); assumed */
  sleepSwapSeconds: number;
  /** wall seconds of one bench run beyond its requests (the client's start); 0 where not measured */
  clientStartSeconds?: number;
  /**
   * the run-to-run CV of one bench run, %, that a run on the runner measured (its baseline arm, pooled over its
   * cells); absent: not measured, and the warm-up's tolerance is the assumed STEADY_TOLERANCE_PCT
   */
  runCvPct?: number;
  /** which of the two timings a run on the runner measured (e2e-rates); absent: both assumed */
  measuredTimings?: { serverStart: boolean; sleepSwap: boolean };
  /** how that run swapped arms on the runner: what a plan made away from the runner (--plan) assumes */
  swapUsed?: SwapMethod;
}

/**
 * Published figures for Qwen3-Next-80B-A3B-Instruct-FP8 on one MI355X (TP 1, vLLM 0.19.1, concurrency 16, baseline).
 * The exponent 0.73 fits the same source's 1024/1024 sweep (mean 1801.48 tok/s over concurrencies 4, 16, 32, 64).
 */
export const PUBLISHED_MI355X_QWEN3_NEXT: ThroughputRates = {
  source:
    'published MI355X figures for Qwen3-Next-80B-A3B-Instruct-FP8 (TP 1, vLLM 0.19.1, baseline, concurrency 16)',
  card: 'AMD Instinct MI355X',
  cardMemoryGiB: 288,
  weightsGiB: 80,
  points: [
    { inputLen: 1024, outputLen: 1024, tokPerS: 1243.82 },
    { inputLen: 1024, outputLen: 8192, tokPerS: 996.55 },
    { inputLen: 8192, outputLen: 1024, tokPerS: 538.68 },
    { inputLen: 8192, outputLen: 8192, tokPerS: 663.87 },
  ],
  referenceConcurrency: 16,
  concurrencyExponent: 0.73,
  serverStartMinutes: 10,
  sleepSwapSeconds: 20,
};

export const DEFAULT_SERVE_MODEL = 'Qwen/Qwen3-Next-80B-A3B-Instruct-FP8';

/** The rates a plan assumes for a model: the published table for the default model, else the same table, said so. */
export function ratesFor(model: string): { rates: ThroughputRates; assumed: boolean } {
  return { rates: PUBLISHED_MI355X_QWEN3_NEXT, assumed: model !== DEFAULT_SERVE_MODEL };
}

/**
 * Output tok/s at one shape and concurrency: the nearest known shape (log scale), at its nearest concurrency,
 * scaled by concurrency from there.
 */
export function throughputAt(rates: ThroughputRates, shape: WorkloadShape, concurrency: number): number {
  const distance = (p: { inputLen: number; outputLen: number }) =>
    Math.abs(Math.log(p.inputLen / shape.inputLen)) + Math.abs(Math.log(p.outputLen / shape.outputLen));
  const at = (p: { concurrency?: number }) => p.concurrency ?? rates.referenceConcurrency;
  const apart = (p: { concurrency?: number }) => Math.abs(Math.log(at(p) / concurrency));
  const nearest = [...rates.points].sort((a, b) => distance(a) - distance(b) || apart(a) - apart(b))[0];
  return nearest.tokPerS * (concurrency / at(nearest)) ** rates.concurrencyExponent;
}

/** Seconds of one `vllm bench serve` run: a warm-up wave of `concurrency` requests, then the prompts. */
export function runSeconds(
  rates: ThroughputRates,
  shape: WorkloadShape,
  concurrency: number,
  prompts: number,
): number {
  return (
    ((concurrency + prompts) * shape.outputLen) / throughputAt(rates, shape, concurrency) +
    (rates.clientStartSeconds ?? 0)
  );
}

/** Which swap the card allows: both servers when each share holds the weights 1.5 times over (KV cache), else sleep. */
export function chooseSwap(o: {
  cardMemoryGiB: number | undefined;
  weightsGiB: number | undefined;
  tensorParallelSize: number;
  vendor?: string;
}): { method: SwapMethod; why: string } {
  if (o.vendor && o.vendor !== 'nvidia' && o.vendor !== 'amd')
    return { method: 'restart', why: `sleep mode needs a CUDA or ROCm card, not ${o.vendor}` };
  if (o.cardMemoryGiB === undefined || o.weightsGiB === undefined)
    return { method: 'sleep', why: 'the weights or the card memory are unknown, so one server at a time' };
  const share = (o.cardMemoryGiB * GPU_MEMORY_SHARE) / 2;
  const need = (1.5 * o.weightsGiB) / o.tensorParallelSize;
  const sizes = `${need.toFixed(0)} GiB a server (weights × 1.5 / TP) against a share of ${share.toFixed(0)} GiB`;
  return need <= share
    ? { method: 'resident', why: `the model fits twice: ${sizes}` }
    : { method: 'sleep', why: `the model does not fit twice: ${sizes}` };
}

export interface PlannedCell {
  id: string;
  inputLen: number;
  outputLen: number;
  concurrency: number;
  /** estimated from the rates; with a minimum run length the runner re-sizes it from its first warm-up */
  promptsPerRun: number;
  /** seconds of requests a run lasts at least (the budget's cuts included) */
  minRunSeconds?: number;
  /** runs of both arms together, at the expected pairs */
  runs: number;
  /** at the expected pairs */
  estimatedMinutes: number;
  /** why it will not run (the budget); absent for a cell that runs */
  dropped?: string;
}

export interface E2ePlan {
  model: string;
  swap: SwapMethod;
  swapWhy: string;
  /** pairs a cell the budget pays for (the sequential rule spends them over its looks); the asked repeats without one */
  repeats: number;
  /** the sequential rule's look size and most pairs a cell */
  lookEvery: number;
  maxPairs: number;
  /** mean pairs a cell runs under the sequential rule at 2% CV in an A/A run (simulate's meanPairsPerCell) */
  expectedPairs: number;
  /** the arm order of a cell's first look; later looks go on with it */
  order: ArmKey[];
  /** every cell of the grid, in grid order; a dropped one says why and has no runs */
  cells: PlannedCell[];
  runs: number;
  serverStarts: number;
  swaps: number;
  /** at the expected pairs */
  estimatedMinutes: number;
  /** when every cell runs the pairs the budget pays for (`repeats`; `maxPairs` without a budget) */
  mostMinutes: number;
  budgetMinutes?: number;
  /** what the budget cut, in order, one sentence each */
  fitted: string[];
  rates: string;
  assumptions: string[];
  /** the rates were measured on a runner (e2e-rates); otherwise the minutes are an estimate from published figures */
  fromRunner: boolean;
}

/**
 * Two consecutive warm-up runs of an arm within this much of each other: the server is in its steady state.
 * Assumed, for a runner whose noise is not known yet (see steadyTolerancePct).
 */
export const STEADY_TOLERANCE_PCT = 2;
/** The tolerance's bounds when it comes from a measured noise: tighter than 0.5% is below what a run resolves. */
const STEADY_BOUNDS_PCT = [0.5, 5] as const;

/**
 * How close two consecutive warm-up runs must be: within the runner's own noise when a run there measured it
 * (`e2e-rates`), as 2√2 × its run-to-run CV (two runs' difference at two SDs), bounded to 0.5–5%; else the assumed
 * STEADY_TOLERANCE_PCT. A fixed 2% on a runner whose noise is 0.2% lets a warm-up curve through; on one whose
 * noise is 3% it warms up to the limit every cell.
 */
export function steadyTolerancePct(rates: Pick<ThroughputRates, 'runCvPct'>): {
  pct: number;
  why: string;
} {
  const cv = rates.runCvPct;
  if (cv === undefined || !(cv > 0)) return { pct: STEADY_TOLERANCE_PCT, why: 'assumed' };
  const [low, high] = STEADY_BOUNDS_PCT;
  const pct = round2(Math.min(high, Math.max(low, 2 * Math.SQRT2 * cv)));
  return { pct, why: `2√2 × the ${round2(cv)}% run-to-run CV the earlier run measured` };
}
/** Warm-up runs of one arm in one cell at most; the cell's drift check judges what is left. */
export const MAX_WARMUPS = 6;

export interface PlanInput {
  model: string;
  shapes: WorkloadShape[];
  concurrencies: number[];
  repeats: number;
  swap: { method: SwapMethod; why: string };
  rates: ThroughputRates;
  ratesAssumed?: boolean;
  budgetMinutes?: number;
  numPrompts?: (concurrency: number) => number;
  /** seconds of requests a run lasts at least (prompts follow from the throughput) */
  runSeconds?: number;
  /** each arm warms up on each cell before its samples (the vllm-serve runner does) */
  warmup?: boolean;
  /** the minimum effect the looks judge by (2% when absent), for the expected pairs */
  minEffectPct?: number;
}

/** Warm-up runs of one arm in one cell, in full-run equivalents, as the plan counts them: half-length runs until two agree. */
export const WARMUP_RUN_EQUIVALENTS = 1;

/**
 * Prompts of one run: the concurrency's prompt count, or enough for `minSeconds` of requests at `tokPerS` when that
 * is more, scaled by the budget's factor; never below one wave of the concurrency.
 */
export function promptsForRun(
  shape: WorkloadShape,
  concurrency: number,
  tokPerS: number,
  o: { numPrompts: (concurrency: number) => number; factor: number; minSeconds?: number },
): number {
  const byTime = o.minSeconds !== undefined ? Math.ceil((o.minSeconds * tokPerS) / shape.outputLen) : 0;
  const byCount = Math.round(o.numPrompts(concurrency) * o.factor);
  return Math.max(concurrency, byCount, byTime);
}

/** Arm changes in one cell's order (a swap each), plus the one into the next cell when it starts on the other arm. */
function swapsIn(order: ArmKey[], cells: number): number {
  let swaps = 0;
  for (let i = 1; i < order.length; i++) if (order[i] !== order[i - 1]) swaps++;
  const join = order[0] !== order.at(-1) ? 1 : 0;
  return cells * swaps + Math.max(0, cells - 1) * join;
}

interface Sizing {
  promptFactor: number;
  repeats: number;
  /** per grid cell: why it is dropped, or undefined when it runs */
  dropped: (string | undefined)[];
}

type Built = Omit<
  E2ePlan,
  'fitted' | 'budgetMinutes' | 'expectedPairs' | 'mostMinutes' | 'lookEvery' | 'maxPairs' | 'repeats'
>;

/** The plan's cells and minutes when every running cell runs `pairs` pairs. */
function build(input: PlanInput, sizing: Sizing, pairs: number): Built {
  const numPrompts = input.numPrompts ?? defaultNumPrompts;
  const order = counterbalancedOrder(Math.max(1, Math.round(pairs)));
  const grid = input.shapes.flatMap((shape) =>
    input.concurrencies.map((concurrency) => ({ shape, concurrency })),
  );
  const all: PlannedCell[] = grid.map(({ shape, concurrency }, i) => {
    const minSeconds = input.runSeconds !== undefined ? input.runSeconds * sizing.promptFactor : undefined;
    const promptsPerRun = promptsForRun(shape, concurrency, throughputAt(input.rates, shape, concurrency), {
      numPrompts,
      factor: sizing.promptFactor,
      minSeconds,
    });
    const perRun = runSeconds(input.rates, shape, concurrency, promptsPerRun);
    const warmupRuns = input.warmup ? 2 * WARMUP_RUN_EQUIVALENTS : 0;
    const seconds = (2 * pairs + warmupRuns) * perRun;
    const dropped = sizing.dropped[i];
    return {
      id: cellId(shape, concurrency),
      inputLen: shape.inputLen,
      outputLen: shape.outputLen,
      concurrency,
      promptsPerRun,
      ...(minSeconds !== undefined ? { minRunSeconds: round1(minSeconds) } : {}),
      runs: dropped ? 0 : round1(2 * pairs),
      estimatedMinutes: dropped ? 0 : round1(seconds / 60),
      ...(dropped ? { dropped } : {}),
    };
  });
  const cells = all.filter((c) => !c.dropped);
  const method = input.swap.method;
  // restart runs every cell in one server visit, so a server per arm change of the order
  const swaps = method === 'restart' ? swapsIn(order, 1) : swapsIn(order, cells.length);
  const serverStarts = method === 'restart' ? swaps + 1 : 2;
  const swapMinutes = method === 'sleep' ? (swaps * input.rates.sleepSwapSeconds) / 60 : 0;
  const startMinutes = serverStarts * input.rates.serverStartMinutes;
  const cellMinutes = cells.reduce((s, c) => s + c.estimatedMinutes, 0);
  const steady = steadyTolerancePct(input.rates);
  return {
    model: input.model,
    swap: method,
    swapWhy: input.swap.why,
    order: counterbalancedOrder(lookSettings(defaultMethod(2)).lookEvery),
    cells: all,
    runs: round1(cells.length * 2 * pairs),
    serverStarts,
    swaps,
    estimatedMinutes: round1(cellMinutes + startMinutes + swapMinutes),
    rates: `${input.rates.source}${input.ratesAssumed ? `; assumed for ${input.model}, which has no figures of its own` : ''}`,
    assumptions: [
      input.rates.measuredTimings
        ? `output tok/s scales as concurrency^${input.rates.concurrencyExponent} away from a measured concurrency`
        : `output tok/s scales as (concurrency / ${input.rates.referenceConcurrency})^${input.rates.concurrencyExponent} away from the published concurrency`,
      timingsLine(input.rates),
      'each run adds a warm-up wave of `concurrency` requests',
      "a cell's runs are the sequential rule's expected pairs in an A/A run at 2% CV; a changed or noisy cell runs more, as far as the budget pays",
      ...(input.warmup
        ? [
            `each arm warms up on each cell until two warm-up runs agree within ${steady.pct}% (${steady.why}; planned as ${WARMUP_RUN_EQUIVALENTS} full run${WARMUP_RUN_EQUIVALENTS === 1 ? '' : 's'} an arm)`,
          ]
        : []),
    ],
    fromRunner: Boolean(input.rates.measuredTimings),
  };
}

function timingsLine(rates: ThroughputRates): string {
  const m = rates.measuredTimings;
  const start = `a server start (weights, compile, CUDA graphs) takes ${rates.serverStartMinutes} min`;
  const swap = `a sleep-mode swap ${rates.sleepSwapSeconds} s`;
  const client =
    rates.clientStartSeconds !== undefined
      ? `; the bench client's start ${rates.clientStartSeconds} s a run (measured)`
      : "; the bench client's imports are paid once (a bench session forks a run from them; the CLI paid 20–30 s a run on an H200), the rest of its start is not counted";
  if (!m) return `${start}; ${swap} (assumed, not measured)${client}`;
  const how = (measured: boolean) => (measured ? 'measured' : 'assumed');
  return `${start} (${how(m.serverStart)}); ${swap} (${how(m.sleepSwap)})${client}`;
}

export function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/**
 * The plan, fitted to a budget when one is given: first fewer prompts per run (never below one wave of
 * `concurrency`), then fewer repeats (not below MIN_BUDGET_PAIRS), then dropping the most expensive cells
 * first.
 */
export function planServeAb(input: PlanInput): E2ePlan {
  const size = input.shapes.length * input.concurrencies.length;
  const sizing: Sizing = { promptFactor: 1, repeats: input.repeats, dropped: Array(size).fill(undefined) };
  const fitted: string[] = [];
  const budget = input.budgetMinutes;
  // the budget must pay for the pairs asked for in every cell: what the looks spend when no cell stops early
  const fits = (s: Sizing) => budget === undefined || build(input, s, s.repeats).estimatedMinutes <= budget;
  if (!fits(sizing)) {
    const full = build(input, sizing, sizing.repeats);
    let factor = 1;
    while (factor > 0.05 && !fits({ ...sizing, promptFactor: factor })) factor = round2(factor - 0.05);
    sizing.promptFactor = factor;
    const floor = Math.min(input.repeats, MIN_BUDGET_PAIRS);
    while (sizing.repeats > floor && !fits(sizing)) sizing.repeats--;
    const dropped: string[] = [];
    while (sizing.dropped.filter((d) => !d).length > 1 && !fits(sizing)) {
      const cells = build(input, sizing, sizing.repeats).cells;
      const costliest = cells
        .filter((c) => !c.dropped)
        .reduce((x, y) => (y.estimatedMinutes > x.estimatedMinutes ? y : x));
      sizing.dropped[cells.indexOf(costliest)] =
        `not run (budget): ${costliest.estimatedMinutes} min planned`;
      dropped.push(costliest.id);
    }
    // what dropping freed goes back: repeats first, then prompts
    while (sizing.repeats < input.repeats && fits({ ...sizing, repeats: sizing.repeats + 1 }))
      sizing.repeats++;
    while (sizing.promptFactor < 1 && fits({ ...sizing, promptFactor: round2(sizing.promptFactor + 0.05) }))
      sizing.promptFactor = round2(sizing.promptFactor + 0.05);
    const now = build(input, sizing, sizing.repeats).cells.filter((c) => !c.dropped);
    const perConcurrency = (cells: PlannedCell[]) =>
      [...new Map(cells.map((c) => [c.concurrency, `c${c.concurrency} ${c.promptsPerRun}`])).values()].join(
        ', ',
      );
    if (sizing.promptFactor < 1)
      fitted.push(
        `prompts per run cut to ${perConcurrency(now)} (from ${perConcurrency(full.cells)}; never below one wave of the concurrency)`,
      );
    if (sizing.repeats < input.repeats)
      fitted.push(
        `repeats cut to ${sizing.repeats} (from ${input.repeats}): the pairs a cell the budget pays for`,
      );
    if (dropped.length > 0)
      fitted.push(
        `dropped ${dropped.length} of ${size} cells, the most expensive first: ${dropped.join(', ')}`,
      );
  }
  const { lookEvery, maxPairs } = lookSettings(defaultMethod(input.minEffectPct ?? 2));
  const running = sizing.dropped.filter((d) => !d).length;
  const budgetPairs = budget === undefined ? undefined : sizing.repeats;
  const most = build(input, sizing, budgetPairs ?? maxPairs);
  const expectedPairs = expectedPairsPerCell(running, budgetPairs, input.minEffectPct ?? 2);
  const plan = build(input, sizing, expectedPairs);
  if (budget !== undefined && most.estimatedMinutes > budget)
    fitted.push(
      `even one cell at the fewest prompts and repeats needs ${most.estimatedMinutes} min, over the budget`,
    );
  return {
    ...plan,
    repeats: sizing.repeats,
    lookEvery,
    maxPairs,
    expectedPairs,
    mostMinutes: most.estimatedMinutes,
    fitted,
    budgetMinutes: budget,
  };
}

/**
 * Fewest pairs a cell the budget is cut to before cells are dropped (or the asked repeats, when fewer). Below 10 a
 * −5% change in one cell goes unfound too often when the patched arm is twice as noisy as the baseline, because
 * then the null cells stay open too and the changed one cannot get the pairs it needs: `simulate --cv 2
 * --cv-patched 4 --effect -5 --cells 8 --pairs P` finds it in 85.5% of runs at 8 pairs, 89.8% at 9 and 92.1% at 10
 * (4,000 seeded runs each; 90.3% and up at 10 for 5 to 10 cells). The plan's power line gives that figure.
 */
const MIN_BUDGET_PAIRS = 10;

/**
 * Mean pairs a cell of an A/A run at 2% CV under the sequential rule, with a budget of `pairs` a cell when given:
 * `vllm-kernel-ci simulate --cells N [--pairs P] --cv 2`'s meanPairsPerCell (2,000 seeded runs, two decimals).
 */
export function expectedPairsPerCell(cells: number, pairs: number | undefined, minEffectPct: number): number {
  if (cells === 0) return 0;
  const o = simulateRuns({ cells, pairs: pairs ?? 0, cvPct: 2, minEffectPct, trials: 2_000 });
  return round2(o.meanPairsPerCell);
}

export function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** The cells that will run. */
export function running(plan: E2ePlan): PlannedCell[] {
  return plan.cells.filter((c) => !c.dropped);
}

/** The plan as lines for a terminal or a log. */
export function describePlan(plan: E2ePlan): string[] {
  const lines = [
    `e2e plan (vllm-serve, ${plan.model}): ${running(plan).length} of ${plan.cells.length} cells, a look every ${plan.lookEvery} pairs (order ${plan.order
      .map((a) => (a === 'baseline' ? 'A' : 'B'))
      .join(
        ' ',
      )}, going on), at most ${plan.maxPairs} pairs a cell${plan.budgetMinutes !== undefined ? `, ${plan.repeats} a cell paid for by the budget` : ''}; ${plan.expectedPairs.toFixed(2)} pairs a cell expected (an A/A run at 2% CV)`,
    `swap: ${plan.swap} (${plan.swapWhy}); ${plan.serverStarts} server starts, ${plan.swaps} swaps`,
    'cell                     prompts/run  runs  minutes',
    ...plan.cells.map((c) =>
      c.dropped
        ? `${c.id.padEnd(24)} ${c.dropped}`
        : `${c.id.padEnd(24)} ${String(c.promptsPerRun).padStart(11)}  ${String(c.runs).padStart(4)}  ${c.estimatedMinutes.toFixed(1).padStart(7)}`,
    ),
    `estimated ${plan.estimatedMinutes} min in total at the expected pairs, at most ${plan.mostMinutes} min${plan.budgetMinutes !== undefined ? ` (budget ${plan.budgetMinutes} min)` : ''}${plan.fromRunner ? '' : ': an estimate from published figures, not measured on this runner (e2e-rates takes a run that was)'}`,
    ...plan.fitted.map((f) => `budget: ${f}`),
    `rates: ${plan.rates}`,
    ...plan.assumptions.map((a) => `assumed: ${a}`),
  ];
  return lines;
}
