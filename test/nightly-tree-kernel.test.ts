// Nightly on the night vLLM main carries the op itself: main's own kernel is tested, the issue says so, and its
// numbers start their own history series.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import type { Host } from '../src/host.js';
import { runNightlyWith } from '../src/modes/nightly.js';
import { gitHistoryStore } from '../src/nightly/history-git.js';
import { seriesKey } from '../src/nightly/record.js';
import type { RunResult } from '../src/results/run-result.js';
import { tempDir } from './helpers.js';
import { fakeSha, H200, nightDate, seededRandom, simulatedRunResult } from './nightly-sim.js';

const host: Host = {
  info: () => {},
  warning: () => {},
  group: (_n, fn) => fn(),
  setOutput: () => {},
  summary: async () => {},
  setSecret: () => {},
  env: {},
};

function night(i: number, kernel?: RunResult['kernel']): RunResult {
  const result = simulatedRunResult({
    night: nightDate('2026-11-01', i),
    runner: 'h200-1',
    device: H200,
    vllmSha: fakeSha(i),
    noise: 0.01,
    random: seededRandom(i + 1),
  });
  return kernel ? { ...result, kernel } : result;
}

describe('nightly when vLLM main carries the op', () => {
  it('records the kernel source, starts a new series and says so in the issue text', {
    timeout: 60_000,
  }, async () => {
    const remote = await tempDir('vkci-remote-');
    await execa('git', ['init', '--quiet', '--bare', remote]);
    const out = await tempDir('vkci-out-');
    const config = parseConfig((name) => ({ mode: 'nightly', 'output-dir': out })[name]);
    const history = gitHistoryStore({
      remote,
      branch: config.nightly.historyBranch,
      workDir: join(await tempDir('vkci-clone-'), 'h'),
      retentionDays: 60,
    });
    const bundleKernel = {
      source: 'bundle' as const,
      path: 'vllm/model_executor/layers/fused_moe/shared_expert_gate.py',
      symbol: 'fused_shared_expert_gate',
      blobSha: 'a'.repeat(40),
      commit: fakeSha(0),
    };
    for (let i = 0; i < 4; i++) {
      await runNightlyWith(config, host, {
        validate: async () => ({ result: night(i, { ...bundleKernel, commit: fakeSha(i) }) }),
        history,
      });
    }
    const treeKernel = {
      ...bundleKernel,
      source: 'tree' as const,
      blobSha: 'b'.repeat(40),
      commit: fakeSha(4),
    };
    const outcome = await runNightlyWith(config, host, {
      validate: async () => ({ result: night(4, treeKernel) }),
      history,
    });
    const records = (await history.read()).records;
    expect(records.map((r) => r.kernelSource)).toEqual(['bundle', 'bundle', 'bundle', 'bundle', 'tree']);
    expect(seriesKey(records[4])).not.toBe(seriesKey(records[3]));
    expect(seriesKey({ ...records[3], kernelSource: undefined })).toBe(seriesKey(records[3]));
    const report = await readFile(outcome.reportPath as string, 'utf8');
    expect(report).toContain('**vLLM main carries fused_shared_expert_gate itself**');
    expect(report).toContain(
      "tested main's own kernel instead of putting the bundle's in (kernel-source tree)",
    );
    expect(report).toMatch(/\| h200-1 \| new-series \|/);
    expect(report).toContain("vLLM main's own kernel");
  });
});
