import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);
import {
  knownSecrets,
  parseConfig,
  runMode,
  workflowContextFromActions,
  writeOutputs
} from "./chunks/chunk-XBT2UAVB.js";
import {
  context,
  getInput,
  group,
  info,
  setFailed,
  setOutput,
  setSecret,
  summary,
  warning
} from "./chunks/chunk-3SJ5F7AL.js";
import "./chunks/chunk-MNLJ6WNR.js";

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
  summary: async (markdown) => {
    if (!process.env.GITHUB_STEP_SUMMARY) return;
    await summary.addRaw(markdown, true).write();
  },
  setSecret: (value) => setSecret(value),
  env: process.env,
  // @actions/github read GITHUB_EVENT_PATH and the GITHUB_* variables once, when it was imported
  workflow: workflowContextFromActions(context, process.env),
  uploadArtifact: async (name, files, rootDir) => {
    if (!process.env.ACTIONS_RUNTIME_TOKEN) {
      info(`not uploading artifact ${name}: no Actions runtime here (ACTIONS_RUNTIME_TOKEN is unset)`);
      return;
    }
    const { DefaultArtifactClient } = await import("./chunks/artifact-IXDPWBTH.js");
    await new DefaultArtifactClient().uploadArtifact(name, files, rootDir, { retentionDays: 14 });
  }
};
async function run() {
  try {
    for (const secret of knownSecrets(process.env, getInput("github-token"))) setSecret(secret);
    const config = parseConfig((name) => getInput(name));
    const outcome = await runMode(config, actionHost);
    writeOutputs(actionHost, outcome);
    if (outcome.exitCode !== 0) setFailed(outcome.failure ?? `verdict: ${outcome.verdict}`);
  } catch (error) {
    setFailed(error instanceof Error ? error.message : String(error));
  }
}

// src/index.ts
await run();
