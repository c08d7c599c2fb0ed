import { appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { heartbeatLine, lastProgress, startHeartbeat } from '../src/pipeline/heartbeat.js';
import { sleep } from '../src/pipeline/process.js';
import { downloadProgress } from '../src/vllm/pypi.js';
import { tempDir } from './helpers.js';

// what the kernel-tests step's log holds while pytest runs with -p pytest_progress
const PYTEST_LOG = [
  '$ /venv/bin/python -m pytest -q -p no:cacheprovider -p junit_params -p pytest_progress test_conformance.py',
  '[progress] 0 of 480 cases',
  '........................................................................ [ 15%]',
  '[progress] 120 of 480 cases',
  '........................',
].join('\n');

describe('heartbeat lines', () => {
  it('name the step, the time, the command, the count and the last output', () => {
    expect(lastProgress(PYTEST_LOG)).toEqual({ done: 120, total: 480, what: 'cases' });
    expect(heartbeatLine('kernel-tests', 95, PYTEST_LOG)).toBe(
      'kernel-tests: still running after 1 min 35 s; running /venv/bin/python -m pytest -q -p no:cacheprovider -p junit_params -p pytest_progress test_conformance.py; 120 of 480 cases (25%); last output: ........................',
    );
  });

  it('without a count: what pip is downloading', () => {
    const log =
      '$ /venv/bin/python -m pip install -r kernels/requirements.txt\nCollecting torch\n  Downloading torch-2.9.0-cp311-manylinux_2_28_x86_64.whl (900.1 MB)\n';
    expect(heartbeatLine('install', 31, log)).toBe(
      'install: still running after 31 s; running /venv/bin/python -m pip install -r kernels/requirements.txt; last output: Downloading torch-2.9.0-cp311-manylinux_2_28_x86_64.whl (900.1 MB)',
    );
  });

  it('are printed only after a silence, and never after stop', async () => {
    const logFile = join(await tempDir('vkci-beat-'), 'step.log');
    await writeFile(logFile, PYTEST_LOG);
    const lines: string[] = [];
    const beat = startHeartbeat({ step: 'kernel-tests', logFile, info: (l) => lines.push(l), everyMs: 200 });
    for (let i = 0; i < 6; i++) {
      await sleep(50);
      beat.touch();
    }
    expect(lines).toEqual([]);
    await appendFile(logFile, '\n[progress] 240 of 480 cases\n');
    await sleep(450);
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines[0]).toMatch(/^kernel-tests: still running after .*; 240 of 480 cases \(50%\)/);
    beat.stop();
    const seen = lines.length;
    await sleep(450);
    expect(lines).toHaveLength(seen);
  });

  it('the sdist download logs bytes of the total, a line every 30 s', () => {
    let t = 0;
    const lines: string[] = [];
    const progress = downloadProgress(
      47_000_000,
      (m) => lines.push(m),
      30_000,
      () => t,
    );
    progress(1_000_000);
    t = 29_000;
    progress(1_000_000);
    expect(lines).toEqual([]);
    t = 31_000;
    progress(10_000_000);
    t = 40_000;
    progress(10_000_000);
    expect(lines).toEqual(['downloaded 12.0 of 47.0 MB']);
  });
});
