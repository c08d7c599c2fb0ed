// Per-card memory roofline of the gate: bytes moved over the card's bandwidth gives the floor in µs per shape.
// Published HBM bandwidth for cards not on the runner; on a runner with the card, the copy ceiling measured in
// the same run (the microbench's) replaces it. Pure.
import type { CardRoofline, Roofline } from '../report/model.js';
import type { RunResult } from '../results/run-result.js';

export interface Card {
  name: string;
  /** the compile matrix's target for this card */
  target: string;
  /** published peak HBM bandwidth, GB/s */
  publishedGbps: number;
  /** matches the device name torch reports */
  match: RegExp;
}

// Published peak HBM bandwidth, from each vendor's product page / datasheet:
// MI355X 8.0 TB/s: amd.com/en/products/accelerators/instinct/mi350/mi355x.html (HBM3E, 288 GB)
// MI300X 5.3 TB/s: amd.com/en/products/accelerators/instinct/mi300/mi300x.html (HBM3, 192 GB)
// H200 4.8 TB/s: nvidia.com/en-us/data-center/h200/ (H200 SXM, HBM3e 141 GB)
// H100 SXM 3.35 TB/s: nvidia.com/en-us/data-center/h100/ (H100 SXM, HBM3 80 GB; the PCIe card is slower)
// B200 8.0 TB/s: nvidia.com/en-us/data-center/hgx/ (HGX B200, per GPU, HBM3e)
export const CARDS: readonly Card[] = [
  { name: 'MI355X', target: 'gfx950', publishedGbps: 8000, match: /MI355X/i },
  { name: 'MI300X', target: 'gfx942', publishedGbps: 5300, match: /MI300X/i },
  { name: 'H200', target: 'sm_90', publishedGbps: 4800, match: /H200/i },
  { name: 'H100 SXM', target: 'sm_90', publishedGbps: 3350, match: /H100(?!.*(PCIe|NVL))/i },
  { name: 'B200', target: 'sm_100', publishedGbps: 8000, match: /B200/i },
];

const ELEMENT_BYTES: Record<string, number> = {
  bf16: 2,
  bfloat16: 2,
  fp16: 2,
  float16: 2,
  fp32: 4,
  float32: 4,
};

/** Qwen3-Next / Qwen3-30B (K = 2048) and Qwen3-235B (K = 4096) at a decode and a prefill batch. */
export const ROOFLINE_SHAPES: readonly { dtype: string; k: number; n: number }[] = [
  { dtype: 'bf16', k: 2048, n: 1024 },
  { dtype: 'bf16', k: 2048, n: 8192 },
  { dtype: 'bf16', k: 4096, n: 1024 },
  { dtype: 'bf16', k: 4096, n: 8192 },
];

export function shapeBytes(dtype: string, k: number, n: number): number {
  const elt = ELEMENT_BYTES[dtype] ?? 2;
  return 3 * n * k * elt + k * elt;
}

/** The floors of every known card, the runner's card on its measured copy ceiling when the microbench ran. */
export function rooflines(result: Pick<RunResult, 'device' | 'microbench'>): Roofline {
  const shapes = ROOFLINE_SHAPES.map((s) => ({ ...s, bytes: shapeBytes(s.dtype, s.k, s.n) }));
  const measured = result.microbench?.copyGbps;
  const here = CARDS.find((c) => c.match.test(result.device.name));
  const floors = (gbps: number) => shapes.map((s) => s.bytes / (gbps * 1e3));
  const cards: CardRoofline[] = CARDS.map((c) => {
    const onRunner = c === here && measured !== undefined;
    const gbps = onRunner ? measured : c.publishedGbps;
    return {
      card: c.name,
      target: c.target,
      gbps,
      source: onRunner ? 'measured' : 'published',
      floorUs: floors(gbps),
    };
  });
  if (!here && measured !== undefined && result.device.vendor !== 'cpu') {
    cards.push({
      card: result.device.name,
      target: '',
      gbps: measured,
      source: 'measured',
      floorUs: floors(measured),
    });
  }
  return { shapes, cards };
}
