// Microbenchmark: speedup of the fused kernel over eager and torch.compile per (dtype, K, N), and its place
// against the memory roofline measured in the same run. Pure.
import type { KernelRow } from '../report/model.js';
import type { E2eCell, Microbench, MicrobenchCell } from '../results/run-result.js';

export type { KernelRow } from '../report/model.js';

const key = (c: Pick<MicrobenchCell, 'dtype' | 'k' | 'n'>) => `${c.dtype}\u0000${c.k}\u0000${c.n}`;

/** One row per (dtype, K, N), ordered by dtype, then K, then N. */
export function kernelRows(microbench: Microbench): KernelRow[] {
  const groups = new Map<string, Partial<Record<MicrobenchCell['impl'], MicrobenchCell>>>();
  for (const cell of microbench.cells) {
    const group = groups.get(key(cell)) ?? {};
    group[cell.impl] = cell;
    groups.set(key(cell), group);
  }
  const rows: KernelRow[] = [];
  for (const group of groups.values()) {
    const any = (group.fused ?? group.eager ?? group.compile) as MicrobenchCell;
    const us = (c?: MicrobenchCell) => (c && c.graphUs.median > 0 ? c.graphUs.median : Number.NaN);
    const fusedUs = us(group.fused);
    const eagerUs = us(group.eager);
    const compileUs = us(group.compile);
    rows.push({
      dtype: any.dtype,
      k: any.k,
      n: any.n,
      fusedUs,
      eagerUs,
      compileUs,
      speedupVsEager: eagerUs / fusedUs,
      speedupVsCompile: compileUs / fusedUs,
      fusedPctOfCopy: group.fused ? group.fused.pctOfCopy : Number.NaN,
      // GB/s = 1e3 bytes/µs
      floorUs: any.bytes / (microbench.copyGbps * 1e3),
    });
  }
  return rows.sort((a, b) => a.dtype.localeCompare(b.dtype) || a.k - b.k || a.n - b.n);
}

const isBf16 = (dtype: string) => /^(torch\.)?(bf16|bfloat16)$/.test(dtype);

/** The row a headline quotes: bf16 first, then the largest N and K measured (the memory-bound regime). */
export function headlineRow(rows: readonly KernelRow[]): KernelRow | undefined {
  const measured = rows.filter(
    (r) => Number.isFinite(r.speedupVsEager) || Number.isFinite(r.speedupVsCompile),
  );
  if (measured.length === 0) return undefined;
  return [...measured].sort(
    (a, b) => Number(isBf16(b.dtype)) - Number(isBf16(a.dtype)) || b.n - a.n || b.k - a.k,
  )[0];
}

/** The microbenchmark rows that serve: decode batches and one prefill size, and the geometric mean over the grid. */
export interface ServingHeadline {
  dtype: string;
  k: number;
  decode: KernelRow[];
  prefill?: KernelRow;
  /** geometric means of eager ÷ fused and compile ÷ fused over every measured row (NaN when none) */
  geomeanEager: number;
  geomeanCompile: number;
  shapes: number;
}

/** Tokens per gate call the e2e ran: decode batches and prefill sizes (vllm-serve and model cells alike). */
export function servingTokens(cells: readonly E2eCell[]): { decode: number[]; prefill: number[] } {
  const decode = new Set<number>();
  const prefill = new Set<number>();
  const num = (v: unknown) => (typeof v === 'number' && v > 0 ? v : Number(v) > 0 ? Number(v) : undefined);
  for (const c of cells) {
    const p = c.params;
    const concurrency = num(p.concurrency ?? p.max_concurrency);
    const input = num(p.input_len ?? p.random_input_len);
    if (concurrency) decode.add(concurrency);
    if (input) prefill.add(input);
    const batch = num(p.batch);
    if (batch && /^decode/.test(c.id)) decode.add(batch);
    const seq = num(p.seq);
    if (batch && seq && /^prefill/.test(c.id)) prefill.add(batch * seq);
  }
  return { decode: [...decode].sort((a, b) => a - b), prefill: [...prefill].sort((a, b) => a - b) };
}

// without an e2e: vLLM's smallest CUDA-graph decode batches and its default chunked-prefill budget
const DEFAULT_SERVING = { decode: [1, 8, 64], prefill: [8192] };

const geomean = (xs: number[]) =>
  xs.length === 0 ? Number.NaN : Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length);

/**
 * The headline of a kernel with no base kernel: the rows nearest the decode batches and the smallest prefill
 * size of the e2e (bf16 first, the smallest K), and the geometric mean of the speedups over the grid.
 */
export function servingHeadline(
  rows: readonly KernelRow[],
  cells: readonly E2eCell[] = [],
): ServingHeadline | undefined {
  const measured = rows.filter((r) => Number.isFinite(r.speedupVsEager));
  if (measured.length === 0) return undefined;
  const dtype = measured.some((r) => isBf16(r.dtype))
    ? measured.find((r) => isBf16(r.dtype))?.dtype
    : measured[0].dtype;
  const slice = measured.filter((r) => r.dtype === dtype);
  const k = Math.min(...slice.map((r) => r.k));
  const line = slice.filter((r) => r.k === k).sort((a, b) => a.n - b.n);
  const seen = servingTokens(cells);
  const wanted = seen.decode.length || seen.prefill.length ? seen : DEFAULT_SERVING;
  const nearest = (n: number) =>
    line.reduce((best, r) =>
      Math.abs(Math.log(Math.max(r.n, 1) / n)) < Math.abs(Math.log(Math.max(best.n, 1) / n)) ? r : best,
    );
  const decode = [...new Set(wanted.decode.map(nearest))];
  const prefill = wanted.prefill.length ? nearest(wanted.prefill[0]) : undefined;
  return {
    dtype: dtype as string,
    k,
    decode,
    ...(prefill && !decode.includes(prefill) ? { prefill } : {}),
    geomeanEager: geomean(measured.map((r) => r.speedupVsEager)),
    geomeanCompile: geomean(measured.map((r) => r.speedupVsCompile).filter(Number.isFinite)),
    shapes: measured.length,
  };
}
