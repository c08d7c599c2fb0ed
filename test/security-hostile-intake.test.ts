import { symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_RUN_RESULT_BYTES,
  readUntrustedRunResult,
  STRING_CAPS,
} from '../src/security/artifacts.js';
import {
  HEAD_SHA,
  honestRunResult,
  PAYLOADS,
  PR,
  REFUSED,
  withPayloadEverywhere,
} from './fixtures/hostile/corpus.js';
import { tempDir } from './helpers.js';

const dir = await tempDir('vkci-hostile-');
let n = 0;
async function artifact(content: string | Buffer): Promise<string> {
  const path = join(dir, `run-result-${n++}.json`);
  await writeFile(path, content);
  return path;
}
const expected = { maxBytes: DEFAULT_MAX_RUN_RESULT_BYTES, expectedPr: PR, expectedSha: HEAD_SHA };

describe('hostile RunResults refused at intake, each saying why and naming the file', () => {
  it('the honest RunResult is read back unchanged (the corpus is not refused for being a corpus)', async () => {
    expect(await readUntrustedRunResult(await artifact(JSON.stringify(honestRunResult())), expected)).toEqual(
      honestRunResult(),
    );
  });

  for (const c of REFUSED) {
    it(c.name, async () => {
      const path = await artifact(c.content());
      const error = await readUntrustedRunResult(path, { ...expected, ...c.options }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(error?.message).toMatch(c.error);
      expect(error?.message).toContain(path);
    });
  }

  it('a link to a file of the runner (e.g. its credentials)', async () => {
    const path = join(dir, 'linked.json');
    await symlink('/etc/passwd', path);
    await expect(readUntrustedRunResult(path, expected)).rejects.toThrow(/it is not a regular file/);
  });

  it('a directory where the file should be', async () => {
    await expect(readUntrustedRunResult(dir, expected)).rejects.toThrow(/it is not a regular file/);
  });
});

describe('hostile RunResults neutralised at intake', () => {
  it('a 10 MB string under a larger cap is cut to the field cap, saying so', async () => {
    const r = honestRunResult();
    r.steps[0].logTail = 'A'.repeat(10 * 1024 * 1024);
    r.device.name = 'B'.repeat(1_000_000);
    const got = await readUntrustedRunResult(await artifact(JSON.stringify(r)), {
      ...expected,
      maxBytes: 64 << 20,
    });
    expect(got.steps[0].logTail).toHaveLength(
      STRING_CAPS.logTail + `… [${10 * 1024 * 1024 - STRING_CAPS.logTail} characters cut]`.length,
    );
    expect(got.device.name.startsWith('B'.repeat(STRING_CAPS.short))).toBe(true);
    expect(got.device.name.length).toBeLessThan(STRING_CAPS.short + 40);
  });

  it('a "__proto__" key cannot reach any prototype', async () => {
    const text = JSON.stringify(honestRunResult()).replace(
      '"settings":{',
      '"settings":{"__proto__":{"polluted":"yes"},"constructor":"x",',
    );
    const got = await readUntrustedRunResult(await artifact(text), expected).catch((e: Error) => e);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    if (!(got instanceof Error)) {
      expect(Object.getPrototypeOf(got.settings)).toBe(Object.prototype);
      expect((got.settings as Record<string, unknown>).polluted).toBeUndefined();
    }
  });

  it('unknown fields are dropped, not carried to the renderer', async () => {
    const r = {
      ...honestRunResult(),
      html: '<script>',
      identity: { ...honestRunResult().identity, extra: 1 },
    };
    const got = (await readUntrustedRunResult(
      await artifact(JSON.stringify(r)),
      expected,
    )) as unknown as Record<string, unknown>;
    expect(got.html).toBeUndefined();
    expect((got.identity as Record<string, unknown>).extra).toBeUndefined();
  });

  it('control characters, terminal escapes and bidirectional overrides are removed from every string', async () => {
    const r = withPayloadEverywhere(`${PAYLOADS.bidi} ${PAYLOADS.controls}`);
    const got = await readUntrustedRunResult(await artifact(JSON.stringify(r)), expected);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting their absence
    const invisible = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
    expect(JSON.stringify(got)).not.toMatch(invisible);
    // JSON.stringify writes a remaining control character as \u00XX
    expect(JSON.stringify(got)).not.toContain('\\u00');
    expect(got.device.name).toBe('safegnp.exehidden bell escapered nul');
  });
});
