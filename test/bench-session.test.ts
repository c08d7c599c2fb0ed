// The bench session (kernels/bench_session.py through src/pipeline/bench-session.ts) where vLLM's client does not
// import: each run is the CLI, forked from the session; a run past its timeout stops the session, the next run
// starts a new one; an interpreter that cannot start the session leaves each run to the CLI itself.
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BenchSession } from '../src/pipeline/bench-session.js';
import { childEnvironment } from '../src/security/child-env.js';
import { stepHandle } from './fakes/world.js';
import { ROOT, tempDir } from './helpers.js';

const PYTHON = process.env.VLLM_KERNEL_CI_PYTHON ?? 'python3';
const SCRIPT = join(ROOT, 'kernels', 'bench_session.py');

/** A `vllm` whose bench sleeps on --hang, else says its arguments and the process it ran in. */
async function fakeCli(): Promise<string> {
  const cli = join(await tempDir('vkci-bench-cli-'), 'vllm');
  await writeFile(cli, '#!/bin/sh\ncase "$*" in *--hang*) sleep 60;; esac\necho "cli $* pid $$"\n');
  await chmod(cli, 0o755);
  return cli;
}

describe('the bench session without vLLM', () => {
  it('runs the CLI per run; a run past its timeout stops the session, and the next run starts a new one', {
    timeout: 60_000,
  }, async () => {
    const step = await stepHandle('e2e');
    const cli = await fakeCli();
    const session = new BenchSession(step, {
      session: { python: PYTHON, script: SCRIPT },
      vllm: cli,
      env: childEnvironment(process.env),
    });
    const first = await session.run(['bench', 'serve', '--port', '1'], 20_000);
    expect(first).toMatchObject({ exitCode: 0, timedOut: false });
    expect(first.output).toMatch(/^cli bench serve --port 1 pid \d+/);
    expect(session.inProcess).toBe(false);
    const hung = await session.run(['bench', 'serve', '--hang'], 1_000);
    expect(hung).toMatchObject({ timedOut: true, exitCode: undefined });
    const after = await session.run(['bench', 'serve', '--port', '2'], 20_000);
    expect(after).toMatchObject({ exitCode: 0, timedOut: false });
    await session.stop();
    const log = await readFile(step.logFile, 'utf8');
    expect(log).toContain('[timed out after 1 s; the bench session stopped]');
    // two sessions started: the first, and the one after the timeout
    expect(log.match(/bench_session\.py/g)?.length).toBeGreaterThanOrEqual(2);
    // each run's command as it starts, its output after
    const started = log.search(/\$ .*vllm bench serve --port 2 {3}\[bench session, run 3\]/);
    expect(started).toBeGreaterThan(0);
    expect(log.indexOf('cli bench serve --port 2')).toBeGreaterThan(started);
  });

  it('an interpreter that cannot start it: each run is the CLI, and the log says why', async () => {
    const step = await stepHandle('e2e');
    const session = new BenchSession(step, {
      session: { python: '/nonexistent/python', script: SCRIPT },
      vllm: await fakeCli(),
      env: childEnvironment(process.env),
    });
    const r = await session.run(['bench', 'serve', '--port', '3'], 20_000);
    expect(r).toMatchObject({ exitCode: 0 });
    expect(r.output).toContain('cli bench serve --port 3');
    expect(await readFile(step.logFile, 'utf8')).toMatch(
      /the bench session \(.*bench_session\.py\) did not start: .*; each run is vllm bench serve/,
    );
  });
});
