// Step kernel-tests: the conformance suite on the kernel under test, the PR's own tests in the tree, and (bundle
// kernel) the bundle's own unit tests. Any group failing fails the step.
import { readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { TestGroup, TestGroupRun } from '../../results/run-result.js';
import type { Installed } from '../install.js';
import { runKernelTests } from '../kernel-tests.js';
import { fail, type StepHandle } from '../step.js';
import type { CheckedOutTree } from './checkout.js';
import type { PipelineContext } from './context.js';
import type { KernelSource } from './kernel-source.js';

/** The conformance suite: tests any implementation through the op's public signature. */
const CONFORMANCE = 'test_conformance.py';
/** Tells the bundle's Python which implementation to load: `PATH::SYMBOL`. */
export const IMPL_ENV = 'VLLM_KERNEL_CI_IMPL';

export async function findFile(dir: string, pattern: RegExp): Promise<string | undefined> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter((n) => pattern.test(n)).sort()[0];
}

interface PlannedGroup {
  group: TestGroup;
  cwd: string;
  targets: string[];
  env: Record<string, string | undefined>;
}

export async function kernelTestsStep(
  ctx: PipelineContext,
  step: StepHandle,
  tree: CheckedOutTree,
  kernel: KernelSource | undefined,
  installed: Installed | undefined,
): Promise<void> {
  const { bundleDir, result } = ctx;
  // the bundle's own matrix is test_<bundle>.py; other test files check the bundle's scripts
  const bundleTest =
    (await findFile(bundleDir, new RegExp(`^test_${basename(bundleDir)}\\.py$`))) ??
    (await findFile(bundleDir, /^test_(?!conformance).*\.py$/));
  const conformance = await findFile(bundleDir, new RegExp(`^${CONFORMANCE.replace('.', '\\.')}$`));
  const implEnv = { ...ctx.env, ...(kernel?.impl ? { [IMPL_ENV]: kernel.impl } : {}) };
  const isTree = kernel?.source === 'tree';
  const planned: PlannedGroup[] = [];
  const records: TestGroupRun[] = [];

  if (conformance)
    planned.push({ group: 'conformance', cwd: bundleDir, targets: [conformance], env: implEnv });
  else if (isTree) {
    if (!bundleTest) throw fail(`the bundle ${bundleDir} has no ${CONFORMANCE} nor test_*.py`);
    await step.log(
      `the bundle has no ${CONFORMANCE}: its own ${bundleTest} stands in as the conformance group`,
    );
    planned.push({ group: 'conformance', cwd: bundleDir, targets: [bundleTest], env: implEnv });
  }
  if (!isTree) {
    if (!bundleTest) throw fail(`the bundle ${bundleDir} has no test_*.py`);
    // in the vLLM tree when vLLM is installed from it and the bundle put its test there
    const inTree =
      installed?.fromTree && kernel?.applied
        ? result.patch?.copied.find((c) => c.from === bundleTest && /(^|\/)tests\//.test(c.to))
        : undefined;
    planned.push(
      inTree
        ? { group: 'bundle', cwd: tree.dir, targets: [inTree.to], env: ctx.env }
        : { group: 'bundle', cwd: bundleDir, targets: [bundleTest], env: ctx.env },
    );
  }
  const prSkip = (reason: string) => records.push({ group: 'pr', status: 'skipped', reason, targets: [] });
  const prTests = tree.base?.changes.tests ?? [];
  if (!tree.base) prSkip('no base to diff against: pass base-ref or run on a pull_request event');
  else if (prTests.length === 0) prSkip('base..head adds or changes no test file under tests/');
  else if (!installed?.fromTree)
    prSkip(
      `vLLM is not importable from the tree (${installed ? `it imports from ${installed.vllmPath}` : `install: ${ctx.config.install}`}): ${prTests.join(', ')}`,
    );
  else planned.push({ group: 'pr', cwd: tree.dir, targets: prTests, env: ctx.env });

  const problems: { status: 'failed' | 'timed-out'; reason: string }[] = [];
  result.tests = [];
  for (const [i, g] of planned.entries()) {
    await step.log(
      `running ${g.targets.join(' ')} in ${g.cwd} (${g.group} group${g.env[IMPL_ENV] ? `, ${IMPL_ENV}=${g.env[IMPL_ENV]}` : ''})`,
    );
    const outcome = await runKernelTests(step, {
      python: ctx.config.python,
      cwd: g.cwd,
      targets: g.targets,
      device: result.device,
      env: g.env,
      pluginDir: join(ctx.actionRoot, 'kernels'),
      timeoutMs: ctx.timeouts.kernelTestsMs,
      group: g.group,
      junitName: i === 0 ? 'junit' : `junit-${g.group}`,
      ...(g.group === 'conformance' && result.kernel?.contract ? { contract: result.kernel.contract } : {}),
      sandbox: step.sandbox({ writable: [tree.dir], readable: [join(tree.dir, '.git')] }),
    });
    result.tests.push(...outcome.tests);
    records.push({ group: g.group, status: 'ran', targets: g.targets });
    if (outcome.problem)
      problems.push({ status: outcome.problem.status, reason: `${g.group}: ${outcome.problem.reason}` });
  }
  for (const r of records)
    if (r.status === 'skipped') await step.log(`${r.group} group skipped: ${r.reason}`);
  result.testGroups = records.sort((a, b) => order(a.group) - order(b.group));
  if (problems.length > 0) {
    step.finish(
      problems.some((p) => p.status === 'timed-out') ? 'timed-out' : 'failed',
      problems.map((p) => p.reason).join('; '),
    );
  }
}

const order = (g: TestGroup) => ['conformance', 'pr', 'bundle'].indexOf(g);
