import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { gitHistoryStore, historyFile, isRaceRejection } from '../src/nightly/history-git.js';
import { formatHistoryLine, type HistoryRecord, historyRecordFrom, pinKey } from '../src/nightly/record.js';
import { gitInit, NO_AUTO_GC_FLAGS, tempDir } from './helpers.js';
import { fakeSha, H200, nightDate, seededRandom, simulatedRunResult } from './nightly-sim.js';

const BRANCH = 'vllm-kernel-ci-data';

async function bareRemote(): Promise<string> {
  const dir = await tempDir('vkci-remote-');
  await gitInit(dir, '--bare');
  return dir;
}

function record(runner: string, night: number): HistoryRecord {
  return historyRecordFrom(
    simulatedRunResult({
      night: nightDate('2026-10-01', night),
      runner,
      device: H200,
      vllmSha: fakeSha(night + 1),
      noise: 0.01,
      random: seededRandom(night),
    }),
  );
}

/** The branch as a fresh clone sees it: what any later reader gets. */
async function branchFile(remote: string, path: string): Promise<string> {
  const { stdout } = await execa('git', ['--git-dir', remote, 'show', `${BRANCH}:${path}`]);
  return stdout;
}

let lastWorkDir = '';

async function store(remote: string, extra: Partial<Parameters<typeof gitHistoryStore>[0]> = {}) {
  lastWorkDir = join(await tempDir('vkci-clone-'), 'history');
  return gitHistoryStore({
    remote,
    branch: BRANCH,
    workDir: lastWorkDir,
    retentionDays: 60,
    ...extra,
  });
}

