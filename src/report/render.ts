// An analysed Report → markdown: the whole report (validate's file and job summary, the CLI), one section per
// runner, and the sticky pull-request comment that holds every runner's section within GitHub's size limit.
// Each section is an mdast tree serialised once (markdown.ts); sections are joined as text, since the comment
// re-reads them from GitHub. Formats only: every verdict and number comes decided in the Report. Pure.

import type { AlignType } from 'mdast';
import { caseAdvisory, caseFailed, siteDrifted, stepBroke } from '../results/predicates.js';
import type { E2eCell, RunResult, Stage, Step, TestCase } from '../results/run-result.js';
import { COMMENT_MAX_CHARS, cuttable, fitSections, stripCutMarkers } from './budget.js';
import { deltaBarChart } from './chart.js';
import { compilePart } from './compile.js';
import { decodeMarkerId, encodeMarkerId, inert } from './escape.js';
import {
  cellMark,
  DASH,
  interval,
  micros,
  pct,
  plain,
  seconds,
  times,
  VERDICT_MARK,
  VERDICT_WORDS,
} from './format.js';
import { kernelUnderTestPart } from './kernel-source.js';
import {
  alert,
  type Block,
  code,
  codeBlock,
  details,
  emphasis,
  heading,
  html,
  type Inline,
  lines,
  list,
  paragraph,
  serialise,
  small,
  strong,
  table,
} from './markdown.js';
import type {
  ComparedCell,
  KernelHeadline,
  KernelRow,
  OverallVerdict,
  Report,
  RunnerReport,
  RunVerdict,
  VerdictMethod,
} from './model.js';
import { arrangeSections, clockTime, type SectionMeta, sectionKey } from './stages.js';

export interface RenderOptions {
  /** character budget of the whole text (renderComment: 65,536 unless smaller) */
  maxChars?: number;
  /** where the uncut report is, as trusted markdown from the publisher (written as it is), e.g. a link to the job summary */
  fullReportHint?: string;
  /** renderComment: the pull request's head commit; sections of another commit show as superseded */
  headSha?: string;
}

export const COMMENT_MARKER = '<!-- vllm-kernel-ci:comment -->';
const RUNNER_CLOSE = '<!-- /vllm-kernel-ci:runner -->';
const SECTION =
  /<!-- vllm-kernel-ci:runner=([A-Za-z0-9._%-]*)((?: [a-z]+=[A-Za-z0-9._%:+-]*)*) -->\n[\s\S]*?<!-- \/vllm-kernel-ci:runner -->/g;
const OPEN = /<!-- vllm-kernel-ci:runner=([A-Za-z0-9._%-]*)((?: [a-z]+=[A-Za-z0-9._%:+-]*)*) -->/;

