// Validate in a process of its own, on the fake tools: what the cancel test sends SIGTERM to. Bundled by the test
// (esbuild) and run with Node. argv[2]: a JSON file of { inputs, env, reposDir, actionRoot }; prints the outcome as JSON.
import { readFile } from 'node:fs/promises';
import { parseConfig } from '../../src/config.js';
import { runValidate } from '../../src/modes/validate.js';
import { applyBundle } from '../../src/patch/engine.js';

const { inputs, env, reposDir, actionRoot } = JSON.parse(await readFile(process.argv[2], 'utf8')) as {
  inputs: Record<string, string>;
  env: Record<string, string>;
  reposDir: string;
  /** the checkout of this tool: the bundled driver lives elsewhere */
  actionRoot: string;
};
const config = parseConfig((name) => inputs[name]);
const log = (m: string) => process.stderr.write(`${m}\n`);
const outcome = await runValidate(
  config,
  {
    info: log,
    warning: (m) => log(`warning: ${m}`),
    group: (_name, fn) => fn(),
    setOutput: () => {},
    summary: async () => {},
    setSecret: () => {},
    env: {},
  },
  {
    env,
    reposDir,
    actionRoot,
    applyBundle,
    timeouts: { serverReadyMs: 60_000, benchMs: 300_000, gpuMemoryReleaseMs: 10_000 },
  },
);
process.stdout.write(`${JSON.stringify(outcome)}\n`);
process.exitCode = outcome.exitCode;
