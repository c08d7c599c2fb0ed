import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);
import {
  knownSecrets,
  parseConfig,
  runMode,
  writeOutputs
} from "./chunks/chunk-BD5K7W63.js";
import {
  getInput,
  group,
  info,
  setFailed,
  setOutput,
  setSecret,
  summary,
  warning
} from "./chunks/chunk-3OVIURVZ.js";
import "./chunks/chunk-4XCIAZIM.js";

// src/main.ts
var actionHost = {
  info: (m) => info(m),
  warning: (m) => warning(m),
  group: (name, fn) => group(name, fn),
  setOutput: (name, value) => setOutput(name, value),
  summary: async (markdown) => {
    if (!process.env.GITHUB_STEP_SUMMARY) return;
    await summary.addRaw(markdown, true).write();
  },
  setSecret: (value) => setSecret(value),
  env: process.env,
  uploadArtifact: async (name, files, rootDir) => {
    if (!process.env.ACTIONS_RUNTIME_TOKEN) {
      info(`not uploading artifact ${name}: no Actions runtime here (ACTIONS_RUNTIME_TOKEN is unset)`);
      return;
    }
    const { DefaultArtifactClient } = await import("./chunks/artifact-H3IQAP75.js");
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