/** A section's opening marker: the runner, and what the report needs of the RunResult (stage, commit, verdict). */
function runnerOpen(m: SectionMeta): string {
  const attrs: [string, string | number | undefined][] = [
    ['stage', m.stage],
    ['sha', m.sha && /^[0-9a-f]{7,64}$/i.test(m.sha) ? m.sha : undefined],
    ['verdict', m.verdict],
    ['exit', m.exitCode ? 1 : undefined],
    ['cancelled', m.cancelled ? 1 : undefined],
    ['finished', m.finishedAt && /^[0-9T:.Z+-]{10,40}$/.test(m.finishedAt) ? m.finishedAt : undefined],
    [
      'plan',
      m.planMinutes !== undefined && Number.isFinite(m.planMinutes) ? Math.round(m.planMinutes) : undefined,
    ],
  ];
  const rest = attrs
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}=${v}`)
    .join('');
  return `<!-- vllm-kernel-ci:runner=${encodeMarkerId(m.runner)}${rest} -->`;
}

const STAGES: readonly Stage[] = ['all', 'kernel', 'e2e'];
const VERDICTS = Object.keys(VERDICT_WORDS) as OverallVerdict[];

/** What a section's opening marker says; a marker of the one-key form (before stages) reads as stage all. */
export function sectionMeta(section: string): SectionMeta | undefined {
  const m = OPEN.exec(section);
  if (!m) return undefined;
  let runner: string;
  try {
    runner = decodeMarkerId(m[1]);
  } catch {
    return undefined; // a marker we did not write (bad percent-encoding): not a section
  }
  const attrs = new Map(
    [...(m[2] ?? '').matchAll(/ ([a-z]+)=([A-Za-z0-9._%:+-]*)/g)].map((a) => [a[1], a[2]] as const),
  );
  const stage = STAGES.find((x) => x === attrs.get('stage')) ?? 'all';
  const verdict = VERDICTS.find((x) => x === attrs.get('verdict')) ?? 'not-available';
  const plan = Number(attrs.get('plan'));
  const sha = attrs.get('sha');
  return {
    runner,
    stage,
    ...(sha && /^[0-9a-f]{7,64}$/i.test(sha) ? { sha } : {}),
    verdict,
    exitCode: attrs.get('exit') === '1' ? 1 : 0,
    cancelled: attrs.get('cancelled') === '1',
    ...(attrs.get('finished') ? { finishedAt: attrs.get('finished') } : {}),
    ...(attrs.has('plan') && Number.isFinite(plan) ? { planMinutes: plan } : {}),
  };
}
/** Where the uncut report is, when options do not say. */
const DEFAULT_HINT = "the job summary and the run's `vllm-kernel-ci` artifact";
/** Failures listed in full before the rest become cuttable. */
const FAILURES_KEPT = 10;

const sha = (value: string | undefined): Inline =>
  value === undefined ? DASH : /^[0-9a-f]{7,64}$/i.test(value) ? code(value.slice(0, 12)) : inert(value, 40);
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

const STEP_MARK: Record<Step['status'], string> = {
  passed: '✅',
  failed: '❌',
  'timed-out': '⏱️',
  skipped: '⏭️',
  'not-available': '⏸️',
  cancelled: '🛑',
};

// ── parts of a runner section ────────────────────────────────────────────────

function correctnessSummary(tests: readonly TestCase[] | undefined): string {
  if (!tests || tests.length === 0) return 'not run';
  const passed = tests.filter((t) => t.status === 'passed').length;
  const failed = tests.filter(caseFailed).length;
  const advisory = tests.filter(caseAdvisory).length;
  const skipped = tests.length - passed - failed - advisory;
  return `${failed > 0 ? `❌ ${failed} failed, ` : ''}${passed}/${passed + failed} passed${advisory ? `, ⚠️ ${advisory} beyond the contract (advisory)` : ''}${skipped ? `, ${skipped} skipped` : ''}`;
}

function kernelSummary(summary: KernelHeadline | undefined): string {
  if (!summary) return 'not measured';
  if (summary.kind === 'vs-base') {
    const v = summary.vsBase;
    const parts = [
      v.slower ? `❌ ${v.slower} of ${v.shapes} shapes slower, up to ${pct(v.worstPct, 0)}` : '',
      v.faster ? `${v.faster} of ${v.shapes} faster, up to ${pct(v.bestPct, 0)}` : '',
    ].filter(Boolean);
    return `head vs base: ${parts.length ? parts.join('; ') : `no shape changed (${v.shapes} shapes)`}`;
  }
  const ns = (rows: readonly KernelRow[]) => rows.map((r) => r.n).join(', ');
  const x = (rows: readonly KernelRow[]) => rows.map((r) => times(r.speedupVsEager)).join(', ');
  const prefill = summary.prefill
    ? ` · prefill N ${summary.prefill.n}: ${times(summary.prefill.speedupVsEager)}`
    : '';
  const compile = Number.isFinite(summary.geomeanCompile) ? `, ${times(summary.geomeanCompile)} compile` : '';
  return `decode N ${ns(summary.decode)}: ${x(summary.decode)} eager${prefill} · geomean of ${summary.shapes} shapes ${times(summary.geomeanEager)} eager${compile} (${inert(summary.dtype, 20)} K=${summary.k})`;
}

function e2eSummary(compared: readonly ComparedCell[]): string {
  if (compared.length === 0) return 'not run';
  const counts = new Map<string, number>();
  for (const { comparison } of compared)
    counts.set(comparison.verdict, (counts.get(comparison.verdict) ?? 0) + 1);
  const order = ['regressed', 'improved', 'too-noisy', 'no-significant-change', 'insufficient-data'] as const;
  return `${order
    .filter((v) => counts.has(v))
    .map((v) => `${counts.get(v)} ${VERDICT_WORDS[v]}`)
    .join(', ')} of ${plural(compared.length, 'cell')}`;
}

function deviceLine(result: RunResult): string {
  const d = result.device;
  return `${inert(d.name, 60)}${d.count > 1 ? ` ×${d.count}` : ''}`;
}

/** What the verdict covers, in one line: "✅ passed: correctness only (CPU, Triton interpreter); kernel speed and e2e need a GPU". */
export function scopeLine(result: RunResult, verdict: RunVerdict): string {
  const cpu = result.device.vendor === 'cpu';
  const stage = result.stage ?? 'all';
  // a stage answers for its own parts; the other stage's are in its own section
  const parts = (
    [
      ['correctness', (result.tests ?? []).some((t) => t.status !== 'skipped'), stage !== 'e2e'],
      ['kernel speed', (result.microbench?.cells.length ?? 0) > 0, stage !== 'e2e'],
      ['e2e', (result.e2e?.cells.length ?? 0) > 0, stage !== 'kernel'],
    ] as [string, boolean, boolean][]
  )
    .filter(([, , ours]) => ours)
    .map(([name, ran]) => [name, ran] as [string, boolean]);
  const done = parts.filter(([, ran]) => ran).map(([name]) => name);
  const missing = parts.filter(([, ran]) => !ran).map(([name]) => name);
  const where = cpu ? 'CPU, Triton interpreter' : deviceLine(result);
  const what =
    done.length === 0
      ? `nothing measured (${where})`
      : `${done.join(', ')}${done.length === 1 ? ' only' : ''} (${where})`;
  const rest = missing.length
    ? `; ${missing.join(' and ')} ${cpu ? `need${missing.length === 1 ? 's' : ''} a GPU` : 'not measured'}`
    : '';
  return `${VERDICT_MARK[verdict.verdict]} ${VERDICT_WORDS[verdict.verdict]}: ${what}${rest}`;
}

function headline(
  result: RunResult,
  verdict: RunVerdict,
  compared: ComparedCell[],
  head?: KernelHeadline,
): Block[] {
  const stage = result.stage && result.stage !== 'all' ? ` · ${result.stage} stage` : '';
  const commit: Inline[] = stage && result.identity.headSha ? [' · ', sha(result.identity.headSha)] : [];
  const c = result.cancelled;
  const mark = c ? '🛑' : VERDICT_MARK[verdict.verdict];
  const title = heading(
    3,
    `${mark} ${inert(result.identity.runner, 60)} · ${deviceLine(result)}${stage}`,
    ...commit,
    `: ${c ? 'cancelled' : VERDICT_WORDS[verdict.verdict]}`,
  );
  const scope = c
    ? `🛑 cancelled (${inert(c.signal, 20)}${c.step ? ` during ${c.step}` : ''}); what finished is below`
    : scopeLine(result, verdict);
  const summary: Inline[][] = [
    result.stage === 'e2e' ? [] : [strong('Correctness'), ` ${correctnessSummary(result.tests)}`],
    result.stage === 'e2e' ? [] : [strong('Kernel'), ` ${kernelSummary(head)}`],
    result.stage === 'kernel' ? [] : [strong('End to end'), ` ${e2eSummary(compared)}`],
  ].filter((part) => part.length > 0);
  const broken = result.steps
    .filter(stepBroke)
    .map((s): Inline[] => [
      `${STEP_MARK[s.status]} step `,
      strong(s.name),
      ` ${s.status}: ${inert(s.reason ?? 'no reason recorded')}`,
    ]);
  return [
    title,
    lines(
      [scope],
      summary.flatMap((part, i) => (i ? [' · ', ...part] : part)),
      ...broken,
    ),
  ];
}

const NOTE_CHARS = 90;

/** A step's note for the table: at most ~90 characters, never cut inside a word or a parenthesis (the fold below the table has it whole). */
export function shortNote(reason: string): string {
  const text = reason.replace(/\s+/g, ' ').trim();
  if (text.length <= NOTE_CHARS) return text;
  let depth = 0;
  let cut = -1;
  for (let i = 0; i < Math.min(text.length, NOTE_CHARS); i++) {
    const ch = text[i];
    if (ch === '(' || ch === '[') depth++;
    else if ((ch === ')' || ch === ']') && depth > 0) depth--;
    else if (depth === 0 && (ch === ' ' || ch === ';' || ch === ',' || ch === ':')) cut = i;
  }
  return `${text.slice(0, cut > 0 ? cut : NOTE_CHARS).replace(/[\s;,:]+$/, '')} …`;
}

function stepsPart(result: RunResult): Block[] {
  const rows = [['step', 'status', 'time', 'note']];
  const said = new Map<string, string>();
  const folded: Step[] = [];
  for (const s of result.steps) {
    const reason = s.reason ?? '';
    // a reason already given above is not repeated
    const first = reason ? said.get(reason) : undefined;
    if (reason && !first) said.set(reason, s.name);
    const note = first ? `as for ${first}` : shortNote(reason);
    // every note in full below, whatever its length: the report's shape does not depend on what a note says
    if (reason && !first) folded.push(s);
    rows.push([s.name, `${STEP_MARK[s.status]} ${s.status}`, seconds(s.seconds), inert(note, 240)]);
  }
  const notPassed = result.steps.filter(
    (s) => s.status !== 'passed' && s.status !== 'failed' && s.status !== 'timed-out',
  );
  const short = notPassed.length
    ? [
        paragraph(
          `Steps not run: ${notPassed.map((s) => `${s.name} (${s.status}${s.reason ? `: ${inert(shortNote(s.reason), 120)}` : ''})`).join('; ')}.`,
        ),
      ]
    : [];
  const parts = [...cuttable(2, [table(rows)], short), ...sandboxLine(result)];
  if (folded.length)
    parts.push(
      ...cuttable(
        3,
        details('Step notes', [list(folded.map((s) => [strong(s.name), `: ${inert(s.reason, 1000)}`]))]),
      ),
    );
  for (const s of result.steps.filter((x) => x.logTail && stepBroke(x))) {
    parts.push(
      ...cuttable(
        3,
        details(`Log tail of ${s.name}`, [codeBlock(s.logTail)]),
        s.artifact ? [paragraph(`Log of ${s.name}: ${inert(s.artifact, 80)} in the artifact.`)] : [],
      ),
    );
  }
  return parts;
}

/** Which sandbox each step that ran the tree's code ran in (security/sandbox.ts); nothing when none recorded. */
function sandboxLine(result: RunResult): Block[] {
  const by = new Map<string, string[]>();
  for (const s of result.steps) if (s.sandbox) by.set(s.sandbox, [...(by.get(s.sandbox) ?? []), s.name]);
  if (by.size === 0) return [];
  const parts = [...by].map(
    ([kind, names]) => `${kind === 'none' ? '⚠️ no sandbox' : kind}: ${names.join(', ')}`,
  );
  return [paragraph(`The tree's code ran in ${parts.join('; ')}.`)];
}

