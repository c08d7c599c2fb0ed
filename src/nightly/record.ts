// One history line: what a nightly run on one runner measured, with the device and software that measured it.

import { z } from 'zod';
import { caseFailed, siteDrifted, stepBroke } from '../results/predicates.js';
import { Device, type RunResult } from '../results/run-result.js';
import { medianOf } from '../stats/signed-rank.js';

export const HISTORY_RECORD_VERSION = 1;

// the RunResult's Device without the vLLM fields (they change every night); any vendor a hand-edited line holds
export const HistoryDevice = Device.omit({ vllm: true, vllmSha: true }).extend({ vendor: z.string() });
export type HistoryDevice = z.infer<typeof HistoryDevice>;

export const CellValue = z.object({
  key: z.string().describe('kernel:<dtype>-K<k>-N<n> or e2e:<cell id>:<metric>'),
  label: z.string(),
  unit: z.string(),
  higherIsBetter: z.boolean(),
  value: z.number().positive(),
});
export type CellValue = z.infer<typeof CellValue>;

export const HistoryRecord = z.object({
  v: z.literal(HISTORY_RECORD_VERSION),
  night: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/)
    .describe('UTC date the run started'),
  at: z.string().describe('ISO time the run started'),
  runner: z.string(),
  bundle: z.string(),
  bundleHash: z.string(),
  kernelSource: z
    .enum(['tree', 'bundle'])
    .optional()
    .describe("tree: vLLM main's own kernel was tested; absent in lines from before kernel sources (bundle)"),
  vllmRepo: z.string(),
  vllmRef: z.string(),
  vllmSha: z.string().optional(),
  runUrl: z.string().optional(),
  device: HistoryDevice,
  /** true when every step that makes numbers ran; false nights still count for drift and correctness */
  complete: z.boolean(),
  failedSteps: z.array(z.string()),
  /** whether the patch was tried and the kernel tests ran: a night that stopped earlier says nothing about them */
  checked: z.object({ patch: z.boolean(), tests: z.boolean() }).optional(),
  drift: z.array(z.string()).describe('patch sites that no longer match, as file:line (status)'),
  correctness: z.array(z.string()).describe('ids of failed kernel test cases'),
  accepted: z
    .object({ issue: z.number().int().positive(), url: z.string().optional(), how: z.string() })
    .optional()
    .describe(
      'a maintainer accepted the level of this issue (closed as not planned, or labelled): the reference from this night on',
    ),
  cells: z.array(CellValue),
});
export type HistoryRecord = z.infer<typeof HistoryRecord>;

export function kernelCellKey(dtype: string, k: number, n: number): string {
  return `kernel:${dtype}-K${k}-N${n}`;
}

export function e2eCellKey(id: string, metric: string): string {
  return `e2e:${id}:${metric}`;
}

/** A bundle given as a path is known by its directory name, so runners with different workspaces share one history. */
export function bundleName(bundle: string): string {
  return (
    bundle
      .replace(/[\\/]+$/, '')
      .split(/[\\/]/)
      .at(-1) || bundle
  );
}

/** Tonight's line for one runner, taken from its RunResult. */
export function historyRecordFrom(result: RunResult): HistoryRecord {
  const { identity, device } = result;
  const cells: CellValue[] = [];
  for (const cell of result.microbench?.cells ?? []) {
    if (cell.impl !== 'fused' || !(cell.graphUs.median > 0)) continue;
    cells.push({
      key: kernelCellKey(cell.dtype, cell.k, cell.n),
      label: `fused ${cell.dtype} K=${cell.k} N=${cell.n}`,
      unit: 'µs',
      higherIsBetter: false,
      value: cell.graphUs.median,
    });
  }
  for (const cell of result.e2e?.cells ?? []) {
    if (cell.status !== 'ok' || cell.patched.length === 0) continue;
    const value = medianOf(cell.patched);
    if (!(value > 0)) continue;
    cells.push({
      key: e2eCellKey(cell.id, cell.metric),
      label: `e2e ${cell.id} ${cell.metric}`,
      unit: cell.unit,
      higherIsBetter: cell.higherIsBetter,
      value,
    });
  }
  const failedSteps = result.steps.filter(stepBroke);
  const drift = (result.patch?.sites ?? [])
    .filter(siteDrifted)
    .map((s) => `${s.file}:${s.line} (${s.status})`);
  const applyStep = failedSteps.find((s) => s.name === 'apply-bundle');
  if (applyStep && drift.length === 0)
    drift.push(`bundle did not apply: ${applyStep.reason ?? 'no reason given'}`);
  const correctness = (result.tests ?? []).filter(caseFailed).map((t) => t.id);
  const testStep = failedSteps.find((s) => s.name === 'kernel-tests');
  if (testStep && correctness.length === 0) {
    correctness.push(`kernel tests failed: ${testStep.reason ?? 'no reason given'}`);
  }
  return {
    v: HISTORY_RECORD_VERSION,
    night: identity.startedAt.slice(0, 10),
    at: identity.startedAt,
    runner: identity.runner,
    bundle: bundleName(identity.bundle),
    bundleHash: identity.bundleHash,
    ...(result.kernel ? { kernelSource: result.kernel.source } : {}),
    vllmRepo: identity.vllmRepo,
    vllmRef: identity.vllmRef,
    vllmSha: identity.vllmSha ?? device.vllmSha,
    runUrl: identity.runUrl,
    device: {
      vendor: device.vendor,
      name: device.name,
      count: device.count,
      driver: device.driver,
      cuda: device.cuda,
      rocm: device.rocm,
      torch: device.torch,
      triton: device.triton,
      python: device.python,
      card: device.card,
      host: device.host,
    },
    complete: failedSteps.length === 0,
    failedSteps: failedSteps.map((s) => s.name),
    checked: {
      patch: result.patch !== undefined || applyStep !== undefined,
      tests: (result.tests?.length ?? 0) > 0 || testStep !== undefined,
    },
    drift,
    correctness,
    cells,
  };
}

