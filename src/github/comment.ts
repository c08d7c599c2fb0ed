// The sticky PR comment: one per pull request, found by a hidden marker, edited in place, one section per runner.
// Report jobs may run at once; each loops until it sees one marked comment that holds its own sections.
import type { GitHubClient } from './client.js';

export interface IssueTarget {
  owner: string;
  repo: string;
  /** the pull request (an issue number on GitHub) */
  issueNumber: number;
}

/** How sections live in a comment body; the report renderer provides it. */
export interface CommentFormat {
  /** hidden text that marks the one comment this tool owns */
  marker: string;
  /** runner id → section text, as found in a body */
  parse(body: string): Map<string, string>;
  /** a whole body (marker included) from sections, within GitHub's size limit */
  compose(sections: string[]): string;
}

export interface StickyOptions {
  /** most list-merge-write rounds before giving up on seeing a settled comment (default 8) */
  maxRounds?: number;
  /** upper bound of the random pause between rounds, ms (default 1500) */
  jitterMs?: number;
  /** how long the comment must stay as we left it before we stop watching, ms (default 2000); longer than a write takes */
  settleMs?: number;
  warn?: (message: string) => void;
  /**
   * The GitHub App an installation token acts for, when GET /user cannot say who it is (default github-actions,
   * the app of GITHUB_TOKEN); learned from our own comment once we wrote one.
   */
  appSlug?: string;
  /** the body to write when GitHub refuses the composed one as too long */
  tooLongBody?: (message: string) => string;
}

export interface StickyResult {
  id: number;
  url: string;
  /** this call created the comment (none existed) */
  created: boolean;
  /** duplicate marked comments this call deleted (from racing jobs or a retried create) */
  deleted: number;
  /** GitHub refused the full body (422) and the short fallback was written */
  fallback: boolean;
  /** the comment's body as this call left it: every runner's sections, ours and the others' */
  body: string;
}

interface MarkedComment {
  id: number;
  body: string;
  url: string;
  updatedAt: string;
}

export function httpStatus(error: unknown): number | undefined {
  return typeof error === 'object' && error !== null && 'status' in error
    ? Number((error as { status: unknown }).status)
    : undefined;
}

/** Who this token writes as: a login (a personal token), or the GitHub App whose installation token it is. */
export type OwnIdentity = { login: string } | { appSlug: string };

/** GET /user for a personal token; an installation token cannot ask, so it is the app given (or GITHUB_TOKEN's). */
async function ownIdentity(client: GitHubClient, appSlug = 'github-actions'): Promise<OwnIdentity> {
  try {
    return { login: (await client.rest.users.getAuthenticated()).data.login };
  } catch (error) {
    if (httpStatus(error) === 401 || httpStatus(error) === 403) return { appSlug };
    throw error;
  }
}

interface AuthoredComment {
  user?: { login: string; type?: string } | null;
  performed_via_github_app?: { slug?: string } | null;
}

/** Ours only when written by this token's own identity: the same login, or a bot acting for the same app. */
export function writtenBy(comment: AuthoredComment, identity: OwnIdentity): boolean {
  if ('login' in identity) return comment.user?.login === identity.login;
  return comment.user?.type === 'Bot' && comment.performed_via_github_app?.slug === identity.appSlug;
}

async function listMarked(
  client: GitHubClient,
  target: IssueTarget,
  marker: string,
  identity: OwnIdentity,
): Promise<MarkedComment[]> {
  const all = await client.paginate(client.rest.issues.listComments, {
    owner: target.owner,
    repo: target.repo,
    issue_number: target.issueNumber,
    per_page: 100,
  });
  return (
    all
      // anyone can paste the marker into a comment, and any other bot or app can too: only our own counts
      .filter((c) => c.body?.includes(marker) && writtenBy(c, identity))
      .map((c) => ({ id: c.id, body: c.body ?? '', url: c.html_url, updatedAt: c.updated_at }))
      .sort((a, b) => a.id - b.id)
  );
}

/** The sections on the pull request now, merged over our marked comments as a write would merge them; writes nothing. */
export async function readStickySections(
  client: GitHubClient,
  target: IssueTarget,
  format: CommentFormat,
  options: Pick<StickyOptions, 'appSlug'> = {},
): Promise<Map<string, string>> {
  const identity = await ownIdentity(client, options.appSlug);
  return mergeSections(await listMarked(client, target, format.marker, identity), new Map(), format);
}

