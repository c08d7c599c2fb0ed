// Step kernel-tests: the bundle's pytest matrix with --junitxml, one worker per GPU, parsed into TestCase[].
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { JunitParseError, parseJunit } from '../results/parsers/junit.js';
import type { Device, TestCase } from '../results/run-result.js';
import type { CommandResult } from './process.js';
import type { StepHandle } from './step.js';

export interface KernelTestOptions {
  python: string;
  /** directory pytest runs in, and the test file relative to it */
  cwd: string;
  target: string;
  device: Device;
  env: Record<string, string | undefined>;
  /** directory holding the junit_params plugin (the action's kernels/) */
  pluginDir: string;
  timeoutMs: number;
}

function pytestArgs(junit: string, targets: string[]): string[] {
  return [
    '-m',
    'pytest',
    '-q',
    '-p',
    'no:cacheprovider',
    '-p',
    'junit_params',
    '-o',
    'junit_family=xunit1',
    `--junitxml=${junit}`,
    ...targets,
  ];
}

function workerEnv(o: KernelTestOptions, gpu?: number): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {
    ...o.env,
    PYTHONPATH: [o.pluginDir, o.env.PYTHONPATH].filter(Boolean).join(':'),
  };
  // the interpreter runs Triton kernels on the CPU where no GPU is there
  if (o.device.vendor === 'cpu') env.TRITON_INTERPRET = '1';
  if (gpu !== undefined)
    env[o.device.vendor === 'amd' ? 'HIP_VISIBLE_DEVICES' : 'CUDA_VISIBLE_DEVICES'] = String(gpu);
  return env;
}

/** Node ids of the matrix, from `pytest --collect-only -q`. */
export function parseCollected(output: string): string[] {
  return output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^[^\s]+\.py::\S/.test(l));
}

/** Splits the cases over the GPUs, round robin, so each worker gets a similar mix of shapes. */
export function shard<T>(items: T[], workers: number): T[][] {
  const out: T[][] = Array.from({ length: Math.max(1, Math.min(workers, items.length)) }, () => []);
  items.forEach((item, i) => {
    out[i % out.length].push(item);
  });
  return out;
}

function describeExit(r: CommandResult): string {
  if (r.timedOut) return 'timed out';
  if (r.spawnError) return `could not start (${r.spawnError})`;
  return r.signal ? `was killed by ${r.signal}` : `exited ${r.exitCode}`;
}

export interface KernelTestOutcome {
  tests: TestCase[];
  junitFiles: string[];
}

export async function runKernelTests(step: StepHandle, o: KernelTestOptions): Promise<KernelTestOutcome> {
  const workers = o.device.vendor === 'cpu' ? 1 : o.device.count;
  let groups: string[][] = [[o.target]];
  if (workers > 1) {
    const collected = await step.run(
      o.python,
      ['-m', 'pytest', '--collect-only', '-q', '-p', 'no:cacheprovider', o.target],
      {
        cwd: o.cwd,
        env: workerEnv(o),
        timeoutMs: Math.min(o.timeoutMs, 300_000),
      },
    );
    const ids = parseCollected(collected.stdout);
    if (ids.length > 0) groups = shard(ids, workers);
    await step.log(`${ids.length} cases over ${groups.length} workers, one GPU each`);
  }
  const runs = await Promise.all(
    groups.map(async (targets, i) => {
      const junit = join(step.outDir, groups.length > 1 ? `junit-${i}.xml` : 'junit.xml');
      const r = await step.run(o.python, pytestArgs(junit, targets), {
        cwd: o.cwd,
        env: workerEnv(o, groups.length > 1 ? i : undefined),
        timeoutMs: o.timeoutMs,
      });
      return { r, junit };
    }),
  );
  const tests: TestCase[] = [];
  const junitFiles: string[] = [];
  const problems: { status: 'failed' | 'timed-out'; reason: string }[] = [];
  for (const [i, { r, junit }] of runs.entries()) {
    const who = runs.length > 1 ? `pytest worker ${i} (GPU ${i})` : 'pytest';
    let xml: string | undefined;
    try {
      xml = await readFile(junit, 'utf8');
    } catch {
      xml = undefined;
    }
    if (r.timedOut) {
      problems.push({
        status: 'timed-out',
        reason: `${who} timed out after ${Math.round(o.timeoutMs / 1000)} s and was stopped${xml ? '' : '; no JUnit report'}`,
      });
    }
    if (xml === undefined) {
      if (!r.timedOut)
        problems.push({
          status: 'failed',
          reason: `${who} ${describeExit(r)} without writing a JUnit report`,
        });
      continue;
    }
    try {
      tests.push(...parseJunit(xml));
      junitFiles.push(basename(junit));
    } catch (error) {
      const why = error instanceof JunitParseError ? error.message : String(error);
      problems.push({
        status: 'failed',
        reason: `${who} ${describeExit(r)}; its JUnit report is unusable: ${why}`,
      });
    }
  }
  const bad = tests.filter((t) => t.status === 'failed' || t.status === 'error');
  const counts = `${tests.filter((t) => t.status === 'passed').length} passed, ${bad.length} failed, ${tests.filter((t) => t.status === 'skipped').length} skipped`;
  await step.log(`kernel tests: ${counts}`);
  const outcome = { tests, junitFiles };
  if (problems.length > 0) {
    const status = problems.some((p) => p.status === 'timed-out') ? 'timed-out' : 'failed';
    step.finish(status, problems.map((p) => p.reason).join('; '));
  } else if (bad.length > 0) {
    step.finish(
      'failed',
      `${bad.length} of ${tests.length} cases failed: ${bad
        .slice(0, 3)
        .map((t) => t.id.split('::').pop())
        .join(', ')}`,
    );
  } else if (tests.length === 0) {
    step.finish('failed', `pytest ran no test case (${runs.map((x) => describeExit(x.r)).join(', ')})`);
  }
  return outcome;
}
