// A cancel inside the process runner and the step recorder: every running group stopped within its grace, no
// command started after it, the running step and the steps after it recorded as cancelled.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cancelRun, RunCancelled, resetCancel, runLogged, startLogged } from '../src/pipeline/process.js';
import { StepRecorder } from '../src/pipeline/step.js';
import { emptyResult } from '../src/pipeline/validate-pipeline.js';
import { pipelineConfig, recordingHost } from './fakes/world.js';
import { tempDir } from './helpers.js';

afterEach(() => resetCancel());

describe('cancelRun', () => {
  it('stops a running command and the child it forked, and nothing starts after it', {
    timeout: 30_000,
  }, async () => {
    const log = join(await tempDir('vkci-cancel-'), 'x.log');
    // a shell that ignores SIGTERM, with a child: only the SIGKILL after the grace ends the group
    const running = runLogged('bash', ['-c', "trap '' TERM; sleep 60 & wait"], {
      timeoutMs: 60_000,
      logFile: log,
    });
    await new Promise((r) => setTimeout(r, 300));
    const t0 = performance.now();
    await cancelRun('SIGTERM', 500);
    const r = await running;
    expect((performance.now() - t0) / 1000).toBeLessThan(10);
    expect(r.signal).toBe('SIGKILL');
    expect(() => startLogged('true', [], {})).toThrow(RunCancelled);
    await expect(runLogged('true', [], { timeoutMs: 1_000, logFile: log })).rejects.toThrow(
      'cancelled (SIGTERM)',
    );
  });

  it('records the running step and every later one as cancelled, with what finished before', {
    timeout: 30_000,
  }, async () => {
    const config = await pipelineConfig({});
    const result = emptyResult(config, recordingHost());
    const steps = new StepRecorder({
      result,
      outDir: await tempDir('vkci-cancel-out-'),
      host: recordingHost(),
      scrub: (s) => s,
    });
    await steps.run('checkout', async () => {});
    const e2e = steps.run('e2e', async (step) => {
      const r = await step.run('sleep', ['30'], { timeoutMs: 60_000 });
      if (r.exitCode !== 0) throw new Error(`sleep exited ${r.exitCode ?? r.signal}`);
    });
    await new Promise((r) => setTimeout(r, 300));
    await cancelRun('SIGTERM', 500);
    await e2e;
    let ran = false;
    await steps.run('microbench', async () => {
      ran = true;
    });
    steps.record('install', 'skipped', 'stage kernel: part of the e2e stage');
    expect(ran).toBe(false);
    const status = Object.fromEntries(result.steps.map((s) => [s.name, [s.status, s.reason]]));
    expect(status.checkout).toEqual(['passed', undefined]);
    expect(status.e2e).toEqual(['cancelled', 'cancelled (SIGTERM) while it ran']);
    expect(status.microbench).toEqual(['cancelled', 'not run: the run was cancelled (SIGTERM)']);
    expect(status.install).toEqual(['cancelled', 'not run: the run was cancelled (SIGTERM)']);
    expect(result.cancelled).toMatchObject({ signal: 'SIGTERM', step: 'e2e' });
  });
});
