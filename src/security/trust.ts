// Refuses GPU steps that would run a fork's code in a job holding a write token. Pure: the event and inputs come in.
//
// The rule (README "Security"), decided from the event and the inputs alone, without calling GitHub:
// - GPU steps run only on an allowlist of events, compared without case: pull_request and its review events,
//   push, schedule, workflow_dispatch, and workflow_run (checked by repository id and by its upstream event).
//   Every other event (pull_request_target, issue_comment, repository_dispatch, merge_group, check_suite, ...)
//   is refused: its payload either runs with the repository's token on code it does not pin, or does not say
//   whose code it is about.
// - fork code: a pull_request whose head repository is not the base repository (or was deleted), a workflow_run
//   whose head repository id is another one or whose upstream event is not on the list, or a `pull/N/...` ref on
//   any event but pull_request's (a push to a branch named refs/pull/5/head included);
// - write token: every event except pull_request (and its review events) gives the job's GITHUB_TOKEN the
//   repository's default permissions and its secrets, which we cannot see, so we assume write; on
//   pull_request, a token handed to the action (input or GITHUB_TOKEN/GH_TOKEN in its environment) counts.
// GPU steps run only when not both, or when the allow input says the user accepts it.

export const ALLOW_INPUT = 'allow-write-token-with-fork-code';

export interface TrustContext {
  /** GITHUB_EVENT_NAME; undefined outside GitHub Actions (a terminal) */
  eventName: string | undefined;
  /** the parsed GITHUB_EVENT_PATH payload */
  event: unknown;
  /** a token was handed to this step (an input or a token variable in its environment) */
  hasWriteToken: boolean;
  /** refs this run checks out or runs at (vllm-ref, GITHUB_REF): a pull ref among them is PR code */
  refs?: string[];
  /** true when the caller knows the tree under test is PR code; undefined: decide from the event */
  checkoutIsForkCode?: boolean;
  /** the allow input: the user accepts running fork code with a write token */
  allowUnsafe: boolean;
}

export interface TrustDecision {
  forkCode: boolean;
  writeToken: boolean;
  /** why each was decided, for the refusal message and the log */
  forkReason: string;
  tokenReason: string;
  /** the event is not on the allowlist */
  unlisted?: boolean;
}

/** Events whose job token for a fork PR is read-only and gets no secrets. */
const PULL_REQUEST_EVENTS = new Set(['pull_request', 'pull_request_review', 'pull_request_review_comment']);
/** Events that run the repository's own code at a ref of its own. */
const OWN_CODE_EVENTS = new Set(['push', 'schedule', 'workflow_dispatch']);
/** The events GPU steps run on. */
export const GPU_EVENTS = [...PULL_REQUEST_EVENTS, ...OWN_CODE_EVENTS, 'workflow_run'] as const;
/** Upstream events a workflow_run may follow: the same trust as running on them directly. */
const WORKFLOW_RUN_UPSTREAM = new Set([...PULL_REQUEST_EVENTS, ...OWN_CODE_EVENTS]);

type Json = Record<string, unknown>;

function obj(value: unknown): Json | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
}

function fullName(repo: unknown): string | undefined {
  const name = obj(repo)?.full_name;
  return typeof name === 'string' ? name.toLowerCase() : undefined;
}

function repoId(repo: unknown): number | undefined {
  const id = obj(repo)?.id;
  return typeof id === 'number' && Number.isSafeInteger(id) ? id : undefined;
}

/** Same repository: by id when both payload objects carry one (a renamed or recreated fork keeps no id), else by name. */
function sameRepository(a: unknown, b: unknown): boolean {
  const [ia, ib] = [repoId(a), repoId(b)];
  if (ia !== undefined && ib !== undefined) return ia === ib;
  return fullName(a) !== undefined && fullName(a) === fullName(b);
}

/** `pull/5/head`, `refs/pull/5/merge`, `refs/heads/refs/pull/5/head`: all resolve to, or pose as, PR code. */
export function isPullRef(ref: string): boolean {
  return /(^|[/:])pull\/\d+(\/|$)/i.test(ref);
}

