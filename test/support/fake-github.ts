// A stateful GitHub REST double on 127.0.0.1: every request is checked against GitHub's published OpenAPI
// description and refused (400/422) when it does not match; every answer it gives is checked the same way.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GitHubDescription, type Match, minimalInstance, type Operation } from './github-openapi.js';

type Json = Record<string, unknown>;
type Level = 'read' | 'write';

export type Permission = 'issues' | 'pull_requests' | 'checks' | 'contents' | 'metadata';

export interface TokenSpec {
  login?: string;
  /** 'Bot' for an installation token such as GITHUB_TOKEN (GET /user is refused), 'User' for a personal token */
  type?: 'Bot' | 'User';
  permissions?: Partial<Record<Permission, Level>>;
  /** the GitHub App an installation token acts for (its comments carry performed_via_github_app); a Bot's default: its login without [bot] */
  app?: string;
}

/** GITHUB_TOKEN of a trusted workflow with `pull-requests: write` and `checks: write`. */
export const WRITE_TOKEN = 'ghs_fake_write_token_000000000000000000';
/** GITHUB_TOKEN of a fork PR or of a workflow with read-only permissions. */
export const READ_TOKEN = 'ghs_fake_read_token_0000000000000000000';

export interface Fault {
  operationId: string;
  status: number;
  /** how many matching requests fail (default 1) */
  times?: number;
  headers?: Record<string, string>;
  body?: Json;
  /** perform the request, then answer the fault (a write that landed although the caller saw an error) */
  afterHandling?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  operationId?: string;
  status: number;
  /** set when the request did not match GitHub's description */
  problem?: string;
  body?: unknown;
}

export interface StoredComment {
  id: number;
  repo: string;
  issueNumber: number;
  body: string;
  login: string;
  userType: 'Bot' | 'User';
  /** slug of the GitHub App that wrote it, if an app did */
  app?: string;
  createdAt: string;
  updatedAt: string;
}

export interface StoredIssue {
  number: number;
  title: string;
  body: string | null;
  state: 'open' | 'closed';
  stateReason: string | null;
  labels: string[];
  login: string;
  createdAt: string;
  updatedAt: string;
  closedAt: string | null;
  pull?: {
    headSha: string;
    headRef: string;
    baseRef: string;
    headRepo: string;
    files: string[];
    /** every head the pull request had, oldest first (GET .../pulls/N/commits) */
    commits: string[];
  };
}

export interface StoredCheckRun {
  id: number;
  repo: string;
  name: string;
  headSha: string;
  status: string;
  conclusion: string | null;
  startedAt: string;
  completedAt: string | null;
  detailsUrl: string | null;
  externalId: string | null;
  output: { title: string | null; summary: string | null; text: string | null };
  /** the annotations the create request carried (as sent) */
  annotations?: Json[];
  login: string;
}

interface StoredFile {
  content: Buffer;
  sha: string;
}

interface RepoState {
  owner: string;
  name: string;
  id: number;
  defaultBranch: string;
  issues: Map<number, StoredIssue>;
  /** ref name (heads/main) → commit sha */
  refs: Map<string, string>;
  /** commit sha → tree (path → file) */
  trees: Map<string, Map<string, StoredFile>>;
}

export interface FakeGitHubOptions {
  /** milliseconds to wait before and after handling each request, to interleave concurrent callers */
  latency?: () => number;
  /** check this double's own answers against the description (default true) */
  validateResponses?: boolean;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Json = {},
  ) {
    super(message);
  }
}

interface Context {
  repo: RepoState;
  params: Record<string, unknown>;
  body: Json;
  user: Required<TokenSpec> & { id: number };
  url: URL;
}

interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

const DOCS = 'https://docs.github.com/rest';
const MAX_COMMENT = 65_536;

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

function sha1(text: string | Buffer): string {
  return createHash('sha1').update(text).digest('hex');
}

export class FakeGitHub {
  readonly description = GitHubDescription.load();
  readonly requests: RecordedRequest[] = [];
  readonly comments = new Map<number, StoredComment>();
  readonly checkRuns = new Map<number, StoredCheckRun>();
  private readonly repos = new Map<string, RepoState>();
  private readonly tokens = new Map<string, Required<TokenSpec> & { id: number }>();
  private readonly faults: Fault[] = [];
  private nextId = 1000;
  private remaining = 5000;
  private server?: Server;
  url = '';

