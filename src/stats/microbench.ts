// Microbenchmark: speedup of the fused kernel over eager and torch.compile per (dtype, K, N), and its place
// against the memory roofline measured in the same run. Pure.
import type { KernelRow } from '../report/model.js';
import type { Microbench, MicrobenchCell } from '../results/run-result.js';

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
