// Step apply-bundle: which kernel is tested. tree: the tree's own (nothing written; a base worktree when a base is
// known); bundle: the bundle's files and call sites put into the tree by the patch engine.
import { join } from 'node:path';
import { blobSha, scanTreeKernel } from '../../patch/engine.js';
import { loadManifest } from '../../patch/manifest.js';
import { contractWords } from '../../results/contract.js';
import { siteDrifted } from '../../results/predicates.js';
import type { KernelUnderTest, Patch } from '../../results/run-result.js';
import { addBaseWorktree, type BaseHeadChanges } from '../base-head.js';
import { fail, type StepHandle } from '../step.js';
import type { CheckedOutTree } from './checkout.js';
import type { PipelineContext } from './context.js';

export interface KernelSource {
  source: KernelUnderTest['source'];
  /** `PATH::SYMBOL` of the head kernel for the bundle's Python; undefined: the bundle's own file */
  impl?: string;
  /** the bundle's files and call sites are in the tree */
  applied: boolean;
  /** a tree kernel's baseline: the base worktree, and the base's own kernel when it has one */
  base?: { dir: string; commit: string; impl?: string; changes: BaseHeadChanges };
}

interface BundleOp {
  name: string;
  /** the bundle file defining it, and where that file goes in a tree */
  file: string;
  to: string;
}

/** The op the bundle provides; undefined for a bundle whose manifest names none (it can only be applied). */
async function bundleOp(bundleDir: string): Promise<BundleOp | undefined> {
  const manifest = await loadManifest(bundleDir);
  const file = manifest.op?.file;
  const to = manifest.files.find((f) => f.from === file)?.to;
  return manifest.op && file && to ? { name: manifest.op.name, file, to } : undefined;
}

const siteLine = (s: Patch['sites'][number]) =>
  `${s.status.padEnd(15)} ${s.file}:${s.line}  ${s.source.trim()}${s.symbol ? `  [${s.symbol}]` : ''}${s.reason ? `  (${s.reason})` : ''}`;

export async function kernelSourceStep(
  ctx: PipelineContext,
  step: StepHandle,
  tree: CheckedOutTree,
): Promise<KernelSource> {
  const { config, result, bundleDir } = ctx;
  const op = await bundleOp(bundleDir);
  const choice = config.kernelSource;
  if (!op && choice === 'tree')
    throw fail(
      `kernel-source tree: the bundle's manifest.json names no op ("op": {"name", "file"}) to look for in the tree`,
    );
  const scan = op ? await scanTreeKernel(tree.dir, bundleDir, config.python) : undefined;
  const source = choice === 'auto' ? (scan ? 'tree' : 'bundle') : choice;
  await step.log(
    `kernel-source ${choice}${choice === 'auto' ? ` → ${source}: ${op ? `the tree ${scan ? 'carries' : 'neither defines nor calls'} ${op.name}` : 'the bundle names no op'}` : ''}`,
  );
  if (source === 'tree' && op) return treeKernel(ctx, step, tree, op, scan);

  const applyBundle = ctx.deps.applyBundle;
  if (!applyBundle) throw fail('the patch step is not available in this build');
  const patch = await applyBundle({
    vllmDir: tree.dir,
    bundleDir,
    mode: 'apply',
    python: config.python,
    force: config.force,
  });
  result.patch = patch;
  if (op) {
    result.kernel = {
      source: 'bundle',
      path: op.to,
      symbol: op.name,
      blobSha: await blobSha(join(bundleDir, op.file)),
      commit: tree.sha,
    };
  }
  for (const s of patch.sites) await step.log(siteLine(s));
  for (const c of patch.copied) await step.log(`copied ${c.from} → ${c.to}`);
  const drift = patch.sites.filter(siteDrifted);
  if (drift.length > 0) {
    step.finish(
      'failed',
      `patch drift: ${drift.length} of ${patch.sites.length} sites not recognised (${drift
        .slice(0, 3)
        .map((s) => `${s.file}:${s.line} ${s.status}${s.reason ? `: ${s.reason}` : ''}`)
        .join(', ')})`,
    );
  } else if (patch.sites.length === 0)
    step.finish('failed', 'patch drift: no gate call site found in the vLLM tree');
  return { source: 'bundle', applied: drift.length === 0 && patch.sites.length > 0 };
}

async function treeKernel(
  ctx: PipelineContext,
  step: StepHandle,
  tree: CheckedOutTree,
  op: BundleOp,
  scan: Awaited<ReturnType<typeof scanTreeKernel>>,
): Promise<KernelSource> {
  const { config, result, bundleDir } = ctx;
  if (!scan)
    throw fail(
      `kernel-source tree: the vLLM tree at ${tree.sha.slice(0, 12)} neither defines nor calls ${op.name}. Use kernel-source bundle (or auto) to test the bundle's kernel in it.`,
    );
  result.patch = { sites: scan.sites, copied: [], coveredModels: [], mode: 'check' };
  for (const s of scan.sites) await step.log(siteLine(s));
  await step.log(`tree kernel: ${scan.path}:${scan.line} ${scan.symbol} (blob ${scan.blobSha})`);
  if (scan.sites.length === 0) await step.log(`no call of ${op.name} under vllm/: no model runs this kernel`);
  const kernel: KernelUnderTest = {
    source: 'tree',
    path: scan.path,
    symbol: scan.symbol,
    blobSha: scan.blobSha,
    commit: tree.sha,
    ...(scan.contract ? { contract: scan.contract } : {}),
  };
  result.kernel = kernel;
  const words = contractWords(scan.contract);
  if (words) await step.log(`the op's contract from the tree: ${words}`);
  const found: KernelSource = {
    source: 'tree',
    impl: `${join(tree.dir, scan.path)}::${scan.symbol}`,
    applied: false,
  };
  if (tree.base) {
    const commit = tree.base.mergeBase;
    const dir = await addBaseWorktree(step, {
      dir: tree.dir,
      commit,
      env: ctx.env,
      timeoutMs: ctx.timeouts.gitMs,
    });
    const baseScan = await scanTreeKernel(dir, bundleDir, config.python);
    const baseKernel = baseScan?.path ? { path: baseScan.path, blobSha: baseScan.blobSha } : {};
    kernel.base = { commit, ...baseKernel };
    await step.log(
      baseScan?.path
        ? `base kernel: ${baseScan.path} (blob ${baseScan.blobSha}) at ${commit}`
        : `the base ${commit} has no ${op.name}: the baseline is the original expression`,
    );
    found.base = {
      dir,
      commit,
      changes: tree.base.changes,
      ...(baseScan?.path ? { impl: `${join(dir, baseScan.path)}::${baseScan.symbol}` } : {}),
    };
  }
  step.finish(
    'skipped',
    `kernel-source ${config.kernelSource}: the tree's own kernel ${scan.path} is tested; nothing of the tree is written`,
  );
  return found;
}
