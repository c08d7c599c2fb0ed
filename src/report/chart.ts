// Mermaid charts GitHub renders inline. Labels are reduced to a safe alphabet: mermaid has its own syntax. Pure.

export interface BarPoint {
  label: string;
  value: number;
  low?: number;
  high?: number;
}

/** Mermaid's quoted strings end at a quote and its directives start with %%; keep letters, digits and a few marks. */
export function mermaidLabel(text: string, max = 40): string {
  const safe = text
    .replace(/[^\p{L}\p{N} ./:×→_+(),-]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return Array.from(safe).slice(0, max).join('') || '?';
}

/** Beyond this |Δ%| a value is not a measurement a chart can show (and mermaid cannot parse 1e+308): left out. */
export const CHART_MAX_ABS = 1e6;
const plottable = (x: number | undefined): x is number =>
  x !== undefined && Number.isFinite(x) && Math.abs(x) <= CHART_MAX_ABS;
const num = (x: number | undefined) => (plottable(x) ? Number(x.toFixed(2)) : 0);

/**
 * A bar per point (Δ%) with two lines for the interval bounds, on a y axis symmetric around zero so the sign
 * reads at a glance: the chart's mermaid source, for a `mermaid` code block.
 */
export function deltaBarChart(title: string, yLabel: string, points: readonly BarPoint[]): string {
  const values = points.flatMap((p) => [p.value, p.low ?? 0, p.high ?? 0]).filter(plottable);
  const extent = Math.max(1, ...values.map((v) => Math.abs(v)));
  const limit = Math.ceil(extent * 1.1);
  const withInterval = points.some((p) => plottable(p.low));
  const lines = [
    'xychart-beta',
    `  title "${mermaidLabel(title, 80)}"`,
    `  x-axis [${points.map((p) => `"${mermaidLabel(p.label)}"`).join(', ')}]`,
    `  y-axis "${mermaidLabel(yLabel, 40)}" ${-limit} --> ${limit}`,
    `  bar [${points.map((p) => num(p.value)).join(', ')}]`,
  ];
  if (withInterval) {
    lines.push(`  line [${points.map((p) => num(p.low)).join(', ')}]`);
    lines.push(`  line [${points.map((p) => num(p.high)).join(', ')}]`);
  }
  return lines.join('\n');
}