/** Sections of every marked comment, the most recently updated winning per runner, then ours on top. */
function mergeSections(
  comments: MarkedComment[],
  own: Map<string, string>,
  format: CommentFormat,
): Map<string, string> {
  const merged = new Map<string, string>();
  const byAge = [...comments].sort((a, b) => a.updatedAt.localeCompare(b.updatedAt) || a.id - b.id);
  for (const c of byAge) for (const [id, text] of format.parse(c.body)) merged.set(id, text);
  for (const [id, text] of own) merged.set(id, text);
  return merged;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Writes this job's runner sections into the PR's one marked comment, keeping the other runners' sections.
 * Throws GitHub's error (e.g. 403 for a read-only token); the caller decides whether that fails the run.
 */
export async function publishStickyComment(
  client: GitHubClient,
  target: IssueTarget,
  own: Map<string, string>,
  format: CommentFormat,
  options: StickyOptions = {},
): Promise<StickyResult> {
  const maxRounds = options.maxRounds ?? 8;
  const jitter = options.jitterMs ?? 1500;
  const settle = options.settleMs ?? 2000;
  const warn = options.warn ?? (() => {});
  const where = { owner: target.owner, repo: target.repo };
  let identity = await ownIdentity(client, options.appSlug);
  let created = false;
  let deleted = 0;
  let fallback = false;
  let last: MarkedComment | undefined;
  // the body seen last round when it already held our sections; seeing it unchanged again means no write was in flight
  let seen: string | undefined;

  const write = async (body: string, id?: number): Promise<MarkedComment> => {
    const send = (text: string) =>
      id === undefined
        ? client.rest.issues.createComment({ ...where, issue_number: target.issueNumber, body: text })
        : client.rest.issues.updateComment({ ...where, comment_id: id, body: text });
    try {
      const { data } = await send(body);
      // the app that wrote our own comment is the one this installation token acts for
      const slug = data.performed_via_github_app?.slug;
      if ('appSlug' in identity && data.user?.type === 'Bot' && slug) identity = { appSlug: slug };
      return { id: data.id, body: data.body ?? '', url: data.html_url, updatedAt: data.updated_at };
    } catch (error) {
      if (httpStatus(error) !== 422 || !options.tooLongBody) throw error;
      const message = error instanceof Error ? error.message : String(error);
      warn(
        `GitHub refused the comment (${message.split('\n')[0]}); wrote a short one that points to the full report.`,
      );
      fallback = true;
      const { data } = await send(options.tooLongBody(message));
      return { id: data.id, body: data.body ?? '', url: data.html_url, updatedAt: data.updated_at };
    }
  };

  for (let round = 0; round < maxRounds; round++) {
    const marked = await listMarked(client, target, format.marker, identity);
    if (marked.length === 0) {
      last = await write(format.compose([...own.values()]));
      created = true;
      seen = undefined;
      // list again: a racing job may have created its own comment meanwhile
      continue;
    }
    const [keeper, ...duplicates] = marked;
    const body = format.compose([...mergeSections(marked, own, format).values()]);
    const wanted = format.parse(body);
    const present = format.parse(keeper.body);
    const holdsOurs =
      duplicates.length === 0 &&
      (fallback || [...own.keys()].every((id) => present.get(id) === wanted.get(id)));
    if (holdsOurs) {
      // a racing job may have read the comment before our write and still be writing its stale merge
      if (seen === keeper.body)
        return { id: keeper.id, url: keeper.url, created, deleted, fallback, body: keeper.body };
      seen = keeper.body;
      await pause(settle + Math.random() * jitter);
      continue;
    }
    seen = undefined;
    last = body === keeper.body ? keeper : await write(body, keeper.id);
    for (const d of duplicates) {
      try {
        await client.rest.issues.deleteComment({ ...where, comment_id: d.id });
        deleted++;
      } catch (error) {
        // a racing job deleted it first
        if (httpStatus(error) !== 404) throw error;
      }
    }
    await pause(Math.random() * jitter);
  }
  warn(
    `The PR comment did not settle after ${maxRounds} rounds (other report jobs kept writing); it may miss a runner's section until the next report.`,
  );
  if (!last) throw new Error('No PR comment was written.');
  return { id: last.id, url: last.url, created, deleted, fallback, body: last.body };
}
