// The workflow context: which event, which commit, which run. Read once at the entry (from @actions/github's
// `context` in the action, from the same variables in a terminal or a test) and carried on the Host; the
// trust decision, report mode and the RunResult's identity all read this one object.
import { readFile } from 'node:fs/promises';
import type { RunResult } from '../results/run-result.js';

export interface WorkflowContext {
  /** GITHUB_EVENT_NAME as given; undefined outside a workflow */
  eventName?: string;
  /** the parsed event payload; {} outside a workflow */
  payload: Record<string, unknown>;
  sha?: string;
  ref?: string;
  /** owner/name the workflow runs in */
  repository?: string;
  runId?: string;
  serverUrl: string;
  apiUrl: string;
}

/** What the action entry hands over: @actions/github's `context`, structurally (so tests need no runner). */
export interface ActionsContextLike {
  eventName?: string;
  payload: object;
  sha?: string;
  ref?: string;
  runId?: number;
  serverUrl: string;
  apiUrl: string;
}

const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

/** From @actions/github's `context`; GITHUB_REPOSITORY from the environment, as `context.repo` reads it. */
export function workflowContextFromActions(
  context: ActionsContextLike,
  env: Readonly<Record<string, string | undefined>>,
): WorkflowContext {
  const payload = context.payload as Record<string, unknown>;
  const fromPayload = text((payload.repository as { full_name?: unknown } | undefined)?.full_name);
  return {
    eventName: text(context.eventName),
    payload,
    sha: text(context.sha),
    ref: text(context.ref),
    repository: text(env.GITHUB_REPOSITORY) ?? fromPayload,
    runId:
      Number.isSafeInteger(context.runId) && (context.runId ?? 0) > 0 ? String(context.runId) : undefined,
    serverUrl: context.serverUrl,
    apiUrl: context.apiUrl,
  };
}

/**
 * The same from GITHUB_* variables, for a host that was not started by the action (the CLI, tests); a payload
 * that cannot be read is an error naming the file, where @actions/github would only print a line.
 */
export async function workflowContextFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  readText: (path: string) => Promise<string> = (path) => readFile(path, 'utf8'),
): Promise<WorkflowContext> {
  const eventName = text(env.GITHUB_EVENT_NAME);
  let payload: Record<string, unknown> = {};
  const path = env.GITHUB_EVENT_PATH;
  if (eventName && path) {
    try {
      const parsed: unknown = JSON.parse(await readText(path));
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed))
        payload = parsed as Record<string, unknown>;
    } catch (error) {
      throw new Error(
        `Cannot read the ${eventName} event payload at ${path} (GITHUB_EVENT_PATH): ${(error as Error).message}. ` +
          'Run the action from a workflow, or unset GITHUB_EVENT_NAME to run it as from a terminal.',
      );
    }
  }
  const runId = Number(env.GITHUB_RUN_ID);
  return workflowContextFromActions(
    {
      eventName,
      payload,
      sha: env.GITHUB_SHA,
      ref: env.GITHUB_REF,
      runId: Number.isSafeInteger(runId) ? runId : undefined,
      serverUrl: text(env.GITHUB_SERVER_URL) ?? 'https://github.com',
      apiUrl: text(env.GITHUB_API_URL) ?? 'https://api.github.com',
    },
    env,
  );
}

/** The link to this workflow run: built here only. */
export function runUrl(ctx: Pick<WorkflowContext, 'repository' | 'runId' | 'serverUrl'>): string | undefined {
  if (!ctx.repository || !ctx.runId) return undefined;
  return `${ctx.serverUrl.replace(/\/+$/, '')}/${ctx.repository}/actions/runs/${ctx.runId}`;
}

const obj = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
const sha = (v: unknown) =>
  typeof v === 'string' && /^[0-9a-f]{40}$/i.test(v) ? v.toLowerCase() : undefined;

/** Who a RunResult is about: repository, pull request, head and base commits, run id and link. */
export interface RunIdentityFromContext {
  repository?: string;
  pr?: number;
  headSha?: string;
  baseSha?: string;
  runId?: string;
  runUrl?: string;
}

/**
 * A pull_request-family event names the PR, its head and its base; every other event names the commit that
 * ran (GITHUB_SHA). Fields the context does not know are left out.
 */
export function runIdentity(ctx: WorkflowContext): RunIdentityFromContext {
  const pr = obj(ctx.payload.pull_request);
  const number = pr.number;
  const out: RunIdentityFromContext = {
    repository: ctx.repository,
    pr: typeof number === 'number' && Number.isSafeInteger(number) && number > 0 ? number : undefined,
    // an approving review names the exact commit it approved, which is the one validated
    headSha: sha(obj(ctx.payload.review).commit_id) ?? sha(obj(pr.head).sha) ?? sha(ctx.sha),
    baseSha: sha(obj(pr.base).sha),
    runId: ctx.runId,
    runUrl: runUrl(ctx),
  };
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined)) as RunIdentityFromContext;
}

/** The pull request's head commit of a pull_request-family event (an approving review's commit first), else undefined. */
export function pullRequestHeadSha(ctx: Pick<WorkflowContext, 'payload'>): string | undefined {
  return sha(obj(ctx.payload.review).commit_id) ?? sha(obj(obj(ctx.payload.pull_request).head).sha);
}

/** runIdentity as the RunResult's identity fields. */
export function runResultIdentity(ctx: WorkflowContext): Partial<RunResult['identity']> {
  return runIdentity(ctx);
}

/** The host's context, or one read from its environment when the entry did not build it (the CLI, tests). */
export async function workflowContextOf(host: {
  env: Readonly<Record<string, string | undefined>>;
  workflow?: WorkflowContext;
}): Promise<WorkflowContext> {
  return host.workflow ?? workflowContextFromEnv(host.env);
}
