// One workflow context, read once from @actions/github's context; the RunResult identity and the run URL from it.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { context } from '@actions/github';
import { describe, expect, it } from 'vitest';
import {
  runIdentity,
  runUrl,
  workflowContextFromActions,
  workflowContextFromEnv,
} from '../src/github/context.js';
import { reportTarget } from '../src/github/event.js';
import { tempDir } from './helpers.js';

const HEAD = 'a'.repeat(40);
const BASE_SHA = 'b'.repeat(40);
const PAYLOAD = {
  action: 'synchronize',
  number: 42,
  repository: { full_name: 'acme/vllm', id: 1 },
  pull_request: { number: 42, head: { sha: HEAD }, base: { sha: BASE_SHA } },
};

async function runnerVariables(eventName: string, payload: unknown) {
  const dir = await tempDir('vkci-ctx-');
  const path = join(dir, 'event.json');
  await writeFile(path, JSON.stringify(payload));
  return {
    GITHUB_EVENT_NAME: eventName,
    GITHUB_EVENT_PATH: path,
    GITHUB_SHA: 'c'.repeat(40),
    GITHUB_REF: 'refs/pull/42/merge',
    GITHUB_REPOSITORY: 'acme/vllm',
    GITHUB_RUN_ID: '987',
    GITHUB_SERVER_URL: 'https://ghe.example',
    GITHUB_API_URL: 'https://ghe.example/api/v3',
  };
}

describe('the workflow context', () => {
  it("reads @actions/github's context, and the same variables give the same context", async () => {
    const vars = await runnerVariables('pull_request', PAYLOAD);
    const saved = { ...process.env };
    Object.assign(process.env, vars);
    let fromActions: ReturnType<typeof workflowContextFromActions>;
    try {
      // a fresh Context, as @actions/github builds `context` when the action starts
      const Context = context.constructor as new () => typeof context;
      fromActions = workflowContextFromActions(new Context(), process.env);
    } finally {
      for (const k of Object.keys(vars)) if (!(k in saved)) delete process.env[k];
    }
    expect(fromActions).toEqual(await workflowContextFromEnv(vars));
    expect(runIdentity(fromActions)).toEqual({
      repository: 'acme/vllm',
      pr: 42,
      headSha: HEAD,
      baseSha: BASE_SHA,
      runId: '987',
      runUrl: 'https://ghe.example/acme/vllm/actions/runs/987',
    });
  });

  it('names the commit that ran on an event without a pull request', async () => {
    const ctx = await workflowContextFromEnv(await runnerVariables('push', { ref: 'refs/heads/main' }));
    expect(runIdentity(ctx)).toMatchObject({ headSha: 'c'.repeat(40), runId: '987' });
    expect(runIdentity(ctx).pr).toBeUndefined();
  });

  it('builds the run URL in one place, which report mode uses too', async () => {
    const vars = await runnerVariables('push', {});
    expect(reportTarget('push', {}, vars).runUrl).toBe(runUrl(await workflowContextFromEnv(vars)));
    expect(runUrl({ repository: undefined, runId: '1', serverUrl: 'https://github.com' })).toBeUndefined();
  });

  it('reads the event name without case in report mode', () => {
    const t = reportTarget('PULL_REQUEST', PAYLOAD, { GITHUB_REPOSITORY: 'acme/vllm' });
    expect(t.pr).toBe(42);
  });
});