function patchPart(result: RunResult): Block[] {
  const patch = result.patch;
  if (!patch) return [];
  const bad = patch.sites.filter(siteDrifted);
  const good = patch.sites.filter((s) => s.status === 'applied' || s.status === 'already-applied');
  const site = (s: (typeof patch.sites)[number]) =>
    `${inert(`${s.file}:${s.line}`, 120)}${s.symbol ? ` (${inert(s.symbol, 60)})` : ''}`;
  // "qwen3_5 (Qwen2MoeMLP as Qwen3NextMLP from qwen3_next)": the model in the line, how it is reached below it
  const covered = patch.coveredModels.map((m) => {
    const at = m.indexOf(' (');
    return at > 0 && m.endsWith(')') ? { name: m.slice(0, at), how: m.slice(at + 2, -1) } : { name: m };
  });
  const reaches = covered.length ? `; reaches ${covered.map((m) => inert(m.name, 80)).join(', ')}` : '';
  const out: Block[] = [
    paragraph(
      strong('Patch'),
      ` ${plural(good.length, 'site')} patched${bad.length ? `, ❌ ${bad.length} not` : ''}${reaches}`,
    ),
  ];
  if (bad.length) out.push(list(bad.map((s) => [`❌ ${site(s)} ${s.status}: ${inert(s.source, 160)}`])));
  if (good.length)
    out.push(
      ...cuttable(1, [
        list(good.map((s) => [`✅ ${site(s)} ${s.status}${s.form ? ` (${inert(s.form, 40)})` : ''}`])),
      ]),
    );
  const how = covered.filter((m) => m.how);
  if (how.length)
    out.push(
      ...cuttable(1, [list(how.map((m) => [`↪ ${inert(m.name, 80)} reuses ${inert(m.how ?? '', 200)}`]))]),
    );
  return out;
}

