// The compile matrix and the per-card roofline in a runner's section: a compact row per target, each target's
// configurations behind a fold, and the floor per shape on each card. Pure.
import type { CompileConfig, CompileTarget } from '../results/compile-matrix.js';
import type { RunResult } from '../results/run-result.js';
import { cuttable } from './budget.js';
import { inert } from './escape.js';
import { DASH, micros, plain } from './format.js';
import { type Block, code, codeBlock, details, heading, paragraph, strong, table } from './markdown.js';
import type { Roofline } from './model.js';

/** The cards each target stands for. */
const TARGET_CARDS: Record<string, string> = {
  gfx950: 'MI355X',
  gfx942: 'MI300X',
  sm_80: 'A100',
  sm_89: 'L40S',
  sm_90: 'H100, H200',
  sm_100: 'B200',
  sm_120: 'RTX 50, RTX PRO 6000',
};

const STATUS_MARK: Record<CompileTarget['status'] | CompileConfig['status'], string> = {
  ok: '✅',
  failed: '❌',
  error: '❌',
  spill: '❌',
  unavailable: '⏸️',
};

function range(values: (number | null | undefined)[]): string {
  const xs = values.filter((v): v is number => typeof v === 'number');
  if (xs.length === 0) return DASH;
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  return lo === hi ? String(lo) : `${lo}–${hi}`;
}

/** "16 B ×3" per width, widest first. */
function widths(accesses: Record<string, number> | undefined): string {
  if (!accesses || Object.keys(accesses).length === 0) return DASH;
  return Object.entries(accesses)
    .sort((a, b) => Number(b[0]) - Number(a[0]))
    .map(([w, n]) => `${w} B ×${n}`)
    .join(', ');
}

function summaryRow(t: CompileTarget): string[] {
  const card = TARGET_CARDS[t.target] ?? '';
  if (t.status === 'unavailable') {
    return [
      inert(t.target, 20),
      card,
      `${STATUS_MARK.unavailable} ${inert(t.reason ?? 'not compiled', 120)}`,
    ];
  }
  const ok = t.configs.filter((c) => c.status !== 'error');
  const spilling = ok.filter((c) => (c.spills ?? 0) > 0).length;
  const errors = t.configs.length - ok.length;
  const wide = ok.filter((c) => c.vector16).length;
  const regs = range(ok.map((c) => c.registers));
  const status =
    t.status === 'ok'
      ? `${STATUS_MARK.ok} ok`
      : `${STATUS_MARK.failed} ${[errors ? `${errors} do not compile` : '', spilling ? `${spilling} spill` : ''].filter(Boolean).join(', ')}`;
  return [
    inert(t.target, 20),
    card,
    status,
    String(t.configs.length),
    t.backend === 'hip' ? `${regs} VGPR` : regs,
    range(ok.map((c) => c.spills)),
    range(ok.map((c) => c.sharedBytes)),
    `${wide}/${ok.length}${wide < ok.length ? ' ⚠️' : ''}`,
    `${t.configs.reduce((s, c) => s + c.compileSeconds, 0).toFixed(1)} s`,
  ];
}

function targetDetails(t: CompileTarget): Block[] {
  const rows = [
    ['configuration', 'K', 'status', 'registers', 'spills', 'shared B', 'loads', 'stores', 'compile'],
  ];
  for (const c of t.configs) {
    const regs =
      t.backend === 'hip'
        ? `${c.registers ?? DASH} VGPR, ${c.sgprs ?? DASH} SGPR`
        : String(c.registers ?? DASH);
    rows.push([
      inert(c.id, 80),
      c.k.join(', '),
      `${STATUS_MARK[c.status]} ${c.status}`,
      c.status === 'error' ? DASH : regs,
      c.status === 'error' ? DASH : String(c.spills ?? DASH),
      c.sharedBytes === undefined ? DASH : String(c.sharedBytes),
      widths(c.loads),
      widths(c.stores),
      `${c.compileSeconds.toFixed(2)} s`,
    ]);
  }
  const errors = t.configs
    .filter((c) => c.status === 'error')
    .flatMap((c) => [paragraph(`${inert(c.id, 80)}:`), codeBlock(c.error ?? 'no error text')]);
  const spec = t.configs[0]?.specialisation.length
    ? [paragraph(`Specialised as the JIT does: ${inert(t.configs[0].specialisation.join(', '), 300)}.`)]
    : [];
  return details(`${inert(t.target, 20)}: ${t.configs.length} configurations`, [
    ...spec,
    table(rows),
    ...errors,
  ]);
}

function rooflinePart(r: Roofline): Block[] {
  const head = ['card', 'target', 'GB/s', ...r.shapes.map((s) => `${inert(s.dtype, 20)} K${s.k} N${s.n}`)];
  const rows = r.cards.map((c) => [
    inert(c.card, 40),
    inert(c.target, 20) || DASH,
    `${plain(c.gbps)} ${c.source === 'measured' ? '(measured copy)' : '(published)'}`,
    ...c.floorUs.map((us) => micros(us)),
  ]);
  return [
    paragraph(
      strong('Roofline floor per card, µs'),
      " (bytes = 3·N·K·elt + K·elt over the card's bandwidth; published HBM peak unless measured on this runner)",
    ),
    table([head, ...rows]),
  ];
}

/** The compile section of a runner's report; empty when the RunResult has no compile matrix. */
export function compilePart(result: RunResult, roofline: Roofline): Block[] {
  const m = result.compile;
  if (!m) return [];
  const symbol = m.impl.split('::').at(-1) ?? m.impl;
  const intro = paragraph(
    `Triton ${inert(m.triton, 20)} compiled `,
    code(symbol, 60),
    ` for ${m.targets.length} targets on this runner, with the launch settings its launcher picks over K ${inert(m.grid.k.join(', '), 80)} and ${inert(m.grid.dtypes.join(', '), 40)}, `,
    'specialised as the JIT does. Registers, spills and load widths are the compiler’s; speed needs the card.',
  );
  const summary = table([
    ['target', 'card', 'status', 'configs', 'registers', 'spills', 'shared B', '16-B ld/st', 'compile'],
    ...m.targets.map(summaryRow),
  ]);
  const folds = m.targets.filter((t) => t.configs.length > 0).flatMap(targetDetails);
  return [
    heading(4, 'Compile matrix'),
    intro,
    summary,
    ...(folds.length ? cuttable(2, folds) : []),
    ...cuttable(2, rooflinePart(roofline)),
  ];
}
