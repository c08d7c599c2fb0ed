// The stages in the comment, as pure functions: which commit a runner shows, the e2e's state between the stages,
// the superseded note, the check run's state, and sections written before stages.
import { describe, expect, it } from 'vitest';
import { renderComment, sectionMeta } from '../src/report/render.js';
import {
  arrangeSections,
  checkState,
  clockTime,
  type SectionMeta,
  type StagedSection,
  sectionKey,
} from '../src/report/stages.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

function section(meta: Partial<SectionMeta> & Pick<SectionMeta, 'runner' | 'stage'>): StagedSection {
  const m: SectionMeta = { verdict: 'passed', exitCode: 0, cancelled: false, ...meta };
  return { meta: m, text: `<!-- ${m.runner} ${m.stage} ${m.sha ?? '-'} -->\n### ${m.runner} ${m.stage}\n` };
}

describe('arrangeSections', () => {
  it("shows the PR head's stages in order, the e2e running between them until it reports", () => {
    const kernel = section({
      runner: 'r',
      stage: 'kernel',
      sha: B,
      finishedAt: '2026-12-03T09:05:00Z',
      planMinutes: 95,
    });
    const [only] = arrangeSections([kernel], B);
    expect(only).toContain('### r kernel');
    expect(only).toContain('**e2e**: running on r since 09:05 UTC (plan: 1 h 35 min).');
    const [both] = arrangeSections([section({ runner: 'r', stage: 'e2e', sha: B }), kernel], B);
    expect(both.indexOf('### r kernel')).toBeLessThan(both.indexOf('### r e2e'));
    expect(both).not.toContain('running on');
  });

  it('an older commit only until the head reports on that runner, and then never', () => {
    const old = section({ runner: 'r', stage: 'kernel', sha: A, finishedAt: '2026-12-03T09:05:00Z' });
    const [superseded] = arrangeSections([old], B);
    expect(superseded).toContain(
      "Superseded: commit `aaaaaaaaaaaa` is not the pull request's head (`bbbbbbbbbbbb`)",
    );
    expect(superseded).toContain('**e2e**: did not finish before the newer push.');
    const head = section({ runner: 'r', stage: 'kernel', sha: B, finishedAt: '2026-12-03T08:00:00Z' });
    const [current] = arrangeSections([old, head], B);
    expect(current).not.toContain('aaaa');
    expect(current).not.toContain('Superseded');
  });

  it('a failed or cancelled kernel stage says the e2e does not follow', () => {
    const failed = section({ runner: 'r', stage: 'kernel', sha: B, verdict: 'failed', exitCode: 1 });
    expect(arrangeSections([failed], B)[0]).toContain(
      '**e2e**: skipped: the kernel stage did not pass on r.',
    );
    const cancelled = section({ runner: 'r', stage: 'kernel', sha: B, cancelled: true });
    expect(arrangeSections([cancelled], B)[0]).toContain('**e2e**: not run: the kernel stage was cancelled.');
  });

  it('one block per runner, sorted', () => {
    const blocks = arrangeSections(
      [section({ runner: 'z', stage: 'all', sha: B }), section({ runner: 'a', stage: 'all', sha: B })],
      B,
    );
    expect(blocks.map((b) => b.split('\n')[0])).toEqual([`<!-- a all ${B} -->`, `<!-- z all ${B} -->`]);
  });
});

describe('checkState', () => {
  const kernel = (runner: string, more: Partial<SectionMeta> = {}): SectionMeta => ({
    runner,
    stage: 'kernel',
    sha: B,
    verdict: 'passed',
    exitCode: 0,
    cancelled: false,
    ...more,
  });
  it('in progress while an e2e follows a kernel stage; completed when every e2e reported', () => {
    expect(checkState([kernel('r')], B)).toEqual({ status: 'in_progress', cancelled: false });
    expect(checkState([kernel('r'), { ...kernel('r'), stage: 'e2e' }], B).status).toBe('completed');
    expect(checkState([kernel('r'), kernel('q'), { ...kernel('r'), stage: 'e2e' }], B).status).toBe(
      'in_progress',
    );
  });
  it('completed at once on a failure or a cancel; other commits do not count', () => {
    expect(checkState([kernel('r'), kernel('q', { exitCode: 1, verdict: 'failed' })], B).status).toBe(
      'completed',
    );
    expect(checkState([kernel('r'), { ...kernel('r'), stage: 'e2e', cancelled: true }], B)).toEqual({
      status: 'completed',
      cancelled: true,
    });
    expect(checkState([kernel('r', { sha: A })], B).status).toBe('completed');
  });
});

describe('markers', () => {
  it('a section written before stages reads as stage all, keyed by its runner, and stays in the comment', () => {
    const old =
      '<!-- vllm-kernel-ci:runner=h100-1 -->\n### ✅ h100-1 · H100: passed\n<!-- /vllm-kernel-ci:runner -->\n';
    expect(sectionMeta(old)).toEqual({
      runner: 'h100-1',
      stage: 'all',
      verdict: 'not-available',
      exitCode: 0,
      cancelled: false,
    });
    expect(sectionKey({ runner: 'h100-1', stage: 'all' })).toBe('h100-1');
    expect(renderComment([old], { headSha: B })).toContain('### ✅ h100-1 · H100: passed');
  });

  it('an attribute we do not know, or a value out of its set, is not taken', () => {
    const odd = `<!-- vllm-kernel-ci:runner=r stage=deploy verdict=great sha=zz exit=7 -->\nx\n<!-- /vllm-kernel-ci:runner -->\n`;
    expect(sectionMeta(odd)).toEqual({
      runner: 'r',
      stage: 'all',
      verdict: 'not-available',
      exitCode: 0,
      cancelled: false,
    });
  });

  it('clockTime: hours and minutes in UTC, or says it is unknown', () => {
    expect(clockTime('2026-12-03T14:02:59.900Z')).toBe('14:02 UTC');
    expect(clockTime('yesterday')).toBe('an unknown time');
  });
});
