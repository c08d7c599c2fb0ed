// The regression issue as markdown: status per runner, the regressed cells, a trend chart, the suspected vLLM range.
import type { CellPoint, CellTrend, NightRef, RunnerTrend, UnmeasuredNight } from './trend.js';

export const ISSUE_LABEL = 'vllm-kernel-ci-nightly';

/** The hidden marker that finds the one open issue of a bundle. */
export function issueMarker(bundle: string): string {
  return `<!-- vllm-kernel-ci:nightly-issue bundle=${bundle.replace(/[^A-Za-z0-9_.-]/g, '_')} -->`;
}

export function issueTitle(bundle: string): string {
  return `Nightly regression: ${bundle.replace(/[\r\n]/g, ' ').slice(0, 100)} on vLLM main`;
}

export interface IssueTextOptions {
  bundle: string;
  /** the night this body was rendered for */
  night: string;
  /** regression threshold floor in percent, for the explanation */
  thresholdPct: number;
  /** renders a string that came from a RunResult as inert markdown */
  inert: (text: string) => string;
  /** lines said under the headline, e.g. that vLLM main now carries the op itself */
  notes?: string[];
  /** recent nights that measured nothing (checkout, install or device detection failed) */
  unmeasured?: readonly UnmeasuredNight[];
}

const MAX_CHARTS_PER_RUNNER = 3;
const MAX_CHART_POINTS = 30;
const MAX_LISTED = 20;

const SHA = /^[0-9a-f]{7,40}$/i;
const SLUG = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;

/** owner/name of a vLLM repository on github.com, or undefined for a local path, PyPI or another host. */
export function githubSlug(vllmRepo: string): string | undefined {
  const trimmed = vllmRepo
    .trim()
    .replace(/\.git$/, '')
    .replace(/\/$/, '');
  const url = /^https:\/\/github\.com\/([^/]+\/[^/]+)$/.exec(trimmed);
  const slug = url ? url[1] : trimmed;
  return SLUG.test(slug) && !slug.startsWith('.') ? slug : undefined;
}

