// The one way this project talks to GitHub: @octokit/rest with retries on server errors and GitHub's rate limits respected.
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { Octokit } from '@octokit/rest';
import Bottleneck from 'bottleneck/light.js';
import { TOOL_VERSION } from '../version.js';

const GitHubOctokit = Octokit.plugin(retry, throttling);
export type GitHubClient = InstanceType<typeof GitHubOctokit>;

export interface ClientLog {
  info(message: string): void;
  warning(message: string): void;
}

export interface ClientOptions {
  /** API root; GitHub Enterprise or a test server (default https://api.github.com, or GITHUB_API_URL on a runner) */
  baseUrl?: string;
  log?: ClientLog;
  /** milliseconds per unit of retry delay: GitHub's seconds in production; tests shrink it */
  retryUnitMs?: number;
  /** spacing of writes; GitHub asks for at least 1 s (3 s for writes that notify) and that is the default */
  writeSpacingMs?: number;
  /** how many times a rate-limited request is retried after waiting (default 2) */
  rateLimitRetries?: number;
  /** a rate-limit wait longer than this many seconds is not waited for (default 600) */
  maxRateLimitWaitSeconds?: number;
}

const silent: ClientLog = { info: () => {}, warning: () => {} };

export function createOctokit(token: string, options: ClientOptions = {}): GitHubClient {
  if (!token)
    throw new Error(
      'A GitHub token is needed to publish: set the `github-token` input (e.g. to the workflow token, github.token).',
    );
  const log = options.log ?? silent;
  const unit = options.retryUnitMs ?? 1000;
  const retries = options.rateLimitRetries ?? 2;
  const maxWait = options.maxRateLimitWaitSeconds ?? 600;
  const onLimit =
    (kind: string) =>
    (retryAfter: number, request: { method: string; url: string }, _octokit: unknown, retryCount: number) => {
      const again = retryCount < retries && retryAfter <= maxWait;
      const what = `${kind} hit on ${request.method} ${request.url}`;
      log.warning(
        again
          ? `GitHub ${what}; retrying in ${retryAfter} s.`
          : `GitHub ${what}; giving up after ${retryCount} retries.`,
      );
      return again;
    };
  const spacing = options.writeSpacingMs;
  const groups =
    spacing === undefined
      ? {}
      : {
          // own groups, so clients in one process do not queue behind each other
          write: new Bottleneck.Group({ maxConcurrent: 1, minTime: spacing }),
          notifications: new Bottleneck.Group({ maxConcurrent: 1, minTime: spacing }),
        };
  return new GitHubOctokit({
    auth: token,
    baseUrl: options.baseUrl ?? 'https://api.github.com',
    userAgent: `vllm-kernel-ci/${TOOL_VERSION}`,
    // failed requests are logged by Octokit and then handled by the caller: they are not warnings by themselves
    log: {
      debug: () => {},
      info: () => {},
      warn: (m: string) => log.warning(m),
      error: (m: string) => log.info(m),
    },
    retry: { retryAfterBaseValue: unit },
    throttle: {
      retryAfterBaseValue: unit,
      fallbackSecondaryRateRetryAfter: 60,
      onRateLimit: onLimit('rate limit'),
      onSecondaryRateLimit: onLimit('secondary rate limit'),
      ...groups,
    },
  });
}