describe('history on a data branch', () => {
  it('creates the branch on the first night and appends one line per night', async () => {
    const remote = await bareRemote();
    const history = await store(remote);
    expect(await history.head()).toBeUndefined();
    const first = await history.append(record('h200-1', 0));
    expect(first).toMatchObject({ attempts: 1, problems: [] });
    expect(first.records).toHaveLength(1);
    const second = await history.append(record('h200-1', 1));
    expect(second.records.map((r) => r.night)).toEqual(['2026-10-01', '2026-10-02']);
    expect(await history.head()).toBe(second.commit);
    const gc = await execa('git', ['-C', lastWorkDir, 'config', '--get', 'gc.auto']);
    expect(gc.stdout).toBe('0');

    const text = await branchFile(remote, historyFile('fused_shared_expert_gate', 'h200-1'));
    expect(text.split('\n')).toEqual([
      formatHistoryLine(record('h200-1', 0)),
      formatHistoryLine(record('h200-1', 1)),
    ]);
    expect(await branchFile(remote, 'README.md')).toContain('do not merge it');
    const { stdout: log } = await execa('git', ['--git-dir', remote, 'log', '--format=%s', BRANCH]);
    expect(log.split('\n')).toEqual([
      'nightly: fused_shared_expert_gate on h200-1, 2026-10-02',
      'nightly: fused_shared_expert_gate on h200-1, 2026-10-01',
    ]);
  });

  it('keeps both lines when two runners push the same night (the second re-fetches and retries)', async () => {
    const remote = await bareRemote();
    await (await store(remote)).append(record('h200-1', 0));
    // both runners commit on the same tip before either pushes
    let committed = 0;
    let release: () => void = () => {};
    const bothCommitted = new Promise<void>((r) => {
      release = r;
    });
    const barrier = async () => {
      committed++;
      if (committed === 2) release();
      await bothCommitted;
    };
    const a = await store(remote, { beforePush: barrier });
    const b = await store(remote, { beforePush: barrier });
    const [ra, rb] = await Promise.all([a.append(record('h200-1', 1)), b.append(record('mi355x-1', 1))]);
    expect([ra.attempts, rb.attempts].sort()).toEqual([1, 2]);
    const last = ra.attempts === 2 ? ra : rb;
    expect(last.records.map((r) => `${r.runner} ${r.night}`).sort()).toEqual([
      'h200-1 2026-10-01',
      'h200-1 2026-10-02',
      'mi355x-1 2026-10-02',
    ]);
    const fresh = await (await store(remote)).read();
    expect(fresh.records).toHaveLength(3);
    expect(fresh.commit).toBe(last.commit);
  });

  it('keeps both lines when the same runner label pushes twice at once (same file)', async () => {
    const remote = await bareRemote();
    let committed = 0;
    let release: () => void = () => {};
    const bothCommitted = new Promise<void>((r) => {
      release = r;
    });
    const barrier = async () => {
      if (++committed === 2) release();
      await bothCommitted;
    };
    const a = await store(remote, { beforePush: barrier });
    const b = await store(remote, { beforePush: barrier });
    const first = record('h200-1', 3);
    const rerun = { ...first, at: `${first.night}T05:00:00.000Z` };
    await Promise.all([a.append(first), b.append(rerun)]);
    const text = await branchFile(remote, historyFile('fused_shared_expert_gate', 'h200-1'));
    expect(text.split('\n').sort()).toEqual([formatHistoryLine(first), formatHistoryLine(rerun)].sort());
  });

  it('drops nights past the retention window and keeps a line it cannot read', async () => {
    const remote = await bareRemote();
    const history = await store(remote, { retentionDays: 3 });
    await history.append(record('h200-1', 0));
    await history.append(record('mi355x-1', 0));
    // a hand-edited line must survive pruning
    const clone = await tempDir('vkci-edit-');
    await execa('git', ['clone', '--quiet', ...NO_AUTO_GC_FLAGS, '--branch', BRANCH, remote, clone]);
    const file = join(clone, historyFile('fused_shared_expert_gate', 'h200-1'));
    await execa('sh', ['-c', `echo 'not a record' >> '${file}'`]);
    await execa('git', ['-C', clone, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qam', 'edit']);
    await execa('git', ['-C', clone, 'push', '--quiet', 'origin', BRANCH]);

    for (const night of [1, 2, 3, 4]) await history.append(record('h200-1', night));
    const { records, problems } = await history.read();
    expect(records.map((r) => `${r.runner} ${r.night}`)).toEqual([
      'h200-1 2026-10-03',
      'h200-1 2026-10-04',
      'h200-1 2026-10-05',
    ]);
    expect(problems).toEqual(['nightly/fused_shared_expert_gate/h200-1.jsonl:1: not JSON']);
    await expect(branchFile(remote, historyFile('fused_shared_expert_gate', 'mi355x-1'))).rejects.toThrow();
    expect(await branchFile(remote, historyFile('fused_shared_expert_gate', 'h200-1'))).toMatch(
      /^not a record\n/,
    );
  });

  it('keeps the nights a series still needs past the retention window, in every runner file of the pool', async () => {
    const remote = await bareRemote();
    // ephemeral runners: one file a night; the pin names the pool and the night, whichever runner ran it
    const history = await store(remote, {
      retentionDays: 3,
      pinned: (records) => new Set(records.filter((r) => r.night === '2026-10-02').map(pinKey)),
    });
    for (const night of [0, 1, 2, 3, 4, 5]) await history.append(record(`eph-${night}`, night));
    const { records } = await history.read();
    expect(records.map((r) => `${r.runner} ${r.night}`).sort()).toEqual([
      'eph-1 2026-10-02',
      'eph-3 2026-10-04',
      'eph-4 2026-10-05',
      'eph-5 2026-10-06',
    ]);
    await expect(branchFile(remote, historyFile('fused_shared_expert_gate', 'eph-2'))).rejects.toThrow();
  });

  it('says what to change when the remote refuses the push', async () => {
    const remote = await bareRemote();
    await execa('git', ['--git-dir', remote, 'config', 'receive.denyNonFastForwards', 'true']);
    const hook = join(remote, 'hooks', 'pre-receive');
    await execa('sh', ['-c', `printf '#!/bin/sh\\necho "permission denied" >&2\\nexit 1\\n' > '${hook}'`]);
    await execa('chmod', ['+x', hook]);
    const history = await store(remote);
    await expect(history.append(record('h200-1', 0))).rejects.toThrow(
      /Pushing the nightly history to 'vllm-kernel-ci-data' of .* failed: .*permissions: contents: write/,
    );
  });

  it('fails with the branch and the remote named when the repository cannot be reached', async () => {
    const history = await store('/nonexistent/vkci-remote.git');
    await expect(history.read()).rejects.toThrow(
      /Cannot read the history branch 'vllm-kernel-ci-data' of \/nonexistent\/vkci-remote\.git/,
    );
  });

  it('tells a lost race from other push failures', () => {
    expect(isRaceRejection(' ! [rejected]        HEAD -> data (fetch first)')).toBe(true);
    expect(isRaceRejection('!\tHEAD:refs/heads/data\t[rejected] (non-fast-forward)')).toBe(true);
    expect(isRaceRejection(' ! [remote rejected] HEAD -> data (cannot lock ref)')).toBe(true);
    expect(isRaceRejection('remote: Permission to x/y.git denied to github-actions[bot].')).toBe(false);
  });
});
