// Step microbench: the kernel under test against eager and torch.compile; with a base kernel, base against head.
import { join } from 'node:path';
import { parseMicrobench } from '../../results/parsers/microbench.js';
import { takeOutput } from '../../security/files.js';
import { fail, type StepHandle, skip } from '../step.js';
import type { PipelineContext } from './context.js';
import type { KernelSource } from './kernel-source.js';
import { findFile } from './kernel-tests.js';

export async function microbenchStep(
  ctx: PipelineContext,
  step: StepHandle,
  kernel: KernelSource | undefined,
  noGpu: string | undefined,
): Promise<void> {
  const { bundleDir, result } = ctx;
  const timeoutMs = ctx.timeouts.microbenchMs;
  if (noGpu) throw skip(`GPU only: ${noGpu}`);
  const script = await findFile(bundleDir, /^benchmark_.*\.py$/);
  if (!script) throw skip('the bundle has no benchmark_*.py');
  // written in the step's scratch by the sandboxed benchmark, read and kept by the tool after it is gone
  const json = join(step.scratch, 'microbench.json');
  const impls = [
    ...(kernel?.impl ? ['--impl', kernel.impl] : []),
    ...(kernel?.base?.impl ? ['--base-impl', kernel.base.impl] : []),
  ];
  const r = await step.run(ctx.config.python, [script, '--json', json, ...impls], {
    cwd: bundleDir,
    env: ctx.env,
    timeoutMs,
    sandbox: step.sandbox({ writable: [] }),
  });
  if (r.timedOut) throw new Error(`${script} timed out after ${Math.round(timeoutMs / 1000)} s`);
  if (r.exitCode !== 0) throw fail(`${script} exited ${r.exitCode ?? r.signal}`);
  result.microbench = parseMicrobench(
    await takeOutput(json, join(ctx.outDir, 'microbench.json')),
    'microbench.json',
  );
  await step.log(
    `${result.microbench.cells.length} cells; copy ceiling ${result.microbench.copyGbps.toFixed(0)} GB/s` +
      (result.microbench.ab ? `; base against head: ${result.microbench.ab.length} shapes` : ''),
  );
}
