// Gathers what the trust rule needs: the workflow context (event and payload), the token, the refs, the inputs.
import type { Config } from '../config.js';
import { type WorkflowContext, workflowContextFromEnv } from '../github/context.js';
import type { TrustContext } from './trust.js';

export async function gpuTrustContext(
  config: Pick<Config, 'githubToken' | 'allowWriteTokenWithForkCode' | 'vllm'>,
  env: Readonly<Record<string, string | undefined>>,
  readText?: (path: string) => Promise<string>,
  workflow?: WorkflowContext,
): Promise<TrustContext> {
  const ctx = workflow ?? (await workflowContextFromEnv(env, readText));
  const payloadRef = typeof ctx.payload.ref === 'string' ? ctx.payload.ref : undefined;
  return {
    eventName: ctx.eventName,
    event: ctx.payload,
    hasWriteToken: Boolean(config.githubToken || env.GITHUB_TOKEN || env.GH_TOKEN),
    refs: [config.vllm.ref, ctx.ref, payloadRef].filter((r): r is string => Boolean(r)),
    allowUnsafe: config.allowWriteTokenWithForkCode,
  };
}