function correctnessPart(result: RunResult): Block[] {
  const tests = result.tests;
  if (!tests || tests.length === 0) return [];
  const dtypes = [...new Set(tests.map((t) => t.dtype ?? 'other'))].sort();
  const ks = [...new Set(tests.map((t) => (t.k === undefined ? 'other' : String(t.k))))].sort(
    (a, b) => Number(a) - Number(b) || a.localeCompare(b),
  );
  const rows = [['dtype \\ K', ...ks.map((k) => inert(k, 20))]];
  for (const dtype of dtypes) {
    const row = [inert(dtype, 20)];
    for (const k of ks) {
      const here = tests.filter(
        (t) => (t.dtype ?? 'other') === dtype && (t.k === undefined ? 'other' : String(t.k)) === k,
      );
      const failed = here.filter(caseFailed).length;
      const advisory = here.filter(caseAdvisory).length;
      const passed = here.filter((t) => t.status === 'passed').length;
      const skipped = here.length - failed - passed - advisory;
      row.push(
        here.length === 0
          ? DASH
          : `${failed ? '❌' : passed ? '✅' : '⏭️'} ${passed}/${passed + failed}${advisory ? ` (⚠️ ${advisory} advisory)` : ''}${skipped ? ` (${skipped} skipped)` : ''}`,
      );
    }
    rows.push(row);
  }
  const out: Block[] = [heading(4, 'Correctness'), table(rows)];
  const failures = tests.filter(caseFailed);
  const failureLine = (t: TestCase) => [
    `❌ ${inert(t.id, 160)}${t.status === 'error' ? ' (error)' : ''}: ${inert(t.message ?? 'no message', 240)}`,
  ];
  const advisory = tests.filter(caseAdvisory);
  if (advisory.length)
    out.push(
      list(
        advisory.map((t) => [
          `⚠️ advisory: ${inert(t.id, 160)}: ${inert(t.beyondContract ?? '', 200)} (${inert(t.message ?? 'no message', 160)})`,
        ]),
      ),
    );
  if (failures.length) {
    out.push(list(failures.slice(0, FAILURES_KEPT).map(failureLine)));
    if (failures.length > FAILURES_KEPT) {
      const rest = failures.slice(FAILURES_KEPT);
      out.push(
        ...cuttable(
          4,
          [list(rest.map(failureLine))],
          [list([[`… and ${plural(rest.length, 'more failure')}.`]])],
        ),
      );
    }
  }
  const all = [
    ['case', 'status', 'time'],
    ...tests.map((t) => [
      inert(t.id, 160),
      caseAdvisory(t) ? `${t.status} (advisory)` : t.status,
      seconds(t.seconds),
    ]),
  ];
  out.push(...cuttable(1, details(`All ${tests.length} cases`, [table(all)])));
  return out;
}

