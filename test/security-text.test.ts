// Invisible characters: stripped from what a reviewer reads, shown as escapes on a terminal.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliHost } from '../src/cli/io.js';
import { parseConfig } from '../src/config.js';
import { runReport } from '../src/modes/report.js';
import { inert } from '../src/report/escape.js';
import { DEFAULT_MAX_RUN_RESULT_BYTES, readUntrustedRunResult } from '../src/security/artifacts.js';
import { stripInvisible } from '../src/security/text.js';
import { tempDir } from './helpers.js';
import { fullRun } from './report-fixtures.js';

const TAG = String.fromCodePoint(0xe0041); // TAG LATIN CAPITAL LETTER A: renders as nothing
const HIDDEN: [string, string][] = [
  ['U+200E left-to-right mark', '\u200e'],
  ['U+200F right-to-left mark', '\u200f'],
  ['U+061C Arabic letter mark', '\u061c'],
  ['U+2028 line separator', '\u2028'],
  ['U+3164 Hangul filler', '\u3164'],
  ['a tag character', TAG],
  ['U+FEFF byte order mark', '\ufeff'],
  ['U+2066 left-to-right isolate', '\u2066'],
];

describe('format and bidi characters', () => {
  it.each(HIDDEN)('%s is stripped from report text', (_, c) => {
    expect(inert(`pass${c}ed`)).toMatch(/^pass ?ed$/);
    expect(stripInvisible(`a${c}b`)).toMatch(/^a ?b$/);
  });

  it.each(HIDDEN)('%s is stripped at intake', async (_, c) => {
    const r = fullRun();
    r.identity.runner = `h100${c}`;
    if (r.tests) r.tests[0].id = `test${c}_x`;
    const path = join(await tempDir('vkci-text-'), 'run-result.json');
    await writeFile(path, JSON.stringify(r));
    const read = await readUntrustedRunResult(path, { maxBytes: DEFAULT_MAX_RUN_RESULT_BYTES });
    expect(read.identity.runner).toMatch(/^h100 ?$/);
    expect(read.tests?.[0].id).toMatch(/^test ?_x$/);
  });
});

describe('the CLI prints names escaped', () => {
  it('an artifact file name with a terminal escape sequence is shown as text', async () => {
    const dir = await tempDir('vkci-cli-names-');
    const evil = 'h100\u001b]0;owned\u0007\u001b[2J';
    await mkdir(join(dir, 'results', evil), { recursive: true });
    await writeFile(join(dir, 'results', evil, 'run-result.json'), '{not json');
    const lines: string[] = [];
    const host = cliHost({ out: (t) => lines.push(t), err: (t) => lines.push(t) });
    const config = parseConfig(
      (name) =>
        ({
          mode: 'report',
          results: join(dir, 'results/**/run-result.json'),
          'output-dir': join(dir, 'out'),
        })[name],
    );
    await runReport(config, host);
    const all = lines.join('\n');
    expect(all).toContain('h100\\u{1b}]0;owned\\u{7}\\u{1b}[2J');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: no raw escape may reach the terminal
    expect(all).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
  });
});