const shortSha = (sha: string) => sha.slice(0, 10);
const safeUrl = (url: string | undefined) => (url && /^https:\/\/[^\s()<>"'`]+$/.test(url) ? url : undefined);

/** `good..bad` as a compare link when both are commit SHAs of a GitHub repository. */
export function commitRange(vllmRepo: string, good: NightRef | undefined, bad: NightRef): string {
  const badSha = bad.vllmSha && SHA.test(bad.vllmSha) ? bad.vllmSha : undefined;
  const goodSha = good?.vllmSha && SHA.test(good.vllmSha) ? good.vllmSha : undefined;
  if (!badSha) return 'vLLM commit not recorded';
  const slug = githubSlug(vllmRepo);
  if (!goodSha) return `vLLM \`${shortSha(badSha)}\` (no earlier good commit recorded)`;
  const text = `\`${shortSha(goodSha)}..${shortSha(badSha)}\``;
  return slug ? `vLLM [${text}](https://github.com/${slug}/compare/${goodSha}...${badSha})` : `vLLM ${text}`;
}

function runLink(label: string, ref: NightRef | undefined): string | undefined {
  const url = safeUrl(ref?.runUrl);
  return url ? `[${label}](${url})` : undefined;
}

function fmt(value: number): string {
  return Number(value.toPrecision(4)).toString();
}

const signed = (pct: number) => `${pct >= 0 ? '+' : ''}${pct.toFixed(1)}%`;

/** Mermaid draws quoted labels literally; keep only characters that cannot end the quote or the block. */
const chartText = (text: string) => text.replace(/[^\p{L}\p{N} =._,:×µ/-]/gu, ' ').slice(0, 80);

/** A line chart of a cell's nights and the reference median it was judged against. */
export function trendChart(cell: CellTrend): string {
  const points = cell.points.slice(-MAX_CHART_POINTS);
  const values = points.map((p) => p.value);
  const references = points.map((p) => p.reference?.median ?? p.value);
  const all = [...values, ...references];
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  const pad = (hi - lo) * 0.1 || hi * 0.05 || 1;
  const direction = cell.higherIsBetter ? 'higher is better' : 'lower is better';
  return [
    '```mermaid',
    'xychart-beta',
    `  title "${chartText(cell.label)} (${chartText(cell.unit)}, ${direction})"`,
    `  x-axis [${points.map((p) => `"${p.night.slice(5)}"`).join(', ')}]`,
    `  y-axis "${chartText(cell.unit)}" ${fmt(Math.max(0, lo - pad))} --> ${fmt(hi + pad)}`,
    `  line [${values.map(fmt).join(', ')}]`,
    `  line [${references.map(fmt).join(', ')}]`,
    '```',
    `<sub>First line: each night; second line: the median of the good nights it was judged against.</sub>`,
  ].join('\n');
}

function pointCell(p: CellPoint): string {
  return p.worsePct === undefined ? fmt(p.value) : `${fmt(p.value)} (${signed(p.worsePct)})`;
}

function cellRow(cell: CellTrend, inert: IssueTextOptions['inert']): string {
  const ref = cell.latest.reference;
  const recent = cell.points.slice(-3).map(pointCell).join(' · ');
  const reference = ref ? `${fmt(ref.median)} ±${ref.spreadPct.toFixed(1)}% (${ref.nights} nights)` : '–';
  return `| ${inert(cell.label)} | ${inert(cell.unit)} | ${reference} | ${recent} | ${ref ? `${ref.thresholdPct.toFixed(1)}%` : '–'} | ${cell.latest.status} |`;
}

const STATUS_TEXT: Record<RunnerTrend['status'], string> = {
  alert: '🔴 alert',
  suspicious: '🟡 suspicious (one night beyond the threshold; a second night makes it a regression)',
  recovering: '🟠 recovering (back under the recovery threshold, not yet for enough nights in a row)',
  stale: '⚫ stale (no measured night lately: a retired runner or pool; it holds no alert)',
  'new-series': '🔵 new series (software stack changed; comparing from tonight on)',
  'warming-up': '⚪ warming up (too few nights in this series to judge)',
  ok: '🟢 ok',
};

/** Cells worth a chart: tonight's regressions first, then suspicious ones, then recent regressions. */
function chartedCells(trend: RunnerTrend): CellTrend[] {
  const recent = trend.cells.filter((c) =>
    c.points.slice(-14).some((p) => p.status === 'regressed' || p.status === 'suspicious'),
  );
  return [...new Set([...trend.regressed, ...trend.suspicious, ...recent])].slice(0, MAX_CHARTS_PER_RUNNER);
}

function listed(items: readonly string[], inert: IssueTextOptions['inert']): string[] {
  const lines = items.slice(0, MAX_LISTED).map((i) => `- ${inert(i)}`);
  if (items.length > MAX_LISTED) lines.push(`- … and ${items.length - MAX_LISTED} more`);
  return lines;
}

export function runnerSection(trend: RunnerTrend, options: IssueTextOptions, charts = true): string {
  const { inert } = options;
  const r = trend.latest;
  const out: string[] = [];
  out.push(`### Runner ${inert(trend.runner)}: ${STATUS_TEXT[trend.status]}`, '');
  const where = [r.device.host ? `host ${r.device.host}` : '', r.device.card ? `card ${r.device.card}` : '']
    .filter(Boolean)
    .join(', ');
  const tonight = [
    `Last night: ${r.night}${where ? ` on ${inert(where)}` : ''}`,
    r.vllmSha && SHA.test(r.vllmSha) ? `vLLM \`${shortSha(r.vllmSha)}\`` : undefined,
    runLink('run', r),
  ].filter(Boolean);
  out.push(`${tonight.join(' · ')}  `);
  out.push(`Series: ${inert(trend.series)} (since ${trend.seriesSince}, ${trend.nights.length} nights)`);
  if (trend.previousSeries) out.push(`  \nPrevious series: ${inert(trend.previousSeries)}`);
  out.push('');

  if (r.failedSteps.length > 0) {
    out.push(`Last night's run stopped or failed at: ${r.failedSteps.join(', ')} (see its run).`, '');
  }
  if (trend.drift.length > 0) {
    out.push('**Patch drift**: the bundle no longer applies to vLLM main at these sites:', '');
    out.push(...listed(trend.drift, inert), '');
  }
  if (trend.correctness.length > 0) {
    out.push(`**Correctness**: ${trend.correctness.length} kernel test case(s) failed:`, '');
    out.push(...listed(trend.correctness, inert), '');
  }
  if (trend.alertSince) {
    const links = [runLink('last clean run', trend.lastClean), runLink('first failing run', trend.alertSince)]
      .filter(Boolean)
      .join(', ');
    out.push(
      `Failing since ${trend.alertSince.night}${trend.lastClean ? ` (last clean night ${trend.lastClean.night})` : ''}: ${commitRange(r.vllmRepo, trend.lastClean, trend.alertSince)}${links ? ` · ${links}` : ''}`,
      '',
    );
  }

  if (trend.accepted) {
    out.push(
      `Accepted on ${trend.accepted.night}: #${trend.accepted.issue} (${inert(trend.accepted.how)}); its level is the reference from that night on.`,
      '',
    );
  }
  const shown = [...trend.regressed, ...trend.recovering, ...trend.suspicious];
  if (shown.length > 0) {
    out.push(
      trend.regressed.length + trend.recovering.length > 0
        ? `**Performance regression** in ${trend.regressed.length + trend.recovering.length} cell(s) (beyond the threshold ${Math.max(0, ...trend.regressed.map((c) => c.streakNeeded)) > 2 ? 'on enough nights in a row' : 'two nights in a row'}):`
        : '**Suspicious** cells (beyond the threshold for one night):',
      '',
      '| cell | unit | reference median ± spread | last nights (worse by) | threshold | status |',
      '| --- | --- | --- | --- | --- | --- |',
      ...shown.slice(0, MAX_LISTED).map((c) => cellRow(c, inert)),
      '',
    );
    for (const cell of [...trend.regressed, ...trend.recovering]) {
      if (!cell.firstBad) continue;
      const links = [runLink('last good run', cell.lastGood), runLink('first bad run', cell.firstBad)]
        .filter(Boolean)
        .join(', ');
      out.push(
        `Suspected first bad night for ${inert(cell.label)}: **${cell.firstBad.night}**${cell.lastGood ? ` (last good night ${cell.lastGood.night})` : ''}, ${commitRange(r.vllmRepo, cell.lastGood, cell.firstBad)}${links ? ` · ${links}` : ''}`,
        '',
      );
    }
  }
  if (trend.slowLoss.length > 0) {
    out.push(
      `**Slow loss** in ${trend.slowLoss.length} cell(s): no single night beyond the threshold, but the last nights are worse than the series' first good nights:`,
      '',
      '| cell | unit | anchor (since) | last nights, median | worse by | threshold |',
      '| --- | --- | --- | --- | --- | --- |',
      ...trend.slowLoss.slice(0, MAX_LISTED).map((c) => {
        const a = c.anchor;
        return a
          ? `| ${inert(c.label)} | ${inert(c.unit)} | ${fmt(a.median)} (${a.since}) | ${fmt(a.recentMedian)} | ${signed(a.worsePct)} | ${a.thresholdPct.toFixed(1)}% |`
          : '';
      }),
      '',
    );
  }
  if (trend.changedWithSeries.length > 0 && trend.change) {
    out.push(
      `**Changed with the ${inert(trend.change)}** (not blamed on vLLM: the level moved from the series' first two nights): ${trend.changedWithSeries
        .slice(0, MAX_LISTED)
        .map((c) => `${inert(c.label)} ${signed(c.seriesStepPct ?? 0)} worse`)
        .join(', ')}.`,
      '',
    );
  }
  if (trend.cardEffects.length > 0) {
    out.push(
      `Cards against their pool (taken out before judging): ${trend.cardEffects
        .map(
          (e) =>
            `card ${inert(e.card)}${e.host ? ` (host ${inert(e.host)})` : ''} runs ${Math.abs(e.worsePct).toFixed(1)}% ${e.worsePct > 0 ? 'slower' : 'faster'} than its pool`,
        )
        .join(', ')}.`,
      '',
    );
  }
  if (trend.staleCells.length > 0) {
    out.push(
      `Stale (no night in the last days, e.g. dropped from the grid; no alert): ${trend.staleCells
        .slice(0, MAX_LISTED)
        .map((c) => `${inert(c.label)} (last ${c.latest.night})`)
        .join(', ')}.`,
      '',
    );
  }
  const guarded = trend.cells.filter((c) => c.streakNeeded > 2);
  if (guarded.length > 0) {
    out.push(
      `Bimodal guard: ${guarded.length} cell(s) were often beyond the threshold on their own lately, so a regression there needs up to ${Math.max(...guarded.map((c) => c.streakNeeded))} bad nights in a row.`,
      '',
    );
  }
  if (charts) for (const cell of chartedCells(trend)) out.push(trendChart(cell), '');
  return out.join('\n');
}

function renderBody(trends: readonly RunnerTrend[], options: IssueTextOptions, charts: boolean): string {
  const alerting = trends.filter((t) => t.status === 'alert');
  const headline =
    alerting.length > 0
      ? `**${alerting.length} of ${trends.length} runner(s) alerting** as of the night of ${options.night}.`
      : `**No runner alerting** as of the night of ${options.night}.`;
  return [
    issueMarker(options.bundle),
    `## Nightly regression: ${options.inert(options.bundle)} on vLLM main`,
    '',
    headline,
    '',
    ...(options.notes ?? []).flatMap((note) => [note, '']),
    '| runner | status | last night | series |',
    '| --- | --- | --- | --- |',
    ...trends.map(
      (t) => `| ${options.inert(t.runner)} | ${t.status} | ${t.latest.night} | ${options.inert(t.series)} |`,
    ),
    '',
    ...(options.unmeasured ?? [])
      .slice(0, MAX_LISTED)
      .map((u) => `- no measurement on ${u.night} (${options.inert(u.runner)}): ${options.inert(u.reason)}`),
    ...(options.unmeasured?.length ? [''] : []),
    ...trends.map((t) => runnerSection(t, options, charts)),
    '<details><summary>How this is decided</summary>',
    '',
    `Each night's value of a cell (fused kernel µs per dtype, K and N; e2e throughput of the patched arm) is compared with the median of up to 14 earlier good nights of the same runner and series. A night is beyond the threshold when it is worse by more than ${options.thresholdPct}% and by more than four robust standard deviations of up to 30 earlier good nights; one such night is suspicious, two in a row a regression (more on a cell that is often beyond the threshold on its own). The median of the last 7 nights is also compared with the series' first 7 good nights, so a slow loss alarms too. A series is a GPU model × count with one software stack (driver, torch, triton, kernel source, bundle); whichever host or card of the pool ran the night. A card's first two nights measure its offset from the pool, and its later nights are judged net of it, so a slow card is never a regression. A change of the stack starts a new series, judged against the previous series' good nights; a level that moved from its first two nights on is reported as changed with that update, not blamed on vLLM. A regression holds until 3 nights in a row are within half the threshold; a night whose checkout, install or device detection failed is listed and never judged. Closing this issue as not planned, or labelling it \`accepted\`, makes the level the reference from the next night. Patch drift and failing kernel tests alert at once. This issue is updated every night and closed when every pool is back or stale (no night for 7 days).`,
    '',
    '</details>',
    '',
  ].join('\n');
}

/** GitHub refuses an issue body over 65,536 characters. */
export const ISSUE_BODY_MAX = 65_536;

/** The issue body within GitHub's limit: charts go first, then the tail of the runner sections. */
export function issueBody(trends: readonly RunnerTrend[], options: IssueTextOptions): string {
  const full = renderBody(trends, options, true);
  if (full.length <= ISSUE_BODY_MAX) return full;
  const plain = renderBody(trends, options, false);
  if (plain.length <= ISSUE_BODY_MAX) return plain;
  const note = `\n\n… cut to fit GitHub's ${ISSUE_BODY_MAX} characters; the whole text is in the nightly job summary.\n`;
  const kept = plain.slice(0, ISSUE_BODY_MAX - note.length);
  return `${kept.slice(0, kept.lastIndexOf('\n'))}${note}`;
}

export function recoveryNote(
  trends: readonly RunnerTrend[],
  night: string,
  inert: IssueTextOptions['inert'],
): string {
  const lines = trends.map((t) => {
    const sha =
      t.latest.vllmSha && SHA.test(t.latest.vllmSha) ? ` at vLLM \`${shortSha(t.latest.vllmSha)}\`` : '';
    const link = runLink('run', t.latest);
    return `- ${inert(t.runner)}: ${t.status} on ${t.latest.night}${sha}${link ? ` (${link})` : ''}`;
  });
  const stale = trends.filter((t) => t.status === 'stale');
  const accepted = trends.some((t) => t.accepted?.night === night);
  const why = accepted
    ? 'the level was accepted'
    : stale.length > 0
      ? `every alerting series is back or stale (${stale.map((t) => inert(t.runner)).join(', ')}: no measured night lately)`
      : 'every runner is back within the threshold';
  return [
    `Recovered on the night of ${night}: ${why}, the bundle applies and its tests pass. Closing; a new alert opens a new issue.`,
    '',
    ...lines,
  ].join('\n');
}
