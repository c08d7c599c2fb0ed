// Action entry: inputs → Config → one mode → outputs. The only place that calls setFailed.
import * as core from '@actions/core';
import { context } from '@actions/github';
import { parseConfig } from './config.js';
import { pullRequestHeadSha, workflowContextFromActions } from './github/context.js';
import { type Host, writeOutputs } from './host.js';
import { runMode } from './modes/index.js';
import { useEnvProxy } from './proxy.js';
import { guardWorkflowCommands } from './security/echo.js';
import { knownSecrets } from './security/scrub.js';

export const actionHost: Host = {
  // a log tail or a report can quote a PR's output: ::set-output, ::add-mask:: and ::error lines stay text
  info: (m) => core.info(guardWorkflowCommands(m)),
  warning: (m) => core.warning(m),
  group: (name, fn) => core.group(name, fn),
  setOutput: (name, value) => core.setOutput(name, value),
  report: (markdown) => core.info(guardWorkflowCommands(markdown)),
  annotate: (message, at) => core.error(message, { file: at.file, startLine: at.line, title: at.title }),
  summary: async (markdown) => {
    if (!process.env.GITHUB_STEP_SUMMARY) return;
    await core.summary.addRaw(markdown, true).write();
  },
  setSecret: (value) => core.setSecret(value),
  env: process.env,
  // @actions/github read GITHUB_EVENT_PATH and the GITHUB_* variables once, when it was imported
  workflow: workflowContextFromActions(context, process.env),
  uploadArtifact: async (name, files, rootDir, options) => {
    // the Actions runtime hands its artifact service token only to real workflow jobs
    if (!process.env.ACTIONS_RUNTIME_TOKEN) {
      core.info(`not uploading artifact ${name}: no Actions runtime here (ACTIONS_RUNTIME_TOKEN is unset)`);
      return;
    }
    const { DefaultArtifactClient } = await import('@actions/artifact');
    await new DefaultArtifactClient().uploadArtifact(name, files, rootDir, {
      retentionDays: options?.retentionDays ?? 14,
    });
  },
};

export async function run(): Promise<void> {
  try {
    const proxy = useEnvProxy(process.env);
    if (proxy.warning) core.warning(proxy.warning);
    for (const secret of knownSecrets(process.env, core.getInput('github-token'))) core.setSecret(secret);
    const config = parseConfig((name) => core.getInput(name), {
      headSha: actionHost.workflow && pullRequestHeadSha(actionHost.workflow),
    });
    const outcome = await runMode(config, actionHost);
    writeOutputs(actionHost, outcome);
    if (outcome.exitCode !== 0) core.setFailed(outcome.failure ?? `verdict: ${outcome.verdict}`);
  } catch (error) {
    core.setFailed(error instanceof Error ? error.message : String(error));
  }
}