  constructor(private readonly options: FakeGitHubOptions = {}) {
    const all: Record<Permission, Level> = {
      issues: 'write',
      pull_requests: 'write',
      checks: 'write',
      contents: 'write',
      metadata: 'read',
    };
    this.addToken(WRITE_TOKEN, { login: 'github-actions[bot]', type: 'Bot', permissions: all });
    this.addToken(READ_TOKEN, {
      login: 'github-actions[bot]',
      type: 'Bot',
      permissions: {
        issues: 'read',
        pull_requests: 'read',
        checks: 'read',
        contents: 'read',
        metadata: 'read',
      },
    });
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.serve(req, res).catch((error: unknown) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: `fake GitHub crashed: ${String(error)}` }));
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  addToken(token: string, spec: TokenSpec): void {
    this.tokens.set(token, {
      login: spec.login ?? 'octocat',
      type: spec.type ?? 'User',
      permissions: spec.permissions ?? {},
      app: spec.app ?? (spec.type === 'Bot' ? (spec.login ?? 'octocat').replace(/\[bot\]$/, '') : ''),
      id: this.nextId++,
    });
  }

  /** Creates the repository (default branch `main` with one commit) unless it exists. */
  addRepo(fullName: string): void {
    if (this.repos.has(fullName)) return;
    const [owner, name] = fullName.split('/');
    const root = sha1(`${fullName} initial commit`);
    this.repos.set(fullName, {
      owner,
      name,
      id: this.nextId++,
      defaultBranch: 'main',
      issues: new Map(),
      refs: new Map([['heads/main', root]]),
      trees: new Map([[root, new Map()]]),
    });
  }

  /** Opens a pull request (an issue number too, as on GitHub). */
  addPullRequest(
    fullName: string,
    pr: {
      number: number;
      headSha: string;
      headRef?: string;
      baseRef?: string;
      headRepo?: string;
      title?: string;
      /** paths the pull request changes (GET .../pulls/N/files) */
      files?: string[];
    },
  ): void {
    this.addRepo(fullName);
    const at = now();
    this.repo(fullName).issues.set(pr.number, {
      number: pr.number,
      title: pr.title ?? `PR ${pr.number}`,
      body: null,
      state: 'open',
      stateReason: null,
      labels: [],
      login: 'contributor',
      createdAt: at,
      updatedAt: at,
      closedAt: null,
      pull: {
        headSha: pr.headSha,
        headRef: pr.headRef ?? 'feature',
        baseRef: pr.baseRef ?? 'main',
        headRepo: pr.headRepo ?? fullName,
        files: pr.files ?? ['vllm/model_executor/layers/fused_moe/shared_expert_gate.py'],
        commits: [pr.headSha],
      },
    });
  }

  /** A push to the pull request's branch: `headSha` is its new head, the old one stays among its commits. */
  pushPullRequest(fullName: string, number: number, headSha: string): void {
    const pull = this.repo(fullName).issues.get(number)?.pull;
    if (!pull) throw new Error(`no pull request #${number} in ${fullName}`);
    pull.headSha = headSha;
    pull.commits.push(headSha);
  }

  /** Adds a comment as someone else (a reviewer, or someone copying the marker). */
  addComment(
    fullName: string,
    issueNumber: number,
    body: string,
    login = 'someone',
    userType: 'Bot' | 'User' = 'User',
    app?: string,
  ) {
    const at = now();
    const c: StoredComment = {
      id: this.nextId++,
      repo: fullName,
      issueNumber,
      body,
      login,
      userType,
      ...(app ? { app } : {}),
      createdAt: at,
      updatedAt: at,
    };
    this.comments.set(c.id, c);
    return c;
  }

  issues(fullName: string): StoredIssue[] {
    return [...this.repo(fullName).issues.values()];
  }

  commentsOn(fullName: string, issueNumber: number): StoredComment[] {
    return [...this.comments.values()]
      .filter((c) => c.repo === fullName && c.issueNumber === issueNumber)
      .sort((a, b) => a.id - b.id);
  }

  /** The file at `path` on a branch (default branch when omitted), or undefined. */
  file(fullName: string, path: string, branch?: string): string | undefined {
    const repo = this.repo(fullName);
    const head = repo.refs.get(`heads/${branch ?? repo.defaultBranch}`);
    return head ? repo.trees.get(head)?.get(path)?.content.toString('utf8') : undefined;
  }

  /** Queues a scripted failure for the next `times` requests of one operation. */
  fail(fault: Fault): void {
    this.faults.push({ times: 1, ...fault });
  }

  /** Drops the faults not yet played. */
  clearFaults(): void {
    this.faults.length = 0;
  }

  /** The primary rate limit is spent until `resetInSeconds` from now. */
  exhaustRateLimit(operationId: string, resetInSeconds = 1, times = 1): void {
    this.fail({
      operationId,
      status: 403,
      times,
      headers: {
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000) + resetInSeconds),
      },
      body: { message: 'API rate limit exceeded for installation ID 1.', documentation_url: DOCS },
    });
  }

  /** A secondary (abuse) rate limit with a Retry-After in seconds. */
  secondaryRateLimit(operationId: string, retryAfterSeconds = 1, times = 1): void {
    this.fail({
      operationId,
      status: 403,
      times,
      headers: { 'retry-after': String(retryAfterSeconds) },
      body: {
        message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
        documentation_url: DOCS,
      },
    });
  }

  /** Requests that did not match GitHub's description (or that this double answered outside it). */
  rejections(): RecordedRequest[] {
    return this.requests.filter((r) => r.problem !== undefined);
  }

  /** Requests that reached an operation, by operationId, in order. */
  calls(operationId?: string): RecordedRequest[] {
    return this.requests.filter((r) => r.operationId && (!operationId || r.operationId === operationId));
  }

  private repo(fullName: string): RepoState {
    const repo = this.repos.get(fullName);
    if (!repo) throw new HttpError(404, 'Not Found');
    return repo;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', this.url);
    const method = (req.method ?? 'GET').toUpperCase();
    const record: RecordedRequest = { method, path: url.pathname + url.search, status: 0 };
    this.requests.push(record);
    const answer = await this.answer(req, method, url, raw, record);
    record.status = answer.status;
    const headers: Record<string, string> = {
      'content-type': 'application/json; charset=utf-8',
      'x-github-api-version-selected': '2022-11-28',
      'x-ratelimit-limit': '5000',
      'x-ratelimit-remaining': String(Math.max(0, --this.remaining)),
      'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000) + 3600),
      'x-ratelimit-used': String(5000 - this.remaining),
      'x-ratelimit-resource': 'core',
      ...answer.headers,
    };
    if (answer.body === undefined) {
      delete headers['content-type'];
      res.writeHead(answer.status, headers);
      res.end();
    } else {
      res.writeHead(answer.status, headers);
      res.end(JSON.stringify(answer.body));
    }
  }

  private async answer(
    req: IncomingMessage,
    method: string,
    url: URL,
    raw: string,
    record: RecordedRequest,
  ): Promise<Answer> {
    const match = this.description.match(method, url.pathname);
    if (!match) {
      record.problem = `no ${method} ${url.pathname} in GitHub's description`;
      return { status: 404, body: { message: 'Not Found', documentation_url: DOCS } };
    }
    record.operationId = match.operation.operationId;
    const checked = this.description.validateRequest(match, url.searchParams, raw);
    record.body = checked.body;
    if (checked.problem) {
      record.problem = checked.problem.message;
      return {
        status: checked.problem.status,
        body: { message: checked.problem.message, documentation_url: DOCS },
      };
    }
    const user = this.authenticate(req.headers.authorization);
    if (!user) {
      return {
        status: 401,
        body: {
          message: req.headers.authorization ? 'Bad credentials' : 'Requires authentication',
          documentation_url: DOCS,
        },
      };
    }
    await this.pause();
    const fault = this.takeFault(match.operation.operationId);
    if (fault && !fault.afterHandling) return faultAnswer(fault);
    let result: Answer;
    try {
      result = this.handle(match, checked.params, (checked.body ?? {}) as Json, user, url);
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      result = {
        status: error.status,
        body: { message: error.message, documentation_url: DOCS, ...error.extra },
      };
    }
    await this.pause();
    if (fault) return faultAnswer(fault);
    if (result.status < 300 && this.options.validateResponses !== false) {
      const wrong = this.description.validateResponse(match.operation, result.status, result.body);
      if (wrong) {
        record.problem = `this double answered outside the description: ${wrong}`;
        // 400, not 5xx: a retry must not replay a write that already landed
        return { status: 400, body: { message: record.problem } };
      }
    }
    return result;
  }

  private async pause(): Promise<void> {
    const ms = this.options.latency?.() ?? 0;
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
  }

  private takeFault(operationId: string): Fault | undefined {
    const i = this.faults.findIndex((f) => f.operationId === operationId);
    if (i < 0) return undefined;
    const fault = this.faults[i];
    fault.times = (fault.times ?? 1) - 1;
    if (fault.times <= 0) this.faults.splice(i, 1);
    return fault;
  }

  private authenticate(header: string | undefined): (Required<TokenSpec> & { id: number }) | undefined {
    const m = /^(?:token|bearer)\s+(\S+)$/i.exec(header ?? '');
    return m ? this.tokens.get(m[1]) : undefined;
  }

  private handle(
    match: Match,
    params: Record<string, unknown>,
    body: Json,
    user: Required<TokenSpec> & { id: number },
    url: URL,
  ): Answer {
    const { operation } = match;
    if (operation.operationId === 'users/get-authenticated') {
      if (user.type === 'Bot') throw new HttpError(403, 'Resource not accessible by integration');
      return { status: 200, body: this.user(user.login, user.type, user.id, 'private-user') };
    }
    const fullName = `${params.owner}/${params.repo}`;
    const repo = this.repo(fullName);
    this.authorize(operation, user, repo, params);
    const handler = HANDLERS[operation.operationId];
    if (!handler) {
      throw new HttpError(
        501,
        `The fake GitHub validates ${operation.operationId} but does not serve it; add a handler in test/support/fake-github.ts.`,
      );
    }
    return handler.call(this, { repo, params, body, user, url });
  }

  private authorize(operation: Operation, user: Required<TokenSpec>, repo: RepoState, params: Json): void {
    const family = operation.operationId.split('/')[0];
    const needs: Level = operation.method === 'GET' ? 'read' : 'write';
    let granted: Permission[] = ['metadata'];
    if (family === 'issues') {
      // comments on a pull request are allowed by either permission, as on GitHub
      const n = Number(params.issue_number);
      granted = repo.issues.get(n)?.pull ? ['issues', 'pull_requests'] : ['issues'];
      if (operation.operationId.includes('comment') && params.comment_id !== undefined) {
        granted = ['issues', 'pull_requests'];
      }
    } else if (family === 'pulls') granted = ['pull_requests'];
    else if (family === 'checks') granted = ['checks'];
    else if (family === 'git' || operation.operationId.includes('content')) granted = ['contents'];
    const ok = granted.some((p) => {
      const level = user.permissions[p];
      return level === 'write' || (level === 'read' && needs === 'read');
    });
    if (!ok) throw new HttpError(403, 'Resource not accessible by integration');
  }

  // --- GitHub objects, filled to the description's required fields ---

  shape(schema: string, fields: Json): Json {
    const base = minimalInstance(this.description, { $ref: `#/components/schemas/${schema}` }) as Json;
    return deepMerge(base, fields);
  }

  user(login: string, type: string, id: number, schema = 'simple-user'): Json {
    return this.shape(schema, {
      login,
      id,
      node_id: `U_${id}`,
      type,
      url: `${this.url}/users/${encodeURIComponent(login)}`,
      html_url: `https://github.com/${encodeURIComponent(login)}`,
    });
  }

  private loginUser(login: string, type: string): Json {
    return this.user(login, type, Number.parseInt(sha1(login).slice(0, 6), 16));
  }

  commentObject(c: StoredComment): Json {
    const repoApi = `${this.url}/repos/${c.repo}`;
    const kind = this.repo(c.repo).issues.get(c.issueNumber)?.pull ? 'pull' : 'issues';
    return this.shape('issue-comment', {
      id: c.id,
      node_id: `IC_${c.id}`,
      url: `${repoApi}/issues/comments/${c.id}`,
      html_url: `https://github.com/${c.repo}/${kind}/${c.issueNumber}#issuecomment-${c.id}`,
      issue_url: `${repoApi}/issues/${c.issueNumber}`,
      body: c.body,
      user: this.loginUser(c.login, c.userType),
      performed_via_github_app: c.app
        ? this.shape('integration', {
            slug: c.app,
            name: c.app,
            html_url: `https://github.com/apps/${c.app}`,
          })
        : null,
      created_at: c.createdAt,
      updated_at: c.updatedAt,
      author_association: c.userType === 'Bot' ? 'NONE' : 'CONTRIBUTOR',
    });
  }

  issueObject(repo: RepoState, i: StoredIssue): Json {
    const full = `${repo.owner}/${repo.name}`;
    const api = `${this.url}/repos/${full}`;
    const count = [...this.comments.values()].filter(
      (c) => c.repo === full && c.issueNumber === i.number,
    ).length;
    return this.shape('issue', {
      id: repo.id * 100_000 + i.number,
      node_id: `I_${i.number}`,
      number: i.number,
      title: i.title,
      body: i.body,
      state: i.state,
      state_reason: i.stateReason,
      labels: i.labels.map((name) => this.labelObject(repo, name)),
      user: this.loginUser(i.login, i.login.endsWith('[bot]') ? 'Bot' : 'User'),
      comments: count,
      url: `${api}/issues/${i.number}`,
      html_url: `https://github.com/${full}/${i.pull ? 'pull' : 'issues'}/${i.number}`,
      repository_url: api,
      comments_url: `${api}/issues/${i.number}/comments`,
      events_url: `${api}/issues/${i.number}/events`,
      labels_url: `${api}/issues/${i.number}/labels{/name}`,
      created_at: i.createdAt,
      updated_at: i.updatedAt,
      closed_at: i.closedAt,
      ...(i.pull
        ? {
            pull_request: {
              url: `${api}/pulls/${i.number}`,
              html_url: null,
              diff_url: null,
              patch_url: null,
            },
          }
        : {}),
    });
  }

  pullObject(repo: RepoState, issue: StoredIssue, schema: 'pull-request' | 'pull-request-simple'): Json {
    const pull = issue.pull;
    if (!pull) throw new HttpError(404, 'Not Found');
    const full = `${repo.owner}/${repo.name}`;
    const api = `${this.url}/repos/${full}`;
    this.addRepo(pull.headRepo);
    const branch = (ref: string, sha: string, repoName: string) => ({
      label: `${repoName.split('/')[0]}:${ref}`,
      ref,
      sha,
      repo: this.repositoryObject(repoName),
      user: this.loginUser(repoName.split('/')[0], 'User'),
    });
    return this.shape(schema, {
      ...this.issueObject(repo, issue),
      url: `${api}/pulls/${issue.number}`,
      issue_url: `${api}/issues/${issue.number}`,
      html_url: `https://github.com/${full}/pull/${issue.number}`,
      head: branch(pull.headRef, pull.headSha, pull.headRepo),
      base: branch(pull.baseRef, repo.refs.get(`heads/${pull.baseRef}`) ?? '', full),
      author_association: 'CONTRIBUTOR',
      merged: false,
      draft: false,
      // the whole count, which the list of files (at most 3000) may not reach
      ...(schema === 'pull-request' ? { changed_files: pull.files.length } : {}),
    });
  }

  private labelObject(repo: RepoState, name: string): Json {
    return {
      id: Number.parseInt(sha1(name).slice(0, 8), 16),
      node_id: `LA_${name}`,
      url: `${this.url}/repos/${repo.owner}/${repo.name}/labels/${encodeURIComponent(name)}`,
      name,
      description: null,
      color: 'ededed',
      default: false,
    };
  }

  repositoryObject(fullName: string): Json {
    const repo = this.repo(fullName);
    return this.shape('repository', {
      id: repo.id,
      node_id: `R_${repo.id}`,
      name: repo.name,
      full_name: fullName,
      owner: this.loginUser(repo.owner, 'Organization'),
      url: `${this.url}/repos/${fullName}`,
      html_url: `https://github.com/${fullName}`,
      default_branch: repo.defaultBranch,
    });
  }

  checkRunObject(run: StoredCheckRun): Json {
    const api = `${this.url}/repos/${run.repo}`;
    return this.shape('check-run', {
      id: run.id,
      node_id: `CR_${run.id}`,
      head_sha: run.headSha,
      name: run.name,
      url: `${api}/check-runs/${run.id}`,
      html_url: `https://github.com/${run.repo}/runs/${run.id}`,
      details_url: run.detailsUrl,
      external_id: run.externalId,
      status: run.status,
      conclusion: run.conclusion,
      started_at: run.startedAt,
      completed_at: run.completedAt,
      output: {
        ...run.output,
        annotations_count: 0,
        annotations_url: `${api}/check-runs/${run.id}/annotations`,
      },
      check_suite: { id: 1 },
      app: this.shape('integration', {
        id: 15368,
        slug: 'github-actions',
        node_id: 'MDM6QXBwMTUzNjg=',
        name: 'GitHub Actions',
        owner: this.loginUser('github', 'Organization'),
        permissions: {},
        events: [],
      }),
      pull_requests: [],
    });
  }

  paginate(items: unknown[], params: Json, url: URL): Answer {
    const perPage = Math.min(Number(params.per_page ?? 30), 100);
    const page = Number(params.page ?? 1);
    const last = Math.max(1, Math.ceil(items.length / perPage));
    const link = (p: number, rel: string) => {
      const u = new URL(url);
      u.searchParams.set('page', String(p));
      u.searchParams.set('per_page', String(perPage));
      return `<${u.toString()}>; rel="${rel}"`;
    };
    const links: string[] = [];
    if (page < last) links.push(link(page + 1, 'next'), link(last, 'last'));
    if (page > 1) links.push(link(1, 'first'), link(page - 1, 'prev'));
    return {
      status: 200,
      body: items.slice((page - 1) * perPage, page * perPage),
      headers: links.length ? { link: links.join(', ') } : {},
    };
  }

  newId(): number {
    return this.nextId++;
  }

  commitFiles(repo: RepoState, branch: string, change: (tree: Map<string, StoredFile>) => void): string {
    const head = repo.refs.get(`heads/${branch}`);
    if (!head) throw new HttpError(404, `Branch ${branch} not found`);
    const tree = new Map(repo.trees.get(head));
    change(tree);
    const commit = sha1(`${head}:${this.nextId++}`);
    repo.trees.set(commit, tree);
    repo.refs.set(`heads/${branch}`, commit);
    return commit;
  }

  treeAt(repo: RepoState, ref: string | undefined): Map<string, StoredFile> {
    const name = ref ?? repo.defaultBranch;
    const sha = repo.refs.get(`heads/${name}`) ?? repo.refs.get(name.replace(/^refs\//, '')) ?? name;
    const tree = repo.trees.get(sha);
    if (!tree) throw new HttpError(404, `No commit found for the ref ${name}`);
    return tree;
  }

  fileObject(repo: RepoState, path: string, file: StoredFile, ref: string): Json {
    const full = `${repo.owner}/${repo.name}`;
    const api = `${this.url}/repos/${full}`;
    return this.shape('content-file', {
      type: 'file',
      encoding: 'base64',
      size: file.content.length,
      name: path.split('/').pop(),
      path,
      content: file.content.toString('base64'),
      sha: file.sha,
      url: `${api}/contents/${path}?ref=${ref}`,
      git_url: `${api}/git/blobs/${file.sha}`,
      html_url: `https://github.com/${full}/blob/${ref}/${path}`,
      download_url: `https://raw.githubusercontent.com/${full}/${ref}/${path}`,
      _links: {
        self: `${api}/contents/${path}`,
        git: `${api}/git/blobs/${file.sha}`,
        html: `https://github.com/${full}/blob/${ref}/${path}`,
      },
    });
  }

  refObject(repo: RepoState, ref: string, sha: string): Json {
    const api = `${this.url}/repos/${repo.owner}/${repo.name}`;
    return {
      ref: `refs/${ref}`,
      node_id: `REF_${sha1(ref).slice(0, 8)}`,
      url: `${api}/git/refs/${ref}`,
      object: { type: 'commit', sha, url: `${api}/git/commits/${sha}` },
    };
  }
}

function faultAnswer(fault: Fault): Answer {
  return {
    status: fault.status,
    headers: fault.headers,
    body: fault.body ?? { message: fault.status >= 500 ? 'Server Error' : 'Error', documentation_url: DOCS },
  };
}

function deepMerge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)
        ? deepMerge(b as Json, v as Json)
        : v;
  }
  return out;
}

