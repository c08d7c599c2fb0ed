#!/usr/bin/env node

// src/cli/node-version.ts
var MIN_NODE_MAJOR = 24;
function nodeVersionProblem(version, execPath = "") {
  const major = Number.parseInt(version.replace(/^v/, ""), 10);
  if (major >= MIN_NODE_MAJOR) return void 0;
  const which = execPath ? ` (${execPath})` : "";
  return `vllm-kernel-ci needs Node ${MIN_NODE_MAJOR} or newer; this is Node ${version}${which}. Install Node ${MIN_NODE_MAJOR} (https://nodejs.org/en/download, or \`nvm install ${MIN_NODE_MAJOR}\`) and run it with that node.`;
}

// src/cli/bin.ts
var problem = nodeVersionProblem(process.versions.node, process.execPath);
if (problem) {
  process.stderr.write(`error: ${problem}
`);
  process.exitCode = 1;
} else {
  const { runCli } = await import("./cli-main.js");
  process.exitCode = await runCli(process.argv.slice(2));
}
