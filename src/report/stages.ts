// The stages of a pull request's run in its comment: each runner's sections are keyed by runner, head commit and
// stage; the comment shows, per runner, one commit's sections (the PR's head when it has any), in stage order, with
// the e2e's state between them, and a commit that is not the head as superseded. The check run's state comes from
// the same sections. Pure.
import type { Stage } from '../results/run-result.js';
import { inert } from './escape.js';
import { seconds } from './format.js';
import { alert, code, paragraph, serialise, strong } from './markdown.js';
import type { OverallVerdict, RunVerdict } from './model.js';

/** What a section's marker says about the RunResult it was rendered from. */
export interface SectionMeta {
  runner: string;
  stage: Stage;
  /** the head commit it validated; absent in sections written before stages */
  sha?: string;
  verdict: OverallVerdict;
  exitCode: number;
  /** the run was cancelled (a newer push, the runner's stop) */
  cancelled: boolean;
  finishedAt?: string;
  /** kernel stage: the minutes the e2e stage plans to take */
  planMinutes?: number;
}

export interface StagedSection {
  meta: SectionMeta;
  /** the section's markdown, markers included */
  text: string;
}

/** The sticky comment's key of a section: the runner alone for a one-job run, else runner, stage and commit. */
export function sectionKey(m: Pick<SectionMeta, 'runner' | 'stage' | 'sha'>): string {
  return m.stage === 'all' ? m.runner : `${m.runner}\u0000${m.stage}\u0000${m.sha ?? ''}`;
}

/** A kernel stage that passed on its runner is followed by the e2e stage there. */
export function e2eFollows(kernel: SectionMeta): boolean {
  return (
    kernel.stage === 'kernel' && !kernel.cancelled && kernel.exitCode === 0 && kernel.verdict !== 'failed'
  );
}

/** The kernel sections of `sha` whose runner's e2e follows and has not reported. */
export function awaitingE2e(sections: readonly SectionMeta[], sha: string): SectionMeta[] {
  const mine = sections.filter((m) => m.sha === sha);
  return mine.filter((k) => e2eFollows(k) && !mine.some((e) => e.stage === 'e2e' && e.runner === k.runner));
}

const STAGE_ORDER: Record<Stage, number> = { all: 0, kernel: 0, e2e: 1 };
const short = (sha: string | undefined) => (sha ? code(sha.slice(0, 12)) : 'an earlier commit');

/** "14:02 UTC" of an ISO time; the time as given when it is not one. */
export function clockTime(iso: string | undefined): string {
  const t = iso ? new Date(iso) : undefined;
  if (!t || Number.isNaN(t.getTime())) return 'an unknown time';
  return `${t.toISOString().slice(11, 16)} UTC`;
}

/** The e2e's state under a kernel stage that has no e2e section yet. */
function e2eState(kernel: SectionMeta, superseded: boolean): string {
  const runner = inert(kernel.runner, 60);
  if (kernel.cancelled) return 'not run: the kernel stage was cancelled.';
  if (!e2eFollows(kernel)) return `skipped: the kernel stage did not pass on ${runner}.`;
  if (superseded) return 'did not finish before the newer push.';
  const plan = kernel.planMinutes !== undefined ? ` (plan: ${seconds(kernel.planMinutes * 60)})` : '';
  return `running on ${runner} since ${clockTime(kernel.finishedAt)}${plan}.`;
}

const e2eLine = (kernel: SectionMeta, superseded: boolean) =>
  serialise([paragraph(strong('e2e'), `: ${e2eState(kernel, superseded)}`)]);

const supersededNote = (sha: string | undefined, headSha: string | undefined) =>
  serialise([
    alert(
      'WARNING',
      'Superseded: commit ',
      short(sha),
      " is not the pull request's head (",
      short(headSha),
      '); these results are not current, and ',
      short(headSha),
      "'s replace them when its stages end on this runner.",
    ),
  ]);

/** The commit whose sections a runner shows: the PR's head when it has any, else the latest that finished. */
function shownCommit(sections: readonly StagedSection[], headSha: string | undefined): string | undefined {
  if (headSha && sections.some((s) => s.meta.sha === headSha)) return headSha;
  const latest = [...sections].sort((a, b) =>
    (b.meta.finishedAt ?? '').localeCompare(a.meta.finishedAt ?? ''),
  )[0];
  return latest?.meta.sha;
}

/**
 * Per runner (sorted), one block of text: the shown commit's sections in stage order, the e2e's state after a kernel
 * stage without its e2e, and a superseded note when that commit is not the PR's head. Other commits are left out.
 */
export function arrangeSections(sections: readonly StagedSection[], headSha?: string): string[] {
  const byRunner = new Map<string, StagedSection[]>();
  for (const s of sections) byRunner.set(s.meta.runner, [...(byRunner.get(s.meta.runner) ?? []), s]);
  return [...byRunner.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([, all]) => {
      const sha = shownCommit(all, headSha);
      const shown = all
        .filter((s) => s.meta.sha === sha)
        .sort((a, b) => STAGE_ORDER[a.meta.stage] - STAGE_ORDER[b.meta.stage]);
      const superseded = Boolean(headSha && sha && sha !== headSha);
      const note = superseded ? supersededNote(sha, headSha) : '';
      const kernel = shown.find((s) => s.meta.stage === 'kernel');
      const hasE2e = shown.some((s) => s.meta.stage === 'e2e');
      const parts: string[] = [];
      for (const s of shown) {
        parts.push(s.text.endsWith('\n') ? s.text : `${s.text}\n`);
        if (s === kernel && !hasE2e) parts.push(`\n${e2eLine(kernel.meta, superseded)}`);
        // the first section's headline opens the block; the note follows it, above the detail it qualifies
        if (s === shown[0] && note) parts.push(`\n${note}`);
      }
      return parts.join('\n');
    });
}

export interface CheckState {
  status: 'in_progress' | 'completed';
  /** a stage of the commit was cancelled: the check concludes cancelled */
  cancelled: boolean;
}

/**
 * The check run of one commit: in progress while a runner's e2e follows its kernel stage; completed once every e2e
 * reported, or at once when a stage failed (the gate does not wait for the rest) or was cancelled.
 */
export function checkState(sections: readonly SectionMeta[], sha: string): CheckState {
  const mine = sections.filter((m) => m.sha === sha);
  const cancelled = mine.some((m) => m.cancelled);
  const failed = mine.some((m) => m.exitCode !== 0);
  const waiting = awaitingE2e(mine, sha).length > 0;
  return { status: waiting && !cancelled && !failed ? 'in_progress' : 'completed', cancelled };
}

/** The verdicts of one commit's sections, for combineVerdicts. */
export function sectionVerdicts(sections: readonly SectionMeta[], sha: string): RunVerdict[] {
  return sections
    .filter((m) => m.sha === sha)
    .map((m) => ({
      verdict: m.verdict,
      exitCode: m.exitCode,
      ...(m.exitCode ? { failure: `${m.stage} stage on ${m.runner}` } : {}),
    }));
}