/** Columns of names as they come, then columns of numbers to the right. */
const numbersRight = (names: number, numbers: number): AlignType[] => [
  ...Array<AlignType>(names).fill(null),
  ...Array<AlignType>(numbers).fill('right'),
];

function kernelTable(rows: readonly KernelRow[]): Block {
  return table(
    [
      [
        'dtype',
        'K',
        'N',
        'fused µs',
        'eager µs',
        'compile µs',
        '× eager',
        '× compile',
        '% of copy',
        'floor µs',
      ],
      ...rows.map((r) => [
        inert(r.dtype, 20),
        String(r.k),
        String(r.n),
        micros(r.fusedUs),
        micros(r.eagerUs),
        micros(r.compileUs),
        times(r.speedupVsEager),
        times(r.speedupVsCompile),
        Number.isFinite(r.fusedPctOfCopy) ? `${r.fusedPctOfCopy.toFixed(0)}%` : DASH,
        micros(r.floorUs),
      ]),
    ],
    numbersRight(1, 9),
  );
}

function kernelPart(result: RunResult, rows: KernelRow[], head?: KernelRow): Block[] {
  const mb = result.microbench;
  if (!mb) return [];
  return [
    heading(4, 'Kernel'),
    paragraph(
      `CUDA-graph replay medians; copy ceiling ${plain(mb.copyGbps)} GB/s measured in the same run (floor = bytes ÷ copy bandwidth).`,
    ),
    ...cuttable(2, [kernelTable(rows)], head ? [kernelTable([head])] : []),
  ];
}

const LENGTH_KEYS = {
  in: /^(random_)?(input|in|prompt)(_len|_length|_tokens)?$/i,
  out: /^(random_)?(output|out|gen)(_len|_length|_tokens)?$/i,
};
const COLUMN_KEYS = ['concurrency', 'max_concurrency', 'batch', 'batch_size', 'bs'];

/** Rows and columns like the original PR's table: workload shape × concurrency (or phase × batch). */
function layout(cells: readonly E2eCell[]): {
  column?: string;
  rowLabel: (c: E2eCell) => string;
  colLabel: (c: E2eCell) => string;
} {
  const keys = new Set(cells.flatMap((c) => Object.keys(c.params)));
  const column = COLUMN_KEYS.find((k) => keys.has(k));
  const rowLabel = (c: E2eCell) => {
    const rest = Object.entries(c.params).filter(([k]) => k !== column);
    const inLen = rest.find(([k]) => LENGTH_KEYS.in.test(k));
    const outLen = rest.find(([k]) => LENGTH_KEYS.out.test(k));
    if (inLen && outLen) {
      const others = rest.filter((e) => e !== inLen && e !== outLen).map(([k, v]) => `${k} ${v}`);
      return [`in ${inLen[1]} → out ${outLen[1]}`, ...others].join(', ');
    }
    // the id names the workload (e.g. "qwen2-moe-decode-b8-c512"); params may carry incidental keys
    if (column && c.params[column] !== undefined) {
      const token = new RegExp(`^[A-Za-z_]*${String(c.params[column]).replace(/[^\w.]/g, '')}$`);
      const parts = c.id.split('-');
      const at = parts.findIndex((p) => token.test(p));
      if (at >= 0 && parts.length > 1) return parts.filter((_, i) => i !== at).join('-');
    }
    return rest.map(([k, v]) => `${k} ${v}`).join(', ') || c.id;
  };
  const colLabel = (c: E2eCell) =>
    column && c.params[column] !== undefined ? `${column} ${c.params[column]}` : 'Δ';
  return { column, rowLabel, colLabel };
}

const cellText = ({ comparison: c }: ComparedCell) =>
  c.verdict === 'insufficient-data'
    ? `${cellMark(c.verdict)} n/a`
    : `${cellMark(c.verdict)} ${pct(c.deltaPct)} ${interval(c.ciLow, c.ciHigh)}${c.borderline ? ' †' : ''}`;

const CONFIRMED_RULE =
  ' A call is re-run and stands only when the fresh pairs, judged alone, make the same call.';
/** The sequential rule in one sentence (src/stats/sequential.ts), in place of the interval levels above. */
const sequentialRule = (m: VerdictMethod) =>
  ` Sequential rule: the order effect fitted per cell, a look every ${m.lookEvery ?? 4} pairs (at most ${m.maxPairs ?? 24}); a call needs the interval at the level shown, ${m.familyPct ?? 5}% spent over the cells and looks, to exclude 0; clear when the ${m.confidencePct}% interval rules out ±${m.clearPct ?? 2.5 * m.minEffectPct}%.`;

