import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { uploadOutputs } from '../src/modes/validate.js';
import { recordingHost } from './fakes/world.js';
import { tempDir } from './helpers.js';

const from = (values: Record<string, string>) => parseConfig((name) => values[name]);

describe('upload-artifacts and artifact-retention-days', () => {
  it('default to uploading, kept 14 days; take true/false and 1 to 90 days', () => {
    expect(from({}).artifacts).toEqual({ upload: true, retentionDays: 14 });
    expect(from({ 'upload-artifacts': 'false', 'artifact-retention-days': '90' }).artifacts).toEqual({
      upload: false,
      retentionDays: 90,
    });
    for (const days of ['0', '91', '7.5', 'week'])
      expect(() => from({ 'artifact-retention-days': days })).toThrow(
        `Invalid artifact-retention-days '${days}'. Expected whole days from 1 to 90.`,
      );
    expect(() => from({ 'upload-artifacts': 'no' })).toThrow("Invalid upload-artifacts 'no'.");
  });

  it('the output directory is uploaded with the retention asked for, or not at all', async () => {
    const out = await tempDir('vkci-artifacts-');
    await mkdir(join(out, 'logs'));
    await writeFile(join(out, 'run-result.json'), '{}');
    await writeFile(join(out, 'logs', 'checkout.log'), 'x');
    const calls: { name: string; files: string[]; retentionDays?: number }[] = [];
    const host = {
      ...recordingHost(),
      uploadArtifact: async (
        name: string,
        files: string[],
        _root: string,
        o?: { retentionDays?: number },
      ) => {
        calls.push({
          name,
          files: files.map((f) => f.slice(out.length + 1)).sort(),
          retentionDays: o?.retentionDays,
        });
      },
    };
    await uploadOutputs(host, out, 'h100', { upload: true, retentionDays: 3 });
    expect(calls).toEqual([
      { name: 'vllm-kernel-ci-out-h100', files: ['logs/checkout.log', 'run-result.json'], retentionDays: 3 },
    ]);
    await uploadOutputs(host, out, 'h100', { upload: false, retentionDays: 3 });
    expect(calls).toHaveLength(1);
    expect(host.lines).toContain(`not uploading ${out} as an artifact: upload-artifacts is false`);
  });
});
