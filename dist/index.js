import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);
import {
  knownSecrets,
  parseConfig,
  pullRequestHeadSha,
  runMode,
  useEnvProxy,
  workflowContextFromActions
} from "./chunks/chunk-FD2BSJPQ.js";
import {
  context,
  error,
  getInput,
  group,
  info,
  setFailed,
  setOutput,
  setSecret,
  summary,
  warning
} from "./chunks/chunk-C4BHPZEI.js";
import "./chunks/chunk-C6OFAMAY.js";

// src/host.ts
function writeOutputs(host, outcome) {
  host.setOutput("verdict", outcome.verdict);
  host.setOutput("result-path", outcome.resultPath ?? "");
  host.setOutput("report-path", outcome.reportPath ?? "");
  host.setOutput("comment-url", outcome.commentUrl ?? "");
}

// src/security/echo.ts
import { randomBytes } from "node:crypto";
var COMMAND_LIKE = /(^|\n)[ \t]*::|##\[/;
function guardWorkflowCommands(text, token = randomBytes(16).toString("hex")) {
  if (!COMMAND_LIKE.test(text)) return text;
  return `::stop-commands::${token}
${text}
::${token}::`;
}

// src/main.ts
var actionHost = {
  // a log tail or a report can quote a PR's output: ::set-output, ::add-mask:: and ::error lines stay text
  info: (m) => info(guardWorkflowCommands(m)),
  warning: (m) => warning(m),
  group: (name, fn) => group(name, fn),
  setOutput: (name, value) => setOutput(name, value),
  report: (markdown) => info(guardWorkflowCommands(markdown)),
  annotate: (message, at) => error(message, { file: at.file, startLine: at.line, title: at.title }),
  summary: async (markdown) => {
    if (!process.env.GITHUB_STEP_SUMMARY) return;
    await summary.addRaw(markdown, true).write();
  },
  setSecret: (value) => setSecret(value),
  env: process.env,
  // @actions/github read GITHUB_EVENT_PATH and the GITHUB_* variables once, when it was imported
  workflow: workflowContextFromActions(context, process.env),
  uploadArtifact: async (name, files, rootDir, options) => {
    if (!process.env.ACTIONS_RUNTIME_TOKEN) {
      info(`not uploading artifact ${name}: no Actions runtime here (ACTIONS_RUNTIME_TOKEN is unset)`);
      return;
    }
    const { DefaultArtifactClient } = await import("./chunks/artifact-BV4C4SIJ.js");
    await new DefaultArtifactClient().uploadArtifact(name, files, rootDir, {
      retentionDays: options?.retentionDays ?? 14
    });
  }
};
async function run() {
  try {
    const proxy = useEnvProxy(process.env);
    if (proxy.warning) warning(proxy.warning);
    for (const secret of knownSecrets(process.env, getInput("github-token"))) setSecret(secret);
    const config = parseConfig((name) => getInput(name), {
      headSha: actionHost.workflow && pullRequestHeadSha(actionHost.workflow)
    });
    const outcome = await runMode(config, actionHost);
    writeOutputs(actionHost, outcome);
    if (outcome.exitCode !== 0) setFailed(outcome.failure ?? `verdict: ${outcome.verdict}`);
  } catch (error2) {
    setFailed(error2 instanceof Error ? error2.message : String(error2));
  }
}

// src/index.ts
await run();