function tooLong(body: string): HttpError {
  return new HttpError(422, 'Validation Failed', {
    errors: [
      {
        resource: 'IssueComment',
        code: 'custom',
        field: 'body',
        message: `body is too long (maximum is ${MAX_COMMENT} characters)`,
      },
    ],
    length: body.length,
  });
}

function commentOf(fake: FakeGitHub, ctx: Context): StoredComment {
  const c = fake.comments.get(Number(ctx.params.comment_id));
  if (!c || c.repo !== `${ctx.repo.owner}/${ctx.repo.name}`) throw new HttpError(404, 'Not Found');
  return c;
}

function issueOf(ctx: Context): StoredIssue {
  const issue = ctx.repo.issues.get(Number(ctx.params.issue_number));
  if (!issue) throw new HttpError(404, 'Not Found');
  return issue;
}

const HANDLERS: Record<string, (this: FakeGitHub, ctx: Context) => Answer> = {
  'repos/get'(ctx) {
    return { status: 200, body: this.repositoryObject(`${ctx.repo.owner}/${ctx.repo.name}`) };
  },

  'issues/list-comments'(ctx) {
    issueOf(ctx);
    const since = ctx.params.since ? Date.parse(String(ctx.params.since)) : 0;
    const list = this.commentsOn(`${ctx.repo.owner}/${ctx.repo.name}`, Number(ctx.params.issue_number))
      .filter((c) => Date.parse(c.updatedAt) >= since)
      .map((c) => this.commentObject(c));
    return this.paginate(list, ctx.params, ctx.url);
  },

  'issues/create-comment'(ctx) {
    issueOf(ctx);
    const body = String(ctx.body.body);
    if (body.length > MAX_COMMENT) throw tooLong(body);
    const c = this.addComment(
      `${ctx.repo.owner}/${ctx.repo.name}`,
      Number(ctx.params.issue_number),
      body,
      ctx.user.login,
      ctx.user.type,
      ctx.user.app || undefined,
    );
    return {
      status: 201,
      body: this.commentObject(c),
      headers: { location: String(this.commentObject(c).url) },
    };
  },

  'issues/get-comment'(ctx) {
    return { status: 200, body: this.commentObject(commentOf(this, ctx)) };
  },

  'issues/update-comment'(ctx) {
    const c = commentOf(this, ctx);
    if (c.login !== ctx.user.login) throw new HttpError(403, 'Resource not accessible by integration');
    const body = String(ctx.body.body);
    if (body.length > MAX_COMMENT) throw tooLong(body);
    c.body = body;
    c.updatedAt = now();
    return { status: 200, body: this.commentObject(c) };
  },

  'issues/delete-comment'(ctx) {
    const c = commentOf(this, ctx);
    if (c.login !== ctx.user.login) throw new HttpError(403, 'Resource not accessible by integration');
    this.comments.delete(c.id);
    return { status: 204 };
  },

  'issues/get'(ctx) {
    return { status: 200, body: this.issueObject(ctx.repo, issueOf(ctx)) };
  },

  'issues/list-for-repo'(ctx) {
    const state = String(ctx.params.state ?? 'open');
    const labels = ctx.params.labels
      ? String(ctx.params.labels)
          .split(',')
          .map((l) => l.trim())
      : [];
    const creator = ctx.params.creator ? String(ctx.params.creator) : undefined;
    const direction = String(ctx.params.direction ?? 'desc');
    const list = [...ctx.repo.issues.values()]
      .filter((i) => state === 'all' || i.state === state)
      .filter((i) => labels.every((l) => i.labels.includes(l)))
      .filter((i) => !creator || i.login === creator)
      .sort((a, b) => (direction === 'asc' ? a.number - b.number : b.number - a.number))
      .map((i) => this.issueObject(ctx.repo, i));
    return this.paginate(list, ctx.params, ctx.url);
  },

  'issues/create'(ctx) {
    const number = Math.max(0, ...ctx.repo.issues.keys()) + 1;
    const at = now();
    const issue: StoredIssue = {
      number,
      title: String(ctx.body.title),
      body: (ctx.body.body as string | undefined) ?? null,
      state: 'open',
      stateReason: null,
      labels: ((ctx.body.labels as unknown[] | undefined) ?? []).map((l) =>
        typeof l === 'string' ? l : String((l as Json).name),
      ),
      login: ctx.user.login,
      createdAt: at,
      updatedAt: at,
      closedAt: null,
    };
    if (issue.body && issue.body.length > MAX_COMMENT) throw tooLong(issue.body);
    ctx.repo.issues.set(number, issue);
    return { status: 201, body: this.issueObject(ctx.repo, issue) };
  },

  'issues/update'(ctx) {
    const issue = issueOf(ctx);
    const b = ctx.body;
    if (typeof b.title === 'string') issue.title = b.title;
    if (b.body !== undefined) issue.body = (b.body as string | null) ?? null;
    if (issue.body && issue.body.length > MAX_COMMENT) throw tooLong(issue.body);
    if (Array.isArray(b.labels)) {
      issue.labels = b.labels.map((l) => (typeof l === 'string' ? l : String((l as Json).name)));
    }
    if (b.state === 'closed' && issue.state === 'open') {
      issue.state = 'closed';
      issue.closedAt = now();
      issue.stateReason = (b.state_reason as string | undefined) ?? 'completed';
    } else if (b.state === 'open' && issue.state === 'closed') {
      issue.state = 'open';
      issue.closedAt = null;
      issue.stateReason = 'reopened';
    }
    issue.updatedAt = now();
    return { status: 200, body: this.issueObject(ctx.repo, issue) };
  },

  'pulls/get'(ctx) {
    const issue = ctx.repo.issues.get(Number(ctx.params.pull_number));
    if (!issue?.pull) throw new HttpError(404, 'Not Found');
    return { status: 200, body: this.pullObject(ctx.repo, issue, 'pull-request') };
  },

  'pulls/list'(ctx) {
    const state = String(ctx.params.state ?? 'open');
    const head = ctx.params.head ? String(ctx.params.head) : undefined;
    const list = [...ctx.repo.issues.values()]
      .filter((i) => i.pull && (state === 'all' || i.state === state))
      .filter((i) => !head || `${i.pull?.headRepo.split('/')[0]}:${i.pull?.headRef}` === head)
      .sort((a, b) => b.number - a.number)
      .map((i) => this.pullObject(ctx.repo, i, 'pull-request-simple'));
    return this.paginate(list, ctx.params, ctx.url);
  },

  'pulls/list-commits'(ctx) {
    const issue = ctx.repo.issues.get(Number(ctx.params.pull_number));
    if (!issue?.pull) throw new HttpError(404, 'Not Found');
    const repoApi = `${this.url}/repos/${ctx.repo.owner}/${ctx.repo.name}`;
    const list = issue.pull.commits.map((sha) =>
      this.shape('commit', {
        sha,
        node_id: `C_${sha}`,
        url: `${repoApi}/commits/${sha}`,
        html_url: `https://github.com/${ctx.repo.owner}/${ctx.repo.name}/commit/${sha}`,
        comments_url: `${repoApi}/commits/${sha}/comments`,
      }),
    );
    return this.paginate(list, ctx.params, ctx.url);
  },

  'pulls/list-files'(ctx) {
    const issue = ctx.repo.issues.get(Number(ctx.params.pull_number));
    if (!issue?.pull) throw new HttpError(404, 'Not Found');
    // GitHub lists at most 3000 files of a pull request, whatever its size
    const list = issue.pull.files.slice(0, 3000).map((filename, i) =>
      this.shape('diff-entry', {
        sha: sha1(`${filename}${i}`),
        filename,
        status: 'modified',
        additions: 1,
        deletions: 1,
        changes: 2,
        blob_url: `https://github.com/${ctx.repo.owner}/${ctx.repo.name}/blob/${issue.pull?.headSha}/${filename}`,
        raw_url: `https://github.com/${ctx.repo.owner}/${ctx.repo.name}/raw/${issue.pull?.headSha}/${filename}`,
        contents_url: `${this.url}/repos/${ctx.repo.owner}/${ctx.repo.name}/contents/${filename}`,
      }),
    );
    return this.paginate(list, ctx.params, ctx.url);
  },

  'checks/create'(ctx) {
    const b = ctx.body;
    const conclusion = (b.conclusion as string | undefined) ?? null;
    const status = conclusion ? 'completed' : String(b.status ?? 'queued');
    if (status === 'completed' && !conclusion) {
      throw new HttpError(422, 'Invalid request.\n\nconclusion is required when status is completed.');
    }
    const output = (b.output ?? {}) as Json;
    const run: StoredCheckRun = {
      id: this.newId(),
      repo: `${ctx.repo.owner}/${ctx.repo.name}`,
      name: String(b.name),
      headSha: String(b.head_sha),
      status,
      conclusion,
      startedAt: String(b.started_at ?? now()),
      completedAt: status === 'completed' ? String(b.completed_at ?? now()) : null,
      detailsUrl: (b.details_url as string | undefined) ?? null,
      externalId: (b.external_id as string | undefined) ?? null,
      output: {
        title: (output.title as string | undefined) ?? null,
        summary: (output.summary as string | undefined) ?? null,
        text: (output.text as string | undefined) ?? null,
      },
      annotations: (output.annotations as Json[] | undefined) ?? [],
      login: ctx.user.login,
    };
    this.checkRuns.set(run.id, run);
    return { status: 201, body: this.checkRunObject(run) };
  },

  'checks/update'(ctx) {
    const run = this.checkRuns.get(Number(ctx.params.check_run_id));
    if (!run || run.repo !== `${ctx.repo.owner}/${ctx.repo.name}`) throw new HttpError(404, 'Not Found');
    const b = ctx.body;
    if (typeof b.conclusion === 'string') {
      run.conclusion = b.conclusion;
      run.status = 'completed';
      run.completedAt = String(b.completed_at ?? now());
    } else if (typeof b.status === 'string') run.status = b.status;
    if (b.output) {
      const o = b.output as Json;
      run.output = {
        title: (o.title as string | undefined) ?? run.output.title,
        summary: (o.summary as string | undefined) ?? run.output.summary,
        text: (o.text as string | undefined) ?? run.output.text,
      };
    }
    return { status: 200, body: this.checkRunObject(run) };
  },

  'checks/get'(ctx) {
    const run = this.checkRuns.get(Number(ctx.params.check_run_id));
    if (!run || run.repo !== `${ctx.repo.owner}/${ctx.repo.name}`) throw new HttpError(404, 'Not Found');
    return { status: 200, body: this.checkRunObject(run) };
  },

  'checks/list-for-ref'(ctx) {
    const runs = [...this.checkRuns.values()]
      .filter((r) => r.repo === `${ctx.repo.owner}/${ctx.repo.name}` && r.headSha === ctx.params.ref)
      .filter((r) => !ctx.params.check_name || r.name === ctx.params.check_name)
      .sort((a, b) => b.id - a.id)
      .map((r) => this.checkRunObject(r));
    const page = this.paginate(runs, ctx.params, ctx.url);
    return { ...page, body: { total_count: runs.length, check_runs: page.body } };
  },

  'repos/get-content'(ctx) {
    const ref = ctx.params.ref ? String(ctx.params.ref) : ctx.repo.defaultBranch;
    const path = String(ctx.params.path);
    const file = this.treeAt(ctx.repo, ref).get(path);
    if (!file) throw new HttpError(404, 'Not Found');
    return { status: 200, body: this.fileObject(ctx.repo, path, file, ref) };
  },

  'repos/create-or-update-file-contents'(ctx) {
    const b = ctx.body;
    const branch = String(b.branch ?? ctx.repo.defaultBranch);
    const path = String(ctx.params.path);
    const content = Buffer.from(String(b.content), 'base64');
    let status = 201;
    let stored: StoredFile = { content, sha: '' };
    const commit = this.commitFiles(ctx.repo, branch, (tree) => {
      const existing = tree.get(path);
      if (existing) {
        if (b.sha === undefined) throw new HttpError(422, 'Invalid request.\n\n"sha" wasn\'t supplied.');
        if (b.sha !== existing.sha) throw new HttpError(409, `${path} does not match ${String(b.sha)}`);
        status = 200;
      } else if (b.sha !== undefined) {
        throw new HttpError(409, `${path} does not match ${String(b.sha)}`);
      }
      stored = { content, sha: sha1(Buffer.concat([Buffer.from(`blob ${content.length}\0`), content])) };
      tree.set(path, stored);
    });
    const api = `${this.url}/repos/${ctx.repo.owner}/${ctx.repo.name}`;
    return {
      status,
      body: this.shape('file-commit', {
        content: this.fileObject(ctx.repo, path, stored, branch),
        commit: {
          sha: commit,
          node_id: `C_${commit}`,
          url: `${api}/git/commits/${commit}`,
          message: String(b.message),
        },
      }),
    };
  },

  'git/get-ref'(ctx) {
    const ref = String(ctx.params.ref);
    const sha = ctx.repo.refs.get(ref);
    if (!sha) throw new HttpError(404, 'Not Found');
    return { status: 200, body: this.refObject(ctx.repo, ref, sha) };
  },

  'git/create-ref'(ctx) {
    const ref = String(ctx.body.ref);
    if (!/^refs\/.+\/.+/.test(ref))
      throw new HttpError(422, 'Reference name must start with refs/ and have two slashes.');
    const name = ref.replace(/^refs\//, '');
    if (ctx.repo.refs.has(name)) throw new HttpError(422, 'Reference already exists');
    const sha = String(ctx.body.sha);
    if (!ctx.repo.trees.has(sha)) throw new HttpError(422, 'Object does not exist');
    ctx.repo.refs.set(name, sha);
    return { status: 201, body: this.refObject(ctx.repo, name, sha) };
  },
};

/** Starts a fake GitHub with one repository and a pull request in it. */
export async function startFakeGitHub(options: FakeGitHubOptions = {}): Promise<FakeGitHub> {
  return new FakeGitHub(options).start();
}
