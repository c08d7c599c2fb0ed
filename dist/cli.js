#!/usr/bin/env node
import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);
import {
  ConfigError,
  INPUTS,
  MODES,
  TOOL_VERSION,
  parseConfig,
  runMode,
  writeOutputs
} from "./chunks/chunk-FPL3PHHZ.js";
import "./chunks/chunk-IVK7DNWI.js";

// src/cli.ts
import { parseArgs } from "node:util";
var processIo = {
  out: (t) => process.stdout.write(`${t}
`),
  err: (t) => process.stderr.write(`${t}
`)
};
function cliHost(io) {
  const secrets = [];
  const mask = (t) => secrets.reduce((s, secret) => s.split(secret).join("***"), t);
  return {
    info: (m) => io.err(mask(m)),
    warning: (m) => io.err(mask(`warning: ${m}`)),
    group: async (name, fn) => {
      io.err(`\u2500\u2500 ${name}`);
      return fn();
    },
    setOutput: (name, value) => io.err(`${name}: ${value}`),
    summary: async () => {
    },
    setSecret: (value) => {
      if (value) secrets.push(value);
    },
    env: {}
  };
}
var MODE_SUMMARY = {
  validate: "Run the whole validation on this machine (patch, tests, microbenchmark, e2e A/B) and write a RunResult and a report.",
  report: "Read the RunResults of every runner, decide the verdicts, render the report and publish it.",
  nightly: "Validate against vLLM main and compare with the history; open, update or close the regression issue."
};
var EXTRA_COMMANDS = [];
function modeHelp(mode) {
  const lines = [`Usage: vllm-kernel-ci ${mode} [options]`, "", MODE_SUMMARY[mode], "", "Options:"];
  for (const input of INPUTS.filter((i) => i.modes.includes(mode) && i.name !== "mode")) {
    const def = input.default !== void 0 ? ` (default: ${input.default || '""'})` : "";
    lines.push(`  --${input.name} <value>`, `      ${input.description}${def}`);
  }
  lines.push("  --help", "      Show this help.");
  return lines.join("\n");
}
function mainHelp() {
  const lines = [
    `vllm-kernel-ci ${TOOL_VERSION}: validate a Triton kernel change for vLLM and report it.`,
    "",
    "Usage: vllm-kernel-ci <command> [options]",
    "",
    "Commands:"
  ];
  for (const mode of MODES) lines.push(`  ${mode.padEnd(10)} ${MODE_SUMMARY[mode]}`);
  for (const c of EXTRA_COMMANDS) lines.push(`  ${c.name.padEnd(10)} ${c.summary}`);
  lines.push("", "Run `vllm-kernel-ci <command> --help` for the options of one command.");
  return lines.join("\n");
}
function parseFlags(args) {
  try {
    return parseArgs({
      args,
      options: {
        help: { type: "boolean", short: "h" },
        ...Object.fromEntries(INPUTS.map((i) => [i.name, { type: "string" }]))
      },
      strict: true,
      allowPositionals: false
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`${message} Run with --help to see the options.`);
  }
}
async function runCli(argv, io = processIo) {
  const [command, ...rest] = argv;
  if (!command || command === "--help" || command === "-h" || command === "help") {
    io.out(mainHelp());
    return 0;
  }
  if (command === "--version") {
    io.out(TOOL_VERSION);
    return 0;
  }
  const extra = EXTRA_COMMANDS.find((c) => c.name === command);
  if (extra) {
    if (rest.includes("--help") || rest.includes("-h")) {
      io.out(extra.help);
      return 0;
    }
    return extra.run(rest, io);
  }
  if (!MODES.includes(command)) {
    io.err(
      `Unknown command '${command}'. Expected one of: ${[...MODES, ...EXTRA_COMMANDS.map((c) => c.name)].join(", ")}.`
    );
    return 2;
  }
  const mode = command;
  try {
    const { values } = parseFlags(rest);
    if (values.help) {
      io.out(modeHelp(mode));
      return 0;
    }
    const host = cliHost(io);
    const config = parseConfig(
      (name) => name === "mode" ? mode : values[name]
    );
    if (config.githubToken) host.setSecret(config.githubToken);
    const outcome = await runMode(config, host);
    writeOutputs(host, outcome);
    if (outcome.exitCode !== 0) io.err(`error: ${outcome.failure ?? `verdict ${outcome.verdict}`}`);
    return outcome.exitCode;
  } catch (error) {
    io.err(`error: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  }
}
if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith("/cli.js")) {
  process.exitCode = await runCli(process.argv.slice(2));
}
export {
  EXTRA_COMMANDS,
  cliHost,
  runCli
};