/** Steps without which a night measured nothing: such a night is recorded as failed, never judged. */
const MEASURING_STEPS = ['checkout', 'install', 'detect-device'];

/** Why a night measured nothing ("checkout failed"), or undefined for a night that measured. */
export function unmeasuredReason(record: HistoryRecord): string | undefined {
  const step = record.failedSteps.find((s) => MEASURING_STEPS.includes(s));
  if (step) return `${step} failed`;
  if (record.device.count === 0 || record.device.vendor === 'unknown') return 'no GPU detected';
  return undefined;
}

/** The pool a night belongs to: the GPU model and count, whichever host or card of that model ran it. */
export function poolKey(device: HistoryDevice): string {
  return `${device.name.toLowerCase().includes(device.vendor) ? '' : `${device.vendor} `}${device.name} ×${device.count}`;
}

/**
 * What makes numbers comparable night to night: the pool and the software stack (driver, torch, triton, the
 * kernel source and the bundle). The host and the card explain a night; they never start a series.
 */
export function seriesKey(record: Pick<HistoryRecord, 'device' | 'kernelSource' | 'bundleHash'>): string {
  const { device } = record;
  return [
    poolKey(device),
    `driver ${device.driver ?? '?'}`,
    `torch ${device.torch ?? '?'}`,
    `triton ${device.triton ?? '?'}`,
    `bundle ${record.bundleHash.replace(/^sha256:/, '').slice(0, 12)}`,
    ...(record.kernelSource === 'tree' ? ["vLLM main's own kernel"] : []),
  ].join(', ');
}

/** What changed between two series, in words: "driver 580.1 → 590.2", "bundle 0f3c → 9a1b". */
export function seriesChange(before: HistoryRecord, after: HistoryRecord): string {
  const fields: [string, (r: HistoryRecord) => string | number | undefined][] = [
    ['GPU', (r) => r.device.name],
    ['GPU count', (r) => r.device.count],
    ['driver', (r) => r.device.driver],
    ['torch', (r) => r.device.torch],
    ['triton', (r) => r.device.triton],
    ['bundle', (r) => r.bundleHash.replace(/^sha256:/, '').slice(0, 12)],
    ['kernel source', (r) => r.kernelSource ?? 'bundle'],
  ];
  const changes = fields
    .filter(([, f]) => String(f(before) ?? '?') !== String(f(after) ?? '?'))
    .map(([label, f]) => `${label} ${f(before) ?? '?'} → ${f(after) ?? '?'}`);
  return changes.join(', ') || 'the device';
}

/** Parses the history file's lines; a line that does not parse is reported, never silently dropped. */
export function parseHistoryLines(
  text: string,
  source: string,
): { records: HistoryRecord[]; problems: string[] } {
  const records: HistoryRecord[] = [];
  const problems: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let data: unknown;
    try {
      data = JSON.parse(line);
    } catch {
      problems.push(`${source}:${i + 1}: not JSON`);
      return;
    }
    const parsed = HistoryRecord.safeParse(data);
    if (parsed.success) records.push(parsed.data);
    else problems.push(`${source}:${i + 1}: ${parsed.error.issues[0]?.message ?? 'invalid history line'}`);
  });
  return { records, problems };
}

export function formatHistoryLine(record: HistoryRecord): string {
  return JSON.stringify(record);
}

/** Keeps the nights within `days` of `today` (UTC dates, inclusive). */
export function withinRetention<T extends { night: string }>(records: T[], today: string, days: number): T[] {
  const cutoff = new Date(`${today}T00:00:00Z`).getTime() - (days - 1) * 86_400_000;
  return records.filter((r) => new Date(`${r.night}T00:00:00Z`).getTime() >= cutoff);
}

/** What a pinned night is known by: its pool and night (every runner's line of that night stays). */
export const pinKey = (record: Pick<HistoryRecord, 'device' | 'night'>) =>
  `${poolKey(record.device)}|${record.night}`;

/**
 * The lines retention keeps: the nights within `days`, and the nights a series still needs however old (its
 * anchor, and the reference of a cell in a regression), so a lasting regression or a slow drift stays visible.
 */
export function retainedRecords<T extends HistoryRecord>(
  records: T[],
  today: string,
  days: number,
  pinned: ReadonlySet<string>,
): T[] {
  const recent = new Set(withinRetention(records, today, days));
  return records.filter((r) => recent.has(r) || pinned.has(pinKey(r)));
}
