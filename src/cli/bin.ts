#!/usr/bin/env node
// The `vllm-kernel-ci` command. Checks the Node version first: the CLI itself is loaded only once that passed,
// because on an older Node its imports fail with a SyntaxError that names no version.
import { nodeVersionProblem } from './node-version.js';

const problem = nodeVersionProblem(process.versions.node, process.execPath);
if (problem) {
  process.stderr.write(`error: ${problem}\n`);
  process.exitCode = 1;
} else {
  const { runCli } = await import('./main.js');
  process.exitCode = await runCli(process.argv.slice(2));
}
