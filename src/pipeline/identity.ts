// Run identity from the runner's environment and the workflow event: repository, run, PR, head and base commits.
import { readFile } from 'node:fs/promises';
import type { RunResult } from '../results/run-result.js';

export function identityFromEnv(env: Record<string, string | undefined>): Partial<RunResult['identity']> {
  const out: Partial<RunResult['identity']> = {};
  if (env.GITHUB_REPOSITORY) out.repository = env.GITHUB_REPOSITORY;
  if (env.GITHUB_RUN_ID) {
    out.runId = env.GITHUB_RUN_ID;
    if (env.GITHUB_REPOSITORY) {
      out.runUrl = `${env.GITHUB_SERVER_URL ?? 'https://github.com'}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}`;
    }
  }
  if (env.GITHUB_SHA) out.headSha = env.GITHUB_SHA;
  return out;
}

export async function identityFromEvent(path: string | undefined): Promise<Partial<RunResult['identity']>> {
  if (!path) return {};
  try {
    const event = JSON.parse(await readFile(path, 'utf8')) as {
      pull_request?: { number?: unknown; head?: { sha?: unknown }; base?: { sha?: unknown } };
    };
    const pr = event.pull_request;
    const out: Partial<RunResult['identity']> = {};
    if (typeof pr?.number === 'number' && pr.number > 0) out.pr = pr.number;
    if (typeof pr?.head?.sha === 'string') out.headSha = pr.head.sha;
    if (typeof pr?.base?.sha === 'string') out.baseSha = pr.base.sha;
    return out;
  } catch {
    return {};
  }
}