function e2ePart(result: RunResult, compared: ComparedCell[], method: VerdictMethod): Block[] {
  const e2e = result.e2e;
  if (!e2e) return [];
  const metric = [
    ...new Set(
      e2e.cells.map(
        (c) =>
          `${inert(c.metric, 40)} (${inert(c.unit, 20)}, ${c.higherIsBetter ? 'higher' : 'lower'} is better)`,
      ),
    ),
  ]
    .slice(0, 4)
    .join(', ');
  const out: Block[] = [
    heading(4, `End to end${e2e.aa ? ' (A/A: both arms ran the baseline; any change is noise)' : ''}`),
    paragraph(
      `${inert(e2e.backend, 20)} · ${inert(e2e.model, 80)} · ${metric}. Δ = patched vs baseline with its ${method.rule === 'sequential' ? 'interval at the level shown' : `${method.confidencePct}% interval (${method.rerunConfidencePct}% once re-run)`}; a change counts when |Δ| ≥ ${method.minEffectPct}% and the interval excludes 0.${method.rule === 'confirmed' ? CONFIRMED_RULE : ''}${method.rule === 'sequential' ? sequentialRule(method) : ''} † ${method.rule === 'sequential' ? 'undecided: more pairs would have been run' : 'borderline: named for a re-run'}.`,
    ),
  ];
  if (compared.length === 0) return [...out, paragraph('No cells.')];
  const { column, rowLabel, colLabel } = layout(e2e.cells);
  const rowNames = [...new Set(compared.map(({ cell }) => rowLabel(cell)))];
  const colNames = [...new Set(compared.map(({ cell }) => colLabel(cell)))];
  if (column) {
    const num = (s: string) => Number(s.split(' ').pop());
    colNames.sort((a, b) => num(a) - num(b) || a.localeCompare(b));
  }
  const grid = [[column ? 'workload' : 'cell', ...colNames.map((c) => inert(c, 30))]];
  for (const r of rowNames) {
    grid.push([
      inert(r, 60),
      ...colNames.map((col) => {
        const hit = compared.find(({ cell }) => rowLabel(cell) === r && colLabel(cell) === col);
        return hit ? cellText(hit) : DASH;
      }),
    ]);
  }
  out.push(...cuttable(4, [table(grid)]));
  // the sequential rule's fitted order effect, where it stands above the cell's residual noise
  const order = compared.filter(
    ({ comparison: c }) =>
      c.orderEffectPct !== undefined && Math.abs(c.orderEffectPct) > (c.residualPct ?? 0),
  );
  if (order.length > 0)
    out.push(
      paragraph(
        `Order effect fitted and removed (the second run of a pair against the first): ${order.map(({ cell, comparison: c }) => `${inert(cell.id, 60)} ${pct(c.orderEffectPct ?? Number.NaN)} (residual ${(c.residualPct ?? 0).toFixed(2)}%)`).join(', ')}.`,
      ),
    );
  const detail = table(
    [
      ['cell', 'baseline', 'patched', 'Δ', 'interval', 'pairs', 're-runs', 'verdict'],
      ...compared.map(({ cell, comparison: c }) => [
        inert(cell.id, 60),
        plain(c.baselineMedian),
        plain(c.patchedMedian),
        pct(c.deltaPct),
        `${interval(c.ciLow, c.ciHigh)} ${c.levelPct}%`,
        String(c.pairs),
        String(cell.reruns ?? 0),
        `${cellMark(c.verdict)} ${VERDICT_WORDS[c.verdict]}${c.reason ? `: ${inert(c.reason, 100)}` : ''}`,
      ]),
    ],
    [...numbersRight(1, 6), null],
  );
  const chart = deltaBarChart(
    'Δ in percent, patched vs baseline (lines: interval bounds)',
    'Δ in percent',
    compared.map(({ cell, comparison: c }) => ({
      label: cell.id,
      value: c.deltaPct,
      low: c.ciLow,
      high: c.ciHigh,
    })),
  );
  out.push(...cuttable(2, [detail, { type: 'code', lang: 'mermaid', value: chart }]));
  return out;
}

function footer(result: RunResult, method: VerdictMethod, override?: string): Block {
  const id = result.identity;
  const d = result.device;
  const versions = [
    ['vLLM', d.vllm],
    ['torch', d.torch],
    ['triton', d.triton],
    ['CUDA', d.cuda],
    ['ROCm', d.rocm],
    ['driver', d.driver],
    ['Python', d.python],
  ]
    .filter(([, v]) => v)
    .map(([k, v]) => `${k} ${inert(v, 40)}`);
  const settings = Object.entries(result.settings)
    .slice(0, 12)
    .map(([k, v]) => `${inert(k, 60)}=${inert(v, 40)}`);
  const rows: Inline[][] = [
    [
      `vLLM ${inert(id.vllmRepo, 80)} @ ${inert(id.vllmRef, 60)} (`,
      sha(id.vllmSha ?? d.vllmSha),
      `) · bundle ${inert(id.bundle, 60)} `,
      sha(id.bundleHash || undefined),
      ...(id.headSha ? [' · head ', sha(id.headSha)] : []),
    ],
    versions.length ? [versions.join(' · ')] : [],
    settings.length ? [`settings: ${settings.join(' · ')}`] : [],
    result.e2e ? [`e2e method: ${inert(result.e2e.method, 300)}`] : [],
    [
      `verdicts: ${method.rule === 'sequential' ? `Huber fit of the paired log ratios with the order effect, sequential rule (a look every ${method.lookEvery ?? 4} pairs, at most ${method.maxPairs ?? 24})` : `Hodges–Lehmann Δ of paired log ratios, exact Wilcoxon signed-rank ${method.confidencePct}% interval (${method.rerunConfidencePct}% after a re-run)`}, min effect ${method.minEffectPct}%${method.rule === 'confirmed' ? ', calls confirmed by a re-run' : ''}${override ? ` (${inert(override, 200)})` : ''} · ${inert(result.tool.name, 30)} ${inert(result.tool.version, 30)} · ${inert(id.startedAt, 40)} → ${inert(id.finishedAt, 40)}`,
    ],
  ];
  return small(...rows.filter((row) => row.length > 0));
}