/** Whether the event, by itself, is about code from another repository than the one the workflow runs in. */
function forkFromEvent(eventName: string, event: Json, refs: string[]): { fork: boolean; reason: string } {
  const base = event.repository;
  if (PULL_REQUEST_EVENTS.has(eventName)) {
    const pr = obj(event.pull_request);
    if (!pr)
      return {
        fork: true,
        reason: `the ${eventName} payload names no pull request, so its code is untrusted`,
      };
    const headRepo = obj(pr.head)?.repo;
    if (!obj(headRepo)) return { fork: true, reason: `pull request #${pr.number}'s head repository is gone` };
    if (!sameRepository(headRepo, base))
      return { fork: true, reason: `pull request #${pr.number} comes from ${fullName(headRepo)}` };
    return { fork: false, reason: `pull request #${pr.number} comes from ${fullName(base)} itself` };
  }
  const pullRef = refs.find(isPullRef);
  if (pullRef)
    return { fork: true, reason: `the ref '${pullRef}' names pull-request code on a ${eventName} event` };
  if (eventName === 'workflow_run') {
    const run = obj(event.workflow_run);
    if (!run)
      return { fork: true, reason: 'the workflow_run payload names no run, so its code is untrusted' };
    const upstream = String(run.event ?? '').toLowerCase();
    if (!WORKFLOW_RUN_UPSTREAM.has(upstream))
      return {
        fork: true,
        reason: `the triggering run came from a ${upstream || '(missing)'} event, which GPU steps never trust`,
      };
    if (!obj(run.head_repository))
      return { fork: true, reason: "the triggering run's head repository is unknown" };
    if (!sameRepository(run.head_repository, base))
      return {
        fork: true,
        reason: `the triggering run was for repository ${fullName(run.head_repository)} (id ${repoId(run.head_repository) ?? '?'}), not ${fullName(base)} (id ${repoId(base) ?? '?'})`,
      };
    return { fork: false, reason: `the triggering ${upstream} run was for ${fullName(base)}'s own code` };
  }
  return { fork: false, reason: `${eventName} runs the repository's own code` };
}

export function decideTrust(ctx: Omit<TrustContext, 'allowUnsafe'>): TrustDecision {
  const eventName = (ctx.eventName ?? '').toLowerCase();
  const event = obj(ctx.event) ?? {};
  const refs = (ctx.refs ?? []).filter(Boolean);
  if (eventName && !(GPU_EVENTS as readonly string[]).includes(eventName)) {
    return {
      forkCode: true,
      writeToken: true,
      unlisted: true,
      forkReason: `${ctx.eventName} is not an event GPU steps run on (${GPU_EVENTS.join(', ')})`,
      tokenReason: `${ctx.eventName} gives the job the repository's token and secrets`,
    };
  }
  const fromEvent = eventName
    ? forkFromEvent(eventName, event, refs)
    : { fork: false, reason: 'not in a workflow' };
  const forkCode = ctx.checkoutIsForkCode || fromEvent.fork;
  const forkReason =
    ctx.checkoutIsForkCode === true && !fromEvent.fork
      ? 'the tree under test is pull-request code'
      : fromEvent.reason;

  let writeToken: boolean;
  let tokenReason: string;
  if (!eventName) {
    writeToken = ctx.hasWriteToken;
    tokenReason = ctx.hasWriteToken
      ? 'a token was handed to this step'
      : 'no workflow token outside a workflow';
  } else if (PULL_REQUEST_EVENTS.has(eventName)) {
    writeToken = ctx.hasWriteToken;
    tokenReason = ctx.hasWriteToken
      ? 'a token was handed to this step (github-token, GITHUB_TOKEN or GH_TOKEN), and its scopes cannot be seen'
      : `${eventName} gives a fork's pull request a read-only token and no secrets`;
  } else {
    writeToken = true;
    tokenReason = `${eventName} gives the job the repository's token and secrets, with write access unless the workflow narrowed it`;
  }
  return { forkCode, writeToken, forkReason, tokenReason };
}

/** Throws, saying what to do instead, when GPU steps would run a fork's code in a job that holds a write token. */
export function assertSafeToRunGpuSteps(ctx: TrustContext): void {
  const d = decideTrust(ctx);
  if (!d.forkCode || !d.writeToken || ctx.allowUnsafe) return;
  const eventName = ctx.eventName ?? 'this run';
  if (d.unlisted) {
    throw new Error(
      `Refusing to run GPU steps on a ${eventName} event: ${d.forkReason}. Its job holds the repository's token and secrets, and the event does not pin whose code it runs. ` +
        'Trigger validate from pull_request (a maintainer approves a fork PR by an approving review or the gpu-approved label: docs/workflows/pr-validate.yml), push, schedule or workflow_dispatch. ' +
        `If you accept that risk, set \`${ALLOW_INPUT}: true\`.`,
    );
  }
  const advice = PULL_REQUEST_EVENTS.has(eventName.toLowerCase())
    ? 'Remove `github-token` (and any GITHUB_TOKEN or GH_TOKEN variable) from the validate step: validate never needs a token, and the report job publishes.'
    : 'Run validate in a `pull_request` workflow with `permissions: contents: read` and no secrets, upload the RunResult as an artifact, and publish it from a `workflow_run` workflow in report mode that never checks out the pull request (docs/workflows/pr-validate.yml and pr-report.yml).';
  throw new Error(
    `Refusing to run GPU steps on fork code in a job that holds a write token (${eventName}): ${d.forkReason}; ${d.tokenReason}. ` +
      `Code from the pull request could use the token or the repository's secrets, and keep running on the self-hosted runner. ${advice} ` +
      `If you accept that risk, set \`${ALLOW_INPUT}: true\`.`,
  );
}
