// One pytest group of the kernel-tests step: --junitxml, one worker per GPU, parsed into TestCase[] of that group.

import { basename, join } from 'node:path';
import { beyondContract } from '../results/contract.js';
import { JunitParseError, parseJunit } from '../results/parsers/junit.js';
import { caseAdvisory, caseFailed } from '../results/predicates.js';
import type { Device, OpContract, StepStatus, TestCase, TestGroup } from '../results/run-result.js';
import { readNoFollow, writeNoFollow } from '../security/files.js';
import type { SandboxSpec } from '../security/sandbox.js';
import type { CommandResult } from './process.js';
import type { StepHandle } from './step.js';

export interface KernelTestOptions {
  python: string;
  /** directory pytest runs in, and the test files relative to it */
  cwd: string;
  targets: string[];
  device: Device;
  env: Record<string, string | undefined>;
  /** directory holding the junit_params plugin (the action's kernels/) */
  pluginDir: string;
  timeoutMs: number;
  /** the group its cases belong to */
  group: TestGroup;
  /** JUnit file name without .xml (a worker's index is appended when there are several) */
  junitName: string;
  /** what the tree's call sites pass the op: a case beyond it is advisory */
  contract?: OpContract;
  /** pytest runs the tree's code: in this sandbox */
  sandbox?: SandboxSpec;
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
    '-p',
    'pytest_progress',
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
  /** why the group did not pass: a failed case, a crash, a timeout or no case at all */
  problem?: {
    status: Exclude<StepStatus, 'passed' | 'skipped' | 'not-available' | 'cancelled'>;
    reason: string;
  };
}

export async function runKernelTests(step: StepHandle, o: KernelTestOptions): Promise<KernelTestOutcome> {
  const workers = o.device.vendor === 'cpu' ? 1 : o.device.count;
  let groups: string[][] = [o.targets];
  if (workers > 1) {
    const collected = await step.run(
      o.python,
      ['-m', 'pytest', '--collect-only', '-q', '-p', 'no:cacheprovider', ...o.targets],
      {
        cwd: o.cwd,
        env: workerEnv(o),
        timeoutMs: Math.min(o.timeoutMs, 300_000),
        sandbox: o.sandbox,
      },
    );
    const ids = parseCollected(collected.stdout);
    if (ids.length > 0) groups = shard(ids, workers);
    await step.log(`${ids.length} cases over ${groups.length} workers, one GPU each`);
  }
  const runs = await Promise.all(
    groups.map(async (targets, i) => {
      const name = `${o.junitName}${groups.length > 1 ? `-${i}` : ''}.xml`;
      // pytest writes into the step's scratch; the tool reads it once pytest's sandbox is gone
      const scratchJunit = join(step.scratch, name);
      const r = await step.run(o.python, pytestArgs(scratchJunit, targets), {
        cwd: o.cwd,
        env: workerEnv(o, groups.length > 1 ? i : undefined),
        timeoutMs: o.timeoutMs,
        sandbox: o.sandbox,
      });
      return { r, junit: join(step.outDir, name), scratchJunit };
    }),
  );
  const tests: TestCase[] = [];
  const junitFiles: string[] = [];
  const problems: { status: 'failed' | 'timed-out'; reason: string }[] = [];
  for (const [i, { r, junit, scratchJunit }] of runs.entries()) {
    const who = runs.length > 1 ? `pytest worker ${i} (GPU ${i})` : 'pytest';
    let xml: string | undefined;
    try {
      const bytes = await readNoFollow(scratchJunit);
      await writeNoFollow(junit, bytes);
      xml = bytes.toString('utf8');
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
      for (const t of parseJunit(xml)) {
        const beyond = beyondContract(t, o.contract);
        tests.push({ ...t, group: o.group, ...(beyond ? { beyondContract: beyond } : {}) });
      }
      junitFiles.push(basename(junit));
    } catch (error) {
      const why = error instanceof JunitParseError ? error.message : String(error);
      problems.push({
        status: 'failed',
        reason: `${who} ${describeExit(r)}; its JUnit report is unusable: ${why}`,
      });
    }
  }
  const bad = tests.filter(caseFailed);
  const advisory = tests.filter(caseAdvisory);
  const counts = `${tests.filter((t) => t.status === 'passed').length} passed, ${bad.length} failed, ${tests.filter((t) => t.status === 'skipped').length} skipped${advisory.length ? `, ${advisory.length} beyond the contract failed (advisory)` : ''}`;
  await step.log(`${o.group} tests: ${counts}`);
  for (const t of advisory) await step.log(`advisory: ${t.id}: ${t.beyondContract}`);
  const outcome: KernelTestOutcome = { tests, junitFiles };
  if (problems.length > 0) {
    const status = problems.some((p) => p.status === 'timed-out') ? 'timed-out' : 'failed';
    outcome.problem = { status, reason: problems.map((p) => p.reason).join('; ') };
  } else if (bad.length > 0) {
    outcome.problem = {
      status: 'failed',
      reason: `${bad.length} of ${tests.length} cases failed: ${bad
        .slice(0, 3)
        .map((t) => t.id.split('::').pop())
        .join(', ')}`,
    };
  } else if (tests.length === 0) {
    outcome.problem = {
      status: 'failed',
      reason: `pytest ran no test case (${runs.map((x) => describeExit(x.r)).join(', ')})`,
    };
  }
  return outcome;
}