// ── public ───────────────────────────────────────────────────────────────────

/**
 * One runner's section of the report and of the PR comment, between hidden markers that name the runner, so
 * a later report job can replace it without touching the other runners' sections.
 */
export function renderRunnerSection(runner: RunnerReport): string {
  const { result } = runner;
  return serialise([
    html(runnerOpen(metaOf(runner))),
    ...headline(result, runner.verdict, runner.compared, runner.kernelHeadline),
    ...stepsPart(result),
    ...kernelUnderTestPart(result, runner.kernelAb),
    ...(result.kernel?.source === 'tree' ? [] : patchPart(result)),
    ...correctnessPart(result),
    ...compilePart(result, runner.roofline),
    ...kernelPart(result, runner.rows, runner.headline),
    ...e2ePart(result, runner.compared, runner.method),
    footer(result, runner.method, runner.override),
    html(RUNNER_CLOSE),
  ]);
}

/** A stage's workflow run that ended with no RunResult from some of its runners (the job died, or was cancelled). */
export interface EndedRun {
  runId: number;
  /** GitHub's conclusion: failure, cancelled, timed_out, startup_failure */
  conclusion: string;
  /** when it ended (ISO) */
  at?: string;
}

/**
 * The e2e section of a runner whose e2e stage ended without uploading: it replaces "e2e: running" under the kernel
 * stage, and completes the commit's check run (failed; cancelled for a cancelled run).
 */
export function renderEndedE2e(runner: string, headSha: string, ended: EndedRun): string {
  const cancelled = ended.conclusion === 'cancelled';
  const meta: SectionMeta = {
    runner,
    stage: 'e2e',
    sha: headSha,
    verdict: 'not-available',
    exitCode: cancelled ? 0 : 1,
    cancelled,
    ...(ended.at ? { finishedAt: ended.at } : {}),
  };
  const at = ended.at ? ` at ${clockTime(ended.at)}` : '';
  return serialise([
    html(runnerOpen(meta)),
    heading(
      3,
      `${cancelled ? '🛑' : '❌'} ${inert(runner, 60)} · e2e stage · `,
      sha(headSha),
      `: ${cancelled ? 'cancelled' : 'ended without a result'}`,
    ),
    paragraph(
      `The e2e stage's workflow run ${ended.runId} ended (${inert(ended.conclusion, 30)})${at} before ${inert(runner, 60)} uploaded a RunResult: its job log says why. The kernel stage's results stand.`,
    ),
    html(RUNNER_CLOSE),
  ]);
}

/** What a runner's section records of its RunResult in its marker. */
export function metaOf(runner: RunnerReport): SectionMeta {
  const { result } = runner;
  return {
    runner: result.identity.runner,
    stage: result.stage ?? 'all',
    ...(result.identity.headSha ? { sha: result.identity.headSha } : {}),
    verdict: runner.verdict.verdict,
    exitCode: runner.verdict.exitCode === 0 ? 0 : 1,
    cancelled: result.cancelled !== undefined,
    finishedAt: result.identity.finishedAt,
    ...(result.e2ePlanMinutes !== undefined ? { planMinutes: result.e2ePlanMinutes } : {}),
  };
}

/**
 * Each section's key (the runner for a one-job run; runner, stage and commit for a stage) with the section text
 * (markers included).
 */
export function parseCommentSections(body: string): Map<string, string> {
  const sections = new Map<string, string>();
  for (const m of body.matchAll(SECTION)) {
    const meta = sectionMeta(m[0]);
    if (meta) sections.set(sectionKey(meta), `${m[0]}\n`);
  }
  return sections;
}

const DETAIL_CUT = serialise([
  paragraph(emphasis('Detail cut to fit; see the full report.')),
  html(RUNNER_CLOSE),
]);

/** A section cut down to its headline: the marker, the heading and the paragraph below it. */
function headlineOnly(section: string): string {
  const open = section.indexOf('\n') + 1;
  const end = section.indexOf('\n\n', section.indexOf('\n\n', open) + 2);
  const head = end > 0 ? section.slice(0, end) : section.slice(0, open);
  return `${head}\n\n${DETAIL_CUT}`;
}

