// Refuses GPU steps that would run a fork's code in a job holding a write token. Pure: the event and inputs come in.
//
// The rule (README "Security"), decided from the event and the inputs alone, without calling GitHub:
// - fork code: a pull_request / pull_request_target whose head repository is not the base repository
//   (or was deleted), a workflow_run triggered from a fork's head, an issue_comment on a pull request
//   (its payload does not say where the head lives), or a checkout the caller knows is PR code;
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
}

/** Events whose job token for a fork PR is read-only and gets no secrets. */
const READ_ONLY_FORK_EVENTS = new Set(['pull_request', 'pull_request_review', 'pull_request_review_comment']);

type Json = Record<string, unknown>;

function obj(value: unknown): Json | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
}

function fullName(repo: unknown): string | undefined {
  const name = obj(repo)?.full_name;
  return typeof name === 'string' ? name.toLowerCase() : undefined;
}

/** Whether the event, by itself, is about code from another repository than the one the workflow runs in. */
function forkFromEvent(eventName: string, event: Json): { fork: boolean; reason: string } {
  const base = fullName(event.repository);
  if (READ_ONLY_FORK_EVENTS.has(eventName) || eventName === 'pull_request_target') {
    const pr = obj(event.pull_request);
    if (!pr)
      return {
        fork: true,
        reason: `the ${eventName} payload names no pull request, so its code is untrusted`,
      };
    const head = obj(pr.head);
    const headRepo = fullName(head?.repo);
    if (!headRepo) return { fork: true, reason: `pull request #${pr.number}'s head repository is gone` };
    if (headRepo !== base) return { fork: true, reason: `pull request #${pr.number} comes from ${headRepo}` };
    return { fork: false, reason: `pull request #${pr.number} comes from ${base} itself` };
  }
  if (eventName === 'workflow_run') {
    const run = obj(event.workflow_run);
    if (!run)
      return { fork: true, reason: 'the workflow_run payload names no run, so its code is untrusted' };
    const headRepo = fullName(run.head_repository);
    if (!headRepo) return { fork: true, reason: "the triggering run's head repository is unknown" };
    if (headRepo !== base) return { fork: true, reason: `the triggering run was for ${headRepo}'s code` };
    return { fork: false, reason: `the triggering run was for ${base}'s own code` };
  }
  if (eventName === 'issue_comment') {
    const issue = obj(event.issue);
    if (issue && obj(issue.pull_request)) {
      return {
        fork: true,
        reason: `a comment on pull request #${issue.number}, whose head may be a fork (the payload does not say)`,
      };
    }
    return { fork: false, reason: 'a comment on an issue, not a pull request' };
  }
  return { fork: false, reason: `${eventName} runs the repository's own code` };
}

export function decideTrust(ctx: Omit<TrustContext, 'allowUnsafe'>): TrustDecision {
  const eventName = ctx.eventName ?? '';
  const event = obj(ctx.event) ?? {};
  const fromEvent = eventName
    ? forkFromEvent(eventName, event)
    : { fork: false, reason: 'not in a workflow' };
  const forkCode = ctx.checkoutIsForkCode ?? fromEvent.fork;
  const forkReason =
    ctx.checkoutIsForkCode === true && !fromEvent.fork
      ? 'the tree under test is pull-request code'
      : ctx.checkoutIsForkCode === false
        ? 'the tree under test is not pull-request code'
        : fromEvent.reason;

  let writeToken: boolean;
  let tokenReason: string;
  if (!eventName) {
    writeToken = ctx.hasWriteToken;
    tokenReason = ctx.hasWriteToken
      ? 'a token was handed to this step'
      : 'no workflow token outside a workflow';
  } else if (READ_ONLY_FORK_EVENTS.has(eventName)) {
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
  const advice = READ_ONLY_FORK_EVENTS.has(eventName)
    ? 'Remove `github-token` (and any GITHUB_TOKEN or GH_TOKEN variable) from the validate step: validate never needs a token, and the report job publishes.'
    : 'Run validate in a `pull_request` workflow with `permissions: contents: read` and no secrets, upload the RunResult as an artifact, and publish it from a `workflow_run` workflow in report mode that never checks out the pull request (docs/workflows/pr-validate.yml and pr-report.yml).';
  throw new Error(
    `Refusing to run GPU steps on fork code in a job that holds a write token (${eventName}): ${d.forkReason}; ${d.tokenReason}. ` +
      `Code from the pull request could use the token or the repository's secrets, and keep running on the self-hosted runner. ${advice} ` +
      `If you accept that risk, set \`${ALLOW_INPUT}: true\`.`,
  );
}
