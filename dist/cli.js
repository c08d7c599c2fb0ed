#!/usr/bin/env node
import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);
import {
  ConfigError,
  INPUTS,
  MODES,
  PatchSite,
  TOOL_VERSION,
  execa,
  external_exports,
  parseConfig,
  runMode,
  writeOutputs
} from "./chunks/chunk-HAOFS4VG.js";
import "./chunks/chunk-IVK7DNWI.js";

// src/cli.ts
import { parseArgs as parseArgs2 } from "node:util";

// src/patch/command.ts
import { parseArgs } from "node:util";

// src/patch/engine.ts
import { existsSync } from "node:fs";
import { copyFile, mkdir, readdir, readFile as readFile2, rm, rmdir, stat } from "node:fs/promises";
import { dirname, isAbsolute, join as join2, resolve } from "node:path";
import { fileURLToPath } from "node:url";

// src/patch/manifest.ts
import { readFile } from "node:fs/promises";
import { join } from "node:path";
var RelativePath = external_exports.string().min(1).refine((p) => !p.startsWith("/") && !p.split("/").includes(".."), {
  message: "must be a relative path inside its tree (no leading / and no ..)"
});
var BundleFile = external_exports.object({
  from: RelativePath.describe("path inside the bundle directory"),
  to: RelativePath.describe("path inside the vLLM tree")
});
var RewriteRule = external_exports.object({
  search: external_exports.array(external_exports.string().min(1)).min(1).describe("globs, relative to the vLLM tree, of files to parse"),
  required: external_exports.array(RelativePath).default([]).describe("files that must exist: missing ones are reported"),
  activation: external_exports.string().regex(/^[A-Za-z_]\w*$/).describe("function name: `sigmoid` matches F.sigmoid, torch.sigmoid"),
  gate: external_exports.object({
    attributePattern: external_exports.string().min(1).describe("regex over `self.<name>` of a gate module"),
    constructors: external_exports.array(external_exports.string().min(1)).min(1),
    outputSize: external_exports.number().int().positive()
  }),
  placeholders: external_exports.record(external_exports.string().regex(/^[A-Z][A-Z0-9_]*$/), external_exports.enum(["gate-module", "pure", "any"])),
  forms: external_exports.array(external_exports.object({ name: external_exports.string().min(1), pattern: external_exports.string().min(1) })).min(1).describe("Python expressions with UPPERCASE placeholders; `a * b` also matches `b * a`"),
  replacement: external_exports.string().includes("ORIGINAL", { message: "must keep the ORIGINAL expression as its fallback" }),
  imports: external_exports.array(external_exports.string().min(1)),
  marker: external_exports.string().regex(/^[^\n]+$/)
});
var Manifest = external_exports.object({
  name: external_exports.string().min(1),
  description: external_exports.string().optional(),
  files: external_exports.array(BundleFile),
  abSwitch: external_exports.object({ env: external_exports.string().min(1), off: external_exports.string() }).optional().describe("environment variable that sends a patched tree down the original path (the baseline arm)"),
  rewrite: RewriteRule
});
var ManifestError = class extends Error {
};
async function loadManifest(bundleDir) {
  const path = join(bundleDir, "manifest.json");
  let text;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw new ManifestError(
      `${bundleDir} is not a kernel bundle: it has no manifest.json. Pass a bundle name under kernels/ or a bundle directory.`
    );
  }
  let data;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new ManifestError(
      `${path} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`
    );
  }
  const parsed = Manifest.safeParse(data);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new ManifestError(`${path} is not a valid bundle manifest: ${issues}`);
  }
  return parsed.data;
}

