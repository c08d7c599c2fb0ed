// Step checkout: the vLLM tree (head) and, when a base is known, the base commit and what base..head changes.
import { type BaseCommit, resolveBase } from '../base-head.js';
import { type CheckedOut, checkout } from '../checkout.js';
import type { StepHandle } from '../step.js';
import type { PipelineContext } from './context.js';

export interface CheckedOutTree extends CheckedOut {
  /** the pull request's base (base-ref or the event's pull_request.base.sha) */
  base?: BaseCommit;
}

export async function checkoutStep(ctx: PipelineContext, step: StepHandle): Promise<CheckedOutTree> {
  const { config, env, timeouts } = ctx;
  const tree = await checkout(step, {
    repository: config.vllm.repository,
    ref: config.vllm.ref,
    reposDir: ctx.deps.reposDir,
    env,
    timeoutMs: timeouts.gitMs,
    fetchVllmSource: ctx.deps.fetchVllmSource,
  });
  ctx.result.identity.vllmSha = tree.sha;
  const baseRef = config.baseRef ?? ctx.result.identity.baseSha;
  if (!baseRef) {
    await step.log(
      "no base (base-ref, or a pull_request event's base): a tree kernel is compared with the reference",
    );
    return tree;
  }
  const base = await resolveBase(step, {
    dir: tree.dir,
    baseRef,
    headRef: config.vllm.ref,
    env,
    timeoutMs: timeouts.gitMs,
  });
  ctx.result.identity.baseSha = base.sha;
  return { ...tree, base };
}