/** The title, what goes under it, and a note of what was cut; the hint of where the full report is is trusted markdown. */
function headOf(
  title: readonly Block[],
  intro: readonly Block[],
  cut: readonly string[],
  hint: string,
  maxChars: number,
) {
  const limit =
    maxChars === COMMENT_MAX_CHARS
      ? `GitHub's ${COMMENT_MAX_CHARS.toLocaleString('en-US')}-character comment limit`
      : `${Math.floor(maxChars).toLocaleString('en-US')} characters`;
  const note = cut.length
    ? [alert('NOTE', `Cut to fit ${limit}: ${cut.join('; ')}. The full report is in `, html(hint), '.')]
    : [];
  return serialise([...title, ...intro, ...note]);
}

function assemble(
  title: readonly Block[],
  intro: readonly Block[],
  sections: readonly string[],
  maxChars: number,
  hint: string,
  closing: string,
): string {
  const head = (cut: readonly string[]) => `${headOf(title, intro, cut, hint, maxChars)}\n`;
  const fitted = fitSections(
    sections,
    (_s, cut) => head(cut).length + closing.length + sections.length,
    maxChars,
    headlineOnly,
  );
  let shown = fitted.sections;
  let body = `${head(fitted.cut)}${shown.join('\n')}${closing}`;
  // more runners than even their headlines fit: leave the last ones out, and say so
  let left = 0;
  while (body.length > maxChars && shown.length > 0) {
    shown = shown.slice(0, -1);
    left++;
    const note = `\n${serialise([paragraph(emphasis(`${plural(left, 'more runner')} not shown: see the full report.`))])}`;
    body = `${head([...fitted.cut, `${plural(left, 'runner')} left out`])}${shown.join('\n')}${note}${closing}`;
  }
  return body.length > maxChars ? `${body.slice(0, maxChars - 1)}…` : body;
}

/**
 * The sticky PR comment: the top marker, then every runner's section (sorted by runner, one per runner), cut to
 * the budget in priority order.
 */
export function renderComment(sections: readonly string[], options: RenderOptions = {}): string {
  const maxChars = Math.min(options.maxChars ?? COMMENT_MAX_CHARS, COMMENT_MAX_CHARS);
  // one section per key, the last given winning; then per runner the commit and stages it shows
  const byKey = new Map<string, { meta: SectionMeta; text: string }>();
  for (const text of sections) {
    const meta = sectionMeta(text);
    if (meta) byKey.set(sectionKey(meta), { meta, text: text.endsWith('\n') ? text : `${text}\n` });
  }
  const sorted = arrangeSections([...byKey.values()], options.headSha);
  return assemble(
    [html(COMMENT_MARKER), heading(2, 'vllm-kernel-ci')],
    [],
    sorted,
    maxChars,
    options.fullReportHint ?? DEFAULT_HINT,
    LEGEND,
  );
}

const LEGEND = `\n${serialise([small(['✅ improved or passed · ❌ regressed or failed · ➖ no significant change · 〰️ too noisy to decide · ❔ insufficient data · ⏸️ not available · ⏭️ skipped · ⏱️ timed out'])])}`;

function overview(runners: readonly RunnerReport[]): Block {
  const rows = [['runner', 'device', 'verdict', 'correctness', 'kernel', 'end to end']];
  for (const a of runners) {
    rows.push([
      inert(a.result.identity.runner, 60),
      deviceLine(a.result),
      `${VERDICT_MARK[a.verdict.verdict]} ${VERDICT_WORDS[a.verdict.verdict]}`,
      correctnessSummary(a.result.tests),
      kernelSummary(a.kernelHeadline),
      e2eSummary(a.compared),
    ]);
  }
  return table(rows);
}

/** One runner's summary row as one plain line (the CLI's stdout): runner, device, verdict and the three parts. */
export function summaryLine(a: RunnerReport): string {
  return `${a.result.identity.runner} · ${a.result.device.name}: ${VERDICT_MARK[a.verdict.verdict]} ${VERDICT_WORDS[a.verdict.verdict]} · correctness ${correctnessSummary(a.result.tests)} · kernel ${kernelSummary(a.kernelHeadline)} · end to end ${e2eSummary(a.compared)}`;
}

/** A titled list of untrusted lines (refused RunResults, runner-label notes), as a block to append to the report. */
export function renderNotes(title: string, notes: readonly string[]): string {
  if (notes.length === 0) return '';
  return `\n${serialise([heading(2, title), list(notes.map((n) => [inert(n, 400)]))])}`;
}

/** The whole report over any number of runners; cut to maxChars when given. */
export function renderReport(report: Report, options: RenderOptions = {}): string {
  const runners = report.runners;
  const bundles = [...new Set(runners.map((r) => inert(r.result.identity.bundle, 60)))].join(', ');
  const title = heading(1, `vllm-kernel-ci report${bundles ? `: ${bundles}` : ''}`);
  if (runners.length === 0) return serialise([title, paragraph('No RunResults were given.')]);
  const text = assemble(
    [title],
    [overview(runners)],
    runners.map((r) => renderRunnerSection(r)),
    options.maxChars ?? Number.POSITIVE_INFINITY,
    options.fullReportHint ?? DEFAULT_HINT,
    LEGEND,
  );
  return stripCutMarkers(text);
}
