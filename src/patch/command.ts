// `vllm-kernel-ci patch`: put a kernel bundle into a vLLM tree, check it, or take it out again.
import { parseArgs } from 'node:util';
import type { CliIo, ExtraCommand } from '../cli.js';
import { INPUTS } from '../inputs.js';
import { resolveBundle } from '../pipeline/bundle.js';
import type { Patch } from '../results/run-result.js';
import { applyBundle, countSites, type PatchMode } from './engine.js';

const DEFAULT_BUNDLE = INPUTS.find((i) => i.name === 'bundle')?.default ?? 'fused_shared_expert_gate';

export const PATCH_HELP = `Usage: vllm-kernel-ci patch --vllm-dir DIR [--bundle NAME|PATH] [--check | --revert] [--force] [--strict] [--json]

Put a kernel bundle into a vLLM source tree: copy its files and rewrite every call site it names,
found by parsing the Python source. Idempotent (a second run changes nothing) and reversible.

Options:
  --vllm-dir DIR
      Root of the vLLM source tree (the folder holding vllm/).
  --bundle NAME|PATH
      Kernel bundle: a name under kernels/ or a bundle directory (default: ${DEFAULT_BUNDLE}).
  --check
      Report what applying would do; write nothing.
  --revert
      Take the bundle out again: the touched files come back byte for byte.
  --force
      Overwrite tree files whose content differs from the bundle's. Without it such a file (a pull
      request's own kernel, say) stops the patch with both git blob SHAs: to test the tree's own kernel,
      validate with --kernel-source tree (or auto) instead.
  --strict
      Exit 1 when a site is unmatched or a file is missing.
  --json
      Print the patch result (the RunResult's \`patch\` object) as JSON.
  --python PATH
      Python 3.8+ that runs the rewriter (default: python3; no torch needed).
  --help
      Show this help.

Exit status: 0 done, 1 unmatched or missing with --strict, 2 bad usage or not a vLLM tree.`;

const VERB: Record<PatchMode, Record<string, string>> = {
  apply: { applied: 'applied', 'already-applied': 'already applied' },
  check: { applied: 'to apply', 'already-applied': 'already applied' },
  revert: { applied: 'reverted', 'already-applied': 'not applied' },
};

/** The human summary: one line a site (file:line, symbol, form), the source line under it, then totals. */
export function renderPatch(patch: Patch, vllmDir: string, bundle: string): string {
  const mode = patch.mode ?? 'apply';
  const lines = [`${bundle} → ${vllmDir} (${mode})`];
  for (const c of patch.copied) {
    lines.push(
      `  ${mode === 'revert' ? 'removed' : mode === 'check' ? 'to copy' : 'copied'}  ${c.from} → ${c.to}`,
    );
  }
  for (const s of patch.sites) {
    const status = VERB[mode][s.status] ?? s.status;
    const where = s.line > 0 ? `${s.file}:${s.line}` : s.file;
    lines.push(
      `  ${status.padEnd(15)} ${where}${s.symbol ? `  ${s.symbol}` : ''}${s.form ? `  [${s.form}]` : ''}`,
    );
    if (s.source) lines.push(`      ${s.source}`);
    if (s.reason) lines.push(`      ${s.reason}`);
  }
  if (patch.coveredModels.length > 0)
    lines.push(`  covered through reuse: ${patch.coveredModels.join('; ')}`);
  const n = countSites(patch);
  lines.push(
    `${n.applied} ${VERB[mode].applied}, ${n.alreadyApplied} ${VERB[mode]['already-applied']}, ${n.unmatched} unmatched, ${n.missingFiles} missing${n.treeNative > 0 ? `, ${n.treeNative} tree-native` : ''}`,
  );
  return lines.join('\n');
}

export async function runPatchCommand(args: string[], io: CliIo): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args,
      options: {
        'vllm-dir': { type: 'string' },
        bundle: { type: 'string' },
        check: { type: 'boolean' },
        revert: { type: 'boolean' },
        strict: { type: 'boolean' },
        json: { type: 'boolean' },
        python: { type: 'string' },
        force: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    io.err(
      `error: ${error instanceof Error ? error.message : String(error)} Run with --help to see the options.`,
    );
    return 2;
  }
  const vllmDir = values['vllm-dir'];
  if (typeof vllmDir !== 'string' || vllmDir === '') {
    io.err(
      'error: --vllm-dir is required: the root of the vLLM source tree to patch. Run with --help to see the options.',
    );
    return 2;
  }
  if (values.check && values.revert) {
    io.err('error: --check and --revert exclude each other: --check reports, --revert takes the bundle out.');
    return 2;
  }
  const mode: PatchMode = values.check ? 'check' : values.revert ? 'revert' : 'apply';
  const bundle = typeof values.bundle === 'string' && values.bundle !== '' ? values.bundle : DEFAULT_BUNDLE;
  const python = typeof values.python === 'string' && values.python !== '' ? values.python : 'python3';
  let patch: Patch;
  try {
    const bundleDir = await resolveBundle(bundle);
    patch = await applyBundle({ vllmDir, bundleDir, mode, python, force: values.force === true });
  } catch (error) {
    io.err(`error: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  }
  io.out(values.json ? JSON.stringify(patch, null, 2) : renderPatch(patch, vllmDir, bundle));
  const n = countSites(patch);
  if (values.strict && n.unmatched + n.missingFiles > 0) {
    io.err(`error: --strict: ${n.unmatched} unmatched site(s), ${n.missingFiles} missing file(s).`);
    return 1;
  }
  return 0;
}

export const patchCommand: ExtraCommand = {
  name: 'patch',
  summary:
    'Put a kernel bundle into a vLLM tree (copy its files, rewrite its call sites), check it or revert it.',
  help: PATCH_HELP,
  run: runPatchCommand,
};
