// One report as a browser shows it: rendered as GitHub does (micromark + GFM), screenshot by headless Chromium
// into out/screenshots/ (CI uploads it as an artifact). Skipped, with the reason, where no Chromium is installed.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { micromark } from 'micromark';
import { gfm, gfmHtml } from 'micromark-extension-gfm';
import { describe, expect, it } from 'vitest';
import { renderReport } from '../src/report/render.js';
import { parseRunResult } from '../src/results/run-result.js';
import { analyseRuns } from '../src/stats/analyse.js';
import { ROOT, tempDir } from './helpers.js';

const BROWSERS = [process.env.CHROMIUM, 'chromium', 'chromium-browser', 'google-chrome'].filter(Boolean);
const browser = BROWSERS.find((b) => spawnSync('which', [b as string], { encoding: 'utf8' }).status === 0) as
  | string
  | undefined;
const OUT = join(ROOT, 'out/screenshots');
const WIDTH = 1280;
const HEIGHT = 3000;

const STYLE = `body{font:14px/1.5 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;max-width:1012px;margin:24px auto;color:#1f2328}
table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #d1d9e0;padding:4px 10px}
code{background:#eff1f3;padding:2px 4px;border-radius:4px}pre{background:#f6f8fa;padding:12px;overflow:auto}`;

/** Width and height of a PNG, from its IHDR chunk. */
function pngSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

describe.skipIf(!browser)(
  `the follow-up report in headless Chromium${browser ? '' : ' (skipped: no chromium, chromium-browser or google-chrome on PATH; `apt-get install chromium`)'}`,
  () => {
    it('renders to a PNG of the whole page', { timeout: 120_000 }, async () => {
      const name = 'run-result-followup-merged.json';
      const file = join(ROOT, 'fixtures/gpu/validate-pr-trees-h200', name);
      const result = parseRunResult(JSON.parse(readFileSync(file, 'utf8')), name);
      const markdown = renderReport(analyseRuns([result], { minEffectPct: 2, failOnRegression: false }));
      const body = micromark(markdown, {
        extensions: [gfm()],
        htmlExtensions: [gfmHtml()],
        allowDangerousHtml: true,
      });
      const dir = await tempDir('vkci-screenshot-');
      const page = join(dir, 'report.html');
      writeFileSync(page, `<!doctype html><meta charset="utf-8"><style>${STYLE}</style>${body}`);
      mkdirSync(OUT, { recursive: true });
      const png = join(OUT, 'report-followup.png');
      const run = spawnSync(
        browser as string,
        [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--hide-scrollbars',
          `--user-data-dir=${join(dir, 'profile')}`,
          `--window-size=${WIDTH},${HEIGHT}`,
          `--screenshot=${png}`,
          `file://${page}`,
        ],
        { encoding: 'utf8', timeout: 100_000 },
      );
      expect(run.status, run.stderr).toBe(0);
      expect(pngSize(readFileSync(png))).toEqual({ width: WIDTH, height: HEIGHT });
      // a page of tables and text, not a blank one: a blank 1280×3000 PNG compresses to a few KB
      expect(statSync(png).size).toBeGreaterThan(100_000);
    });
  },
);
