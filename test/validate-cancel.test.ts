// A cancelled validate (a newer push, the runner's stop): SIGTERM to a validate whose e2e has the fake vLLM server
// up and a bench client running. It stops every process group it started, writes a RunResult marked cancelled with
// what finished and the report, and leaves no process behind, well within the 30 s a runner gives a cancelled job.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { parseRunResult } from '../src/results/run-result.js';
import { FAKE_PYTHON, fakeEnv, makeBundle, makeVllmRepo } from './fakes/world.js';
import { ROOT, tempDir } from './helpers.js';

/** Processes whose environment holds `needle` (our fakes all carry their FAKE_STATE_DIR). */
async function processesWith(needle: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const environ = await readFile(`/proc/${entry}/environ`, 'latin1').catch(() => '');
    if (environ.split('\0').includes(needle)) found.push(Number(entry));
  }
  return found;
}

async function until(what: () => string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const exited = (child: ChildProcess) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );

describe('validate on SIGTERM', () => {
  it('stops the server and the bench client, writes a cancelled RunResult within 30 s, leaves nothing', {
    timeout: 240_000,
  }, async () => {
    const work = await tempDir('vkci-cancel-');
    // under the checkout (node_modules is ignored), where the tool finds its own files above the script
    const driver = join(ROOT, 'node_modules', '.cache', 'vllm-kernel-ci-test', `driver-${process.pid}.mjs`);
    await build({
      entryPoints: [join(ROOT, 'test/fakes/validate-driver.ts')],
      outfile: driver,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node24',
      logLevel: 'warning',
      banner: {
        js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      },
    });
    const repo = await makeVllmRepo();
    // the bench sleeps its simulated duration (about a minute a run): SIGTERM lands while it runs
    const env = await fakeEnv({ FAKE_GPU: 'nvidia', FAKE_VLLM_VERSION: '0.33.0', FAKE_TIME_SCALE: '1' });
    const out = join(work, 'out');
    const spec = join(work, 'spec.json');
    await writeFile(
      spec,
      JSON.stringify({
        env,
        reposDir: join(work, 'repos'),
        actionRoot: ROOT,
        inputs: {
          'output-dir': out,
          python: FAKE_PYTHON,
          'runner-label': 'test-runner',
          'vllm-repository': repo.dir,
          'vllm-ref': 'v0.33.0',
          bundle: await makeBundle(),
          install: 'precompiled',
          stage: 'e2e',
          'e2e-backend': 'vllm-serve',
          'e2e-swap': 'restart',
          shapes: '1024x1024',
          concurrencies: '4',
          repeats: '2',
          model: 'Qwen/Qwen1.5-MoE-A2.7B',
          sandbox: 'none',
        },
      }),
    );
    // its own process group, so the test can tell the whole group is gone afterwards
    const child = spawn(process.execPath, [driver, spec], {
      cwd: ROOT,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d) => {
      stderr += String(d);
    });
    let gone = false;
    const done = exited(child).then((r) => {
      gone = true;
      return r;
    });
    const e2eLog = join(out, 'logs', 'e2e.log');
    // a bench client is running against a healthy server
    await until(
      () => `the first bench run (validate said: ${stderr.slice(-1500)})`,
      async () => {
        if (gone) throw new Error(`validate exited before its e2e ran: ${stderr.slice(-1500)}`);
        // runLogged writes each command to the step's log as it starts
        return /^\$ \S*vllm bench serve /m.test(await readFile(e2eLog, 'utf8').catch(() => ''));
      },
      150_000,
    );
    const state = `FAKE_STATE_DIR=${env.FAKE_STATE_DIR}`;
    // the validate, its server (and engine-core child) and its bench client
    expect((await processesWith(state)).length).toBeGreaterThanOrEqual(3);

    const t0 = performance.now();
    child.kill('SIGTERM');
    // a second signal while it winds down (a runner sends SIGINT and SIGTERM) changes nothing
    setTimeout(() => child.kill('SIGINT'), 200);
    const { code } = await done;
    const seconds = (performance.now() - t0) / 1000;
    expect(seconds).toBeLessThan(30);
    expect(code).toBe(1);

    const result = parseRunResult(JSON.parse(await readFile(join(out, 'run-result.json'), 'utf8')), 'run');
    expect(result.stage).toBe('e2e');
    expect(result.cancelled).toMatchObject({ signal: 'SIGTERM', step: 'e2e' });
    expect(result.steps.map((s) => [s.name, s.status])).toEqual([
      ['checkout', 'passed'],
      ['apply-bundle', 'passed'],
      ['install', 'passed'],
      ['detect-device', 'passed'],
      ['compile', 'skipped'],
      ['kernel-tests', 'skipped'],
      ['microbench', 'skipped'],
      ['e2e', 'cancelled'],
    ]);
    const report = await readFile(join(out, 'report.md'), 'utf8');
    expect(report).toContain('🛑 cancelled (SIGTERM during e2e)');

    // nothing left: not the group validate ran in, not a server, engine core or bench client it started
    expect(() => process.kill(-(child.pid as number), 0)).toThrow();
    expect(await processesWith(state)).toEqual([]);
    expect(stderr).toContain('SIGTERM: cancelling the run');
    await rm(driver, { force: true });
  });
});
