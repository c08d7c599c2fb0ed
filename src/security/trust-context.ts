// Gathers what the trust rule needs from a runner's environment: the event payload file, the token, the inputs.
import { readFile } from 'node:fs/promises';
import type { Config } from '../config.js';
import type { TrustContext } from './trust.js';

/** Events whose payload says whose code the run is about; elsewhere a `refs/pull/...` ref marks PR code. */
const EVENTS_NAMING_THE_HEAD = new Set([
  'pull_request',
  'pull_request_review',
  'pull_request_review_comment',
  'pull_request_target',
  'workflow_run',
  'issue_comment',
]);

export async function gpuTrustContext(
  config: Pick<Config, 'githubToken' | 'allowWriteTokenWithForkCode' | 'vllm'>,
  env: Readonly<Record<string, string | undefined>>,
  readText: (path: string) => Promise<string> = (path) => readFile(path, 'utf8'),
): Promise<TrustContext> {
  const eventName = env.GITHUB_EVENT_NAME || undefined;
  let event: unknown = {};
  const eventPath = env.GITHUB_EVENT_PATH;
  if (eventName && eventPath) {
    try {
      event = JSON.parse(await readText(eventPath));
    } catch (error) {
      throw new Error(
        `Cannot read the ${eventName} event payload at ${eventPath} (GITHUB_EVENT_PATH): ${(error as Error).message}. ` +
          'Run the action from a workflow, or unset GITHUB_EVENT_NAME to run it as from a terminal.',
      );
    }
  }
  const prRef = /^refs\/pull\/\d+\//.test(config.vllm.ref);
  return {
    eventName,
    event,
    hasWriteToken: Boolean(config.githubToken || env.GITHUB_TOKEN || env.GH_TOKEN),
    checkoutIsForkCode: eventName && !EVENTS_NAMING_THE_HEAD.has(eventName) && prRef ? true : undefined,
    allowUnsafe: config.allowWriteTokenWithForkCode,
  };
}
