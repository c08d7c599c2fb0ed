#!/usr/bin/env node
import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);
import {
  ConfigError,
  INPUTS,
  MODES,
  TOOL_VERSION,
  applyBundle,
  countSites,
  parseConfig,
  resolveBundle,
  runMode,
  writeOutputs
} from "./chunks/chunk-4TA6JENS.js";
import "./chunks/chunk-IVK7DNWI.js";

// src/cli.ts
import { parseArgs as parseArgs2 } from "node:util";

// src/patch/command.ts
import { parseArgs } from "node:util";
var DEFAULT_BUNDLE = INPUTS.find((i) => i.name === "bundle")?.default ?? "fused_shared_expert_gate";
var PATCH_HELP = `Usage: vllm-kernel-ci patch --vllm-dir DIR [--bundle NAME|PATH] [--check | --revert] [--force] [--strict] [--json]

Put a kernel bundle into a vLLM source tree: copy its files and rewrite every call site it names,
found by parsing the Python source. Idempotent (a second run changes nothing) and reversible.

Options:
  --vllm-dir DIR
      Root of the vLLM source tree (the folder holding vllm/).
  --bundle NAME|PATH
      Kernel bundle: a name under kernels/ or a bundle directory (default: ${DEFAULT_BUNDLE}).
  --check
      Report what applying would do; write nothing.
  --revert
      Take the bundle out again: the touched files come back byte for byte.
  --force
      Overwrite tree files whose content differs from the bundle's. Without it such a file (a pull
      request's own kernel, say) stops the patch with both git blob SHAs: to test the tree's own kernel,
      validate with --kernel-source tree (or auto) instead.
  --strict
      Exit 1 when a site is unmatched or a file is missing.
  --json
      Print the patch result (the RunResult's \`patch\` object) as JSON.
  --python PATH
      Python 3.8+ that runs the rewriter (default: python3; no torch needed).
  --help
      Show this help.

Exit status: 0 done, 1 unmatched or missing with --strict, 2 bad usage or not a vLLM tree.`;
var VERB = {
  apply: { applied: "applied", "already-applied": "already applied" },
  check: { applied: "to apply", "already-applied": "already applied" },
  revert: { applied: "reverted", "already-applied": "not applied" }
};
function renderPatch(patch, vllmDir, bundle) {
  const mode = patch.mode ?? "apply";
  const lines = [`${bundle} \u2192 ${vllmDir} (${mode})`];
  for (const c of patch.copied) {
    lines.push(
      `  ${mode === "revert" ? "removed" : mode === "check" ? "to copy" : "copied"}  ${c.from} \u2192 ${c.to}`
    );
  }
  for (const s of patch.sites) {
    const status = VERB[mode][s.status] ?? s.status;
    const where = s.line > 0 ? `${s.file}:${s.line}` : s.file;
    lines.push(
      `  ${status.padEnd(15)} ${where}${s.symbol ? `  ${s.symbol}` : ""}${s.form ? `  [${s.form}]` : ""}`
    );
    if (s.source) lines.push(`      ${s.source}`);
    if (s.reason) lines.push(`      ${s.reason}`);
  }
  if (patch.coveredModels.length > 0)
    lines.push(`  covered through reuse: ${patch.coveredModels.join("; ")}`);
  const n = countSites(patch);
  lines.push(
    `${n.applied} ${VERB[mode].applied}, ${n.alreadyApplied} ${VERB[mode]["already-applied"]}, ${n.unmatched} unmatched, ${n.missingFiles} missing${n.treeNative > 0 ? `, ${n.treeNative} tree-native` : ""}`
  );
  return lines.join("\n");
}
async function runPatchCommand(args, io) {
  let values;
  try {
    values = parseArgs({
      args,
      options: {
        "vllm-dir": { type: "string" },
        bundle: { type: "string" },
        check: { type: "boolean" },
        revert: { type: "boolean" },
        strict: { type: "boolean" },
        json: { type: "boolean" },
        python: { type: "string" },
        force: { type: "boolean" }
      },
      strict: true,
      allowPositionals: false
    }).values;
  } catch (error) {
    io.err(
      `error: ${error instanceof Error ? error.message : String(error)} Run with --help to see the options.`
    );
    return 2;
  }
  const vllmDir = values["vllm-dir"];
  if (typeof vllmDir !== "string" || vllmDir === "") {
    io.err(
      "error: --vllm-dir is required: the root of the vLLM source tree to patch. Run with --help to see the options."
    );
    return 2;
  }
  if (values.check && values.revert) {
    io.err("error: --check and --revert exclude each other: --check reports, --revert takes the bundle out.");
    return 2;
  }
  const mode = values.check ? "check" : values.revert ? "revert" : "apply";
  const bundle = typeof values.bundle === "string" && values.bundle !== "" ? values.bundle : DEFAULT_BUNDLE;
  const python = typeof values.python === "string" && values.python !== "" ? values.python : "python3";
  let patch;
  try {
    const bundleDir = await resolveBundle(bundle);
    patch = await applyBundle({ vllmDir, bundleDir, mode, python, force: values.force === true });
  } catch (error) {
    io.err(`error: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  }
  io.out(values.json ? JSON.stringify(patch, null, 2) : renderPatch(patch, vllmDir, bundle));
  const n = countSites(patch);
  if (values.strict && n.unmatched + n.missingFiles > 0) {
    io.err(`error: --strict: ${n.unmatched} unmatched site(s), ${n.missingFiles} missing file(s).`);
    return 1;
  }
  return 0;
}
var patchCommand = {
  name: "patch",
  summary: "Put a kernel bundle into a vLLM tree (copy its files, rewrite its call sites), check it or revert it.",
  help: PATCH_HELP,
  run: runPatchCommand
};

// src/cli.ts
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
var EXTRA_COMMANDS = [patchCommand];
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
    return parseArgs2({
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