// src/patch/engine.ts
var PatchError = class extends Error {
};
function toolRoot(from = fileURLToPath(import.meta.url)) {
  let dir = dirname(from);
  for (let i = 0; i < 6; i++) {
    if (existsSync(join2(dir, "package.json")) && existsSync(join2(dir, "src/patch/rewrite.py"))) return dir;
    dir = dirname(dir);
  }
  throw new PatchError(`Cannot find vllm-kernel-ci's own files above ${from}: reinstall the tool.`);
}
function resolveBundleDir(nameOrPath, root = toolRoot()) {
  if (isAbsolute(nameOrPath) || nameOrPath.includes("/") || nameOrPath.startsWith("."))
    return resolve(nameOrPath);
  return join2(root, "kernels", nameOrPath);
}
async function assertVllmTree(vllmDir) {
  const models = join2(vllmDir, "vllm/model_executor/models");
  const isDir = await stat(models).then(
    (s) => s.isDirectory(),
    () => false
  );
  if (!isDir) {
    throw new PatchError(
      `${vllmDir} is not a vLLM source tree: no vllm/model_executor/models/ in it. Pass the root of a vLLM checkout (the folder holding vllm/ and setup.py) or an extracted release.`
    );
  }
}
var RewriterAnswer = external_exports.object({
  sites: external_exports.array(PatchSite),
  written: external_exports.array(external_exports.string()),
  coveredModels: external_exports.array(external_exports.string()),
  python: external_exports.string()
});
async function runRewriter(vllmDir, manifest, mode, python) {
  const script = join2(toolRoot(), "src/patch/rewrite.py");
  const request = { root: resolve(vllmDir), mode, rule: manifest.rewrite };
  const run = await execa(python, [script], {
    input: JSON.stringify(request),
    reject: false,
    timeout: 3e5,
    env: { PYTHONDONTWRITEBYTECODE: "1" }
  });
  if (run.failed && run.code === "ENOENT") {
    throw new PatchError(`Cannot run Python '${python}': not found. Install Python 3.8+ or pass its path.`);
  }
  if (run.exitCode !== 0) {
    const tail = `${run.stderr}`.trim().split("\n").slice(-8).join("\n");
    throw new PatchError(
      `The rewriter failed under '${python}' (exit ${run.exitCode ?? run.signal}):
${tail}`
    );
  }
  try {
    return RewriterAnswer.parse(JSON.parse(`${run.stdout}`));
  } catch (error) {
    throw new PatchError(
      `The rewriter under '${python}' gave an answer that is not its JSON (${error instanceof Error ? error.message.split("\n")[0] : error}). Is it Python 3.8 or newer?`
    );
  }
}
async function sameBytes(a, b) {
  try {
    const [x, y] = await Promise.all([readFile2(a), readFile2(b)]);
    return x.equals(y);
  } catch {
    return false;
  }
}
async function pruneEmpty(dir, stop) {
  let current = dir;
  while (current.startsWith(`${stop}/`)) {
    if ((await readdir(current)).length > 0) return;
    await rmdir(current);
    current = dirname(current);
  }
}
async function placeFiles(vllmDir, bundleDir, manifest, mode) {
  const copied = [];
  const sites = [];
  for (const file of manifest.files) {
    const from = join2(bundleDir, file.from);
    const to = join2(vllmDir, file.to);
    const missing = (reason) => ({
      file: file.to,
      line: 0,
      status: "missing-file",
      source: "",
      reason
    });
    if (mode === "revert") {
      if (!existsSync(to)) continue;
      if (existsSync(from) && !await sameBytes(from, to)) {
        sites.push({
          file: file.to,
          line: 0,
          status: "unmatched",
          source: "",
          reason: `differs from the bundle's ${file.from}: changed after it was copied, left in place`
        });
        continue;
      }
      await rm(to);
      await pruneEmpty(dirname(to), vllmDir);
      copied.push({ from: file.from, to: file.to });
      continue;
    }
    if (!existsSync(from)) {
      sites.push(missing(`the bundle has no ${file.from} (${from}) to copy here`));
      continue;
    }
    if (mode === "apply" && !await sameBytes(from, to)) {
      await mkdir(dirname(to), { recursive: true });
      await copyFile(from, to);
    }
    copied.push({ from: file.from, to: file.to });
  }
  return { copied, sites };
}
async function applyBundle(opts) {
  const vllmDir = resolve(opts.vllmDir);
  await assertVllmTree(vllmDir);
  const manifest = await loadManifest(opts.bundleDir);
  let rewrite;
  let files;
  if (opts.mode === "revert") {
    rewrite = await runRewriter(vllmDir, manifest, opts.mode, opts.python);
    files = await placeFiles(vllmDir, opts.bundleDir, manifest, opts.mode);
  } else {
    files = await placeFiles(vllmDir, opts.bundleDir, manifest, opts.mode);
    rewrite = await runRewriter(vllmDir, manifest, opts.mode, opts.python);
  }
  const sites = [...files.sites, ...rewrite.sites].sort(
    (a, b) => a.file.localeCompare(b.file) || a.line - b.line
  );
  return { sites, copied: files.copied, coveredModels: rewrite.coveredModels, mode: opts.mode };
}
function countSites(patch) {
  const count = (status) => patch.sites.filter((s) => s.status === status).length;
  return {
    applied: count("applied"),
    alreadyApplied: count("already-applied"),
    unmatched: count("unmatched"),
    missingFiles: count("missing-file")
  };
}

// src/patch/command.ts
var DEFAULT_BUNDLE = INPUTS.find((i) => i.name === "bundle")?.default ?? "fused_shared_expert_gate";
var PATCH_HELP = `Usage: vllm-kernel-ci patch --vllm-dir DIR [--bundle NAME|PATH] [--check | --revert] [--strict] [--json]

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
    `${n.applied} ${VERB[mode].applied}, ${n.alreadyApplied} ${VERB[mode]["already-applied"]}, ${n.unmatched} unmatched, ${n.missingFiles} missing`
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
        python: { type: "string" }
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
    patch = await applyBundle({ vllmDir, bundleDir: resolveBundleDir(bundle), mode, python });
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
