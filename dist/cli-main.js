import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);
import {
  ConfigError,
  DEFAULT_SIMULATION,
  INPUTS,
  MODES,
  TOOL_VERSION,
  applyBundle,
  countSites,
  estimateNoise,
  parseConfig,
  parseRunResult,
  planRates,
  pullRequestHeadSha,
  renderPlan,
  resolveBundle,
  runMode,
  showInvisible,
  simulateRuns,
  useEnvProxy,
  workflowContextOf
} from "./chunks/chunk-FD2BSJPQ.js";
import "./chunks/chunk-C6OFAMAY.js";

// src/modes/simulate.ts
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
var SIMULATE_HELP = `Usage: vllm-kernel-ci simulate [options]

Run validate's and report's verdict path (re-run of borderline and called cells, confirmation, the verdict
across cells and runners) on synthetic runs, and print how often a run's verdict is wrong or undecided.

Options:
  --cells N            e2e cells per runner (default: ${DEFAULT_SIMULATION.cells})
  --runners N          runners judged together (default: ${DEFAULT_SIMULATION.runners})
  --cv PCT             noise of one sample, % (default: ${DEFAULT_SIMULATION.cvPct})
  --repeats N          pairs per cell and round (default: ${DEFAULT_SIMULATION.repeats})
  --min-effect PCT     smallest change called improved or regressed, % (default: ${DEFAULT_SIMULATION.minEffectPct})
  --trials N           simulated runs (default: ${DEFAULT_SIMULATION.trials})
  --seed N             seed of the generator (default: ${DEFAULT_SIMULATION.seed})
  --effect PCT         a true change of the first cell on every runner, % (default: 0, an A/A run)
  --order-effect PCT   whichever arm runs second in a pair is slower by PCT (default: 0)
  --order ORDER        counterbalanced (A B B A, B A A B) or alternating (A B A B) (default: ${DEFAULT_SIMULATION.order})
  --ar1 RHO            lag-1 autocorrelation of consecutive runs' noise (default: 0)
  --drift PCT          largest linear drift across a cell's runs, % (default: ${DEFAULT_SIMULATION.trendPct}; a slow wave of half of it rides on top)
  --rule RULE          sequential (looks every 4 pairs, order effect fitted, scale pooled over cells), confirmed
                       (a call stands only when its re-run agrees) or per-cell (default: ${DEFAULT_SIMULATION.rule})
  --stall-rate PCT     runs that stall, % (default: 0)
  --stall-factor F     throughput a stalled run keeps (default: ${DEFAULT_SIMULATION.stallFactor})
  --cv-patched PCT     the patched arm's noise of one sample, % (default: --cv)
  --tails DF           Student-t noise of DF degrees of freedom, DF > 2 (default: normal)
  --pairs N            pairs per cell the run can afford (the budget-fitted plan's repeats): the sequential rule
                       spends N \xD7 cells over its looks, the others run N pairs a round (default: no budget)
  --from RUNRESULT     take cells, repeats and noise from a real A/A RunResult: this runner's own power analysis
                       (with --effect -5 unless --effect is given); the noise is the worst cell's residual after
                       the order effect is fitted, the order effect the largest of the cells'
  --json               print the outcome as JSON
  --help               show this help

falseCall: runs whose verdict is improved or regressed against the truth; tooNoisy: runs whose verdict is too
noisy; power: runs whose verdict has the effect's sign.`;
function number(name, raw, check, what) {
  if (raw === void 0) return void 0;
  const x = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(x) || !check(x)) {
    throw new Error(`Invalid --${name} '${raw}'. Expected ${what}.`);
  }
  return x;
}
var positiveInt = (x) => Number.isInteger(x) && x > 0;
var nonNegative = (x) => x >= 0;
function parseSimulateArgs(args) {
  const joined = args.flatMap(
    (a, i) => /^-\d|^-\.\d/.test(a) && args[i - 1]?.startsWith("--") && !args[i - 1].includes("=") ? [] : [
      /^--/.test(a) && !a.includes("=") && /^-\d|^-\.\d/.test(args[i + 1] ?? "") ? `${a}=${args[i + 1]}` : a
    ]
  );
  const { values } = parseArgs({
    args: joined,
    strict: true,
    allowPositionals: false,
    allowNegative: false,
    options: {
      cells: { type: "string" },
      runners: { type: "string" },
      cv: { type: "string" },
      repeats: { type: "string" },
      "min-effect": { type: "string" },
      trials: { type: "string" },
      seed: { type: "string" },
      effect: { type: "string" },
      "order-effect": { type: "string" },
      order: { type: "string" },
      ar1: { type: "string" },
      drift: { type: "string" },
      rule: { type: "string" },
      "stall-rate": { type: "string" },
      "stall-factor": { type: "string" },
      "cv-patched": { type: "string" },
      tails: { type: "string" },
      pairs: { type: "string" },
      from: { type: "string" },
      json: { type: "boolean" }
    }
  });
  const order = values.order;
  if (order !== void 0 && order !== "counterbalanced" && order !== "alternating")
    throw new Error(`Invalid --order '${order}'. Expected counterbalanced or alternating.`);
  const rule = values.rule;
  if (rule !== void 0 && rule !== "confirmed" && rule !== "per-cell" && rule !== "sequential")
    throw new Error(`Invalid --rule '${rule}'. Expected sequential, confirmed or per-cell.`);
  const drift = number("drift", values.drift, nonNegative, "a percentage \u2265 0");
  const entries = {
    cells: number("cells", values.cells, positiveInt, "a positive integer"),
    runners: number("runners", values.runners, positiveInt, "a positive integer"),
    cvPct: number("cv", values.cv, (x) => x > 0 && x < 100, "a percentage above 0"),
    repeats: number("repeats", values.repeats, (x) => positiveInt(x) && x >= 3, "an integer \u2265 3"),
    minEffectPct: number("min-effect", values["min-effect"], nonNegative, "a percentage \u2265 0"),
    trials: number("trials", values.trials, positiveInt, "a positive integer"),
    seed: number("seed", values.seed, (x) => Number.isInteger(x) && x >= 0, "an integer \u2265 0"),
    effectPct: number("effect", values.effect, (x) => x > -100, "a percentage above -100"),
    orderEffectPct: number(
      "order-effect",
      values["order-effect"],
      (x) => x >= 0 && x < 100,
      "a percentage in [0, 100)"
    ),
    ar1: number("ar1", values.ar1, (x) => x > -1 && x < 1, "a correlation in (-1, 1)"),
    order,
    rule,
    stallRatePct: number(
      "stall-rate",
      values["stall-rate"],
      (x) => x >= 0 && x < 100,
      "a percentage in [0, 100)"
    ),
    stallFactor: number("stall-factor", values["stall-factor"], (x) => x > 0 && x <= 1, "a factor in (0, 1]"),
    cvPatchedPct: number("cv-patched", values["cv-patched"], (x) => x > 0 && x < 100, "a percentage above 0"),
    tailDf: number("tails", values.tails, (x) => Number.isInteger(x) && x > 2, "an integer > 2"),
    pairs: number("pairs", values.pairs, (x) => positiveInt(x) && x >= 4, "an integer \u2265 4"),
    trendPct: drift,
    wavePct: drift === void 0 ? void 0 : drift / 2
  };
  const settings = Object.fromEntries(
    Object.entries(entries).filter(([, v]) => v !== void 0)
  );
  return { settings, from: values.from, json: values.json === true };
}
var pct = (x) => x === null ? "\u2014" : `${(x * 100).toFixed(1)}%`;
function describeOutcome(o, noise) {
  const s = o.settings;
  const lines = [];
  if (noise) {
    lines.push(
      `Noise of the A/A RunResult: ${noise.cvPct.toFixed(2)}% per sample after the order effect, the worst of ${noise.cells} cells (${noise.worst}); per cell order effect \u03B3 and residual CV: ${noise.perCell.map(
        (c) => `${c.id} \u03B3 ${c.orderEffectPct.toFixed(2)}%, ${c.residualCvPct.toFixed(2)}% (raw ${c.cvPct.toFixed(2)}%)`
      ).join(
        "; "
      )}; lag-1 autocorrelation of the residuals ${noise.lag1.toFixed(2)}. Simulated with the worst cell's noise and the largest order effect (${noise.orderEffectPct.toFixed(2)}%).`
    );
  }
  lines.push(
    `${s.trials} simulated runs: ${s.runners} runner${s.runners === 1 ? "" : "s"} \xD7 ${s.cells} cells, ${s.repeats} pairs a round, ${s.cvPct}% noise, drift \xB1${s.trendPct}%, ${s.order} order${s.orderEffectPct ? `, second run ${s.orderEffectPct}% slower` : ""}${s.ar1 ? `, AR(1) ${s.ar1}` : ""}${s.cvPatchedPct ? `, patched arm ${s.cvPatchedPct}% noise` : ""}${s.stallRatePct ? `, ${s.stallRatePct}% of runs stalled at ${s.stallFactor}\xD7` : ""}${s.tailDf ? `, t(${s.tailDf}) tails` : ""}${s.pairs ? `, a budget of ${s.pairs} pairs a cell` : ""}, min effect ${s.minEffectPct}%, ${s.rule} rule, ${s.effectPct ? `a ${s.effectPct}% change in one cell` : "no change (A/A)"}, seed ${s.seed}.`,
    "",
    `Run level: false call ${pct(o.falseCall)}, too noisy ${pct(o.tooNoisy)}${o.power === null ? "" : `, power ${pct(o.power)}`}.`,
    `Per cell: false call ${pct(o.cells.falseCall)}, too noisy ${pct(o.cells.tooNoisy)}, re-run ${pct(o.cells.rerun)}${o.cells.detected === null ? "" : `, changed cell detected ${pct(o.cells.detected)}`}; GPU time ${o.roundsPerCell.toFixed(2)}\xD7 a run without re-runs, ${o.meanPairsPerCell.toFixed(2)} pairs a cell on average.`
  );
  return lines.join("\n");
}
async function runSimulate(args, io) {
  let parsed;
  try {
    parsed = parseSimulateArgs(args);
  } catch (error) {
    io.err(
      `${error instanceof Error ? error.message : String(error)} See \`vllm-kernel-ci simulate --help\`.`
    );
    return 2;
  }
  let settings = parsed.settings;
  let noise;
  if (parsed.from) {
    try {
      const result = parseRunResult(JSON.parse(await readFile(parsed.from, "utf8")), parsed.from);
      noise = estimateNoise(result);
      if (!result.e2e?.aa)
        io.err(`warning: ${parsed.from} is not an A/A run: a real change would count as noise.`);
      settings = {
        cells: noise.cells,
        repeats: noise.repeats,
        cvPct: Number(noise.cvPct.toFixed(3)),
        orderEffectPct: Number(noise.orderEffectPct.toFixed(3)),
        minEffectPct: result.verdicts?.minEffectPct,
        effectPct: -5,
        ...settings
      };
      settings = Object.fromEntries(
        Object.entries(settings).filter(([, v]) => v !== void 0)
      );
    } catch (error) {
      io.err(
        `Cannot estimate noise from ${parsed.from}: ${error instanceof Error ? error.message : String(error)}`
      );
      return 1;
    }
  }
  const outcome = simulateRuns(settings);
  if (parsed.from && outcome.settings.effectPct !== 0) {
    const aa = simulateRuns({ ...settings, effectPct: 0 });
    if (parsed.json) io.out(JSON.stringify({ noise, aa, effect: outcome }, null, 2));
    else io.out(`${describeOutcome(aa, noise)}

${describeOutcome(outcome)}`);
    return 0;
  }
  io.out(
    parsed.json ? JSON.stringify(noise ? { noise, ...outcome } : outcome, null, 2) : describeOutcome(outcome, noise)
  );
  return 0;
}
var simulateCommand = {
  name: "simulate",
  summary: "Simulate runs through the verdict path: false-call rate, too-noisy rate and power of the settings (or of a runner's A/A RunResult).",
  help: SIMULATE_HELP,
  run: runSimulate
};

// src/patch/command.ts
import { parseArgs as parseArgs2 } from "node:util";
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
    values = parseArgs2({
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

// src/cli/modes.ts
import { parseArgs as parseArgs3 } from "node:util";

// src/cli/io.ts
var processIo = {
  out: (t) => process.stdout.write(`${t}
`),
  err: (t) => process.stderr.write(`${t}
`)
};
function cliHost(io) {
  const secrets = [];
  const mask = (t) => showInvisible(secrets.reduce((s, secret) => s.split(secret).join("***"), t));
  return {
    info: (m) => io.err(mask(m)),
    warning: (m) => io.err(mask(`warning: ${m}`)),
    group: async (name, fn) => {
      io.err(mask(`\u2500\u2500 ${name}`));
      return fn();
    },
    setOutput: (name, value) => io.err(mask(`${name}: ${value}`)),
    summary: async () => {
    },
    setSecret: (value) => {
      if (value) secrets.push(value);
    },
    env: {}
  };
}

// src/cli/modes.ts
var MODE_SUMMARY = {
  validate: "Run the whole validation on this machine (patch, tests, microbenchmark, e2e A/B) and write a RunResult and a report.",
  report: "Read the RunResults of every runner, decide the verdicts, render the report and publish it.",
  nightly: "Validate against vLLM main and compare with the history; open, update or close the regression issue."
};
var SWITCHES = new Set(
  INPUTS.filter((i) => i.default === "true" || i.default === "false").map((i) => i.name)
);
function expandSwitches(args) {
  return args.map((arg, i) => {
    const next = args[i + 1];
    const bare = arg.startsWith("--") && SWITCHES.has(arg.slice(2));
    return bare && (next === void 0 || next.startsWith("--")) ? `${arg}=true` : arg;
  });
}
function modeHelp(mode) {
  const lines = [`Usage: vllm-kernel-ci ${mode} [options]`, "", MODE_SUMMARY[mode], "", "Options:"];
  for (const input of INPUTS.filter((i) => i.modes.includes(mode) && i.name !== "mode")) {
    const def = input.default !== void 0 ? ` (default: ${input.default || '""'})` : "";
    const value = SWITCHES.has(input.name) ? "[true|false]" : "<value>";
    lines.push(`  --${input.name} ${value}`, `      ${input.description}${def}`);
  }
  if (mode === "validate")
    lines.push(
      "  --plan [--json]",
      "      Print the vllm-serve e2e plan (cells, runs, prompts per run, server starts, swap method, minutes) and run nothing."
    );
  lines.push("  --help", "      Show this help.");
  return lines.join("\n");
}
function joinNegativeValues(args) {
  const out = [];
  for (let i = 0; i < args.length; i++) {
    const next = args[i + 1];
    if (/^--[\w-]+$/.test(args[i]) && next !== void 0 && /^-\d/.test(next)) {
      out.push(`${args[i]}=${next}`);
      i++;
    } else out.push(args[i]);
  }
  return out;
}
function editDistance(a, b) {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}
function didYouMean(flag, known) {
  const name = flag.replace(/^-+/, "").split("=")[0];
  const scored = known.map((k) => ({ k, d: editDistance(name, k) })).sort((a, b) => a.d - b.d);
  const best = scored[0];
  return best && best.d <= Math.max(2, Math.floor(name.length / 4)) ? `--${best.k}` : void 0;
}
function parseFlags(args, extra = []) {
  try {
    return parseArgs3({
      args: joinNegativeValues(expandSwitches(args)),
      options: {
        help: { type: "boolean", short: "h" },
        ...Object.fromEntries(INPUTS.map((i) => [i.name, { type: "string" }]))
      },
      strict: true,
      allowPositionals: false
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const unknown = /^Unknown option '([^']+)'/.exec(message)?.[1];
    const near = unknown ? didYouMean(unknown, [...INPUTS.map((i) => i.name), "help", ...extra]) : void 0;
    const first = unknown ? `Unknown option '${unknown}'.` : message;
    throw new ConfigError(
      `${first}${near ? ` Did you mean ${near}?` : ""} Run with --help to see the options.`
    );
  }
}
function outcomeLines(outcome, json) {
  if (json)
    return JSON.stringify({
      verdict: outcome.verdict,
      exitCode: outcome.exitCode,
      ...outcome.failure ? { failure: outcome.failure } : {},
      resultPath: outcome.resultPath ?? null,
      reportPath: outcome.reportPath ?? null,
      commentUrl: outcome.commentUrl ?? null
    });
  const lines = [...outcome.summary ?? [], `verdict: ${outcome.verdict}`];
  if (outcome.resultPath) lines.push(`result: ${outcome.resultPath}`);
  if (outcome.reportPath) lines.push(`report: ${outcome.reportPath}`);
  if (outcome.commentUrl) lines.push(`comment: ${outcome.commentUrl}`);
  return lines.join("\n");
}
async function runModeCommand(mode, args, io) {
  const plan = mode === "validate" && args.includes("--plan");
  const json = args.includes("--json");
  try {
    const extra = ["json", ...mode === "validate" ? ["plan"] : []];
    const { values } = parseFlags(
      args.filter((a) => a !== "--json" && !(plan && a === "--plan")),
      extra
    );
    if (values.help) {
      io.out(modeHelp(mode));
      return 0;
    }
    const host = cliHost(io);
    const config = parseConfig(
      (name) => name === "mode" ? mode : values[name],
      { headSha: pullRequestHeadSha(await workflowContextOf(host)) }
    );
    if (plan) {
      const rates = await planRates(config.e2e.model, config.e2e.ratesFile);
      if (rates.warning) io.err(`warning: ${rates.warning}`);
      io.out(renderPlan(config, json, rates));
      return 0;
    }
    if (config.githubToken) host.setSecret(config.githubToken);
    const outcome = await runMode(config, host);
    io.out(showInvisible(outcomeLines(outcome, json)));
    if (outcome.exitCode !== 0) io.err(`error: ${outcome.failure ?? `verdict ${outcome.verdict}`}`);
    return outcome.exitCode;
  } catch (error) {
    io.err(`error: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  }
}
function modeCommand(mode) {
  return {
    name: mode,
    summary: MODE_SUMMARY[mode],
    help: modeHelp(mode),
    run: (args, io) => runModeCommand(mode, args, io)
  };
}

// src/cli/commands.ts
var COMMANDS = [...MODES.map(modeCommand), patchCommand, simulateCommand];

// src/cli/main.ts
function mainHelp(commands) {
  const lines = [
    `vllm-kernel-ci ${TOOL_VERSION}: validate a Triton kernel change for vLLM and report it.`,
    "",
    "Usage: vllm-kernel-ci <command> [options]",
    "",
    "Commands:"
  ];
  for (const c of commands) lines.push(`  ${c.name.padEnd(10)} ${c.summary}`);
  lines.push("", "Run `vllm-kernel-ci <command> --help` for the options of one command.");
  return lines.join("\n");
}
async function runCli(argv, io = processIo, commands = COMMANDS) {
  const [name, ...rest] = argv;
  const proxy = useEnvProxy(process.env);
  if (proxy.warning) io.err(`warning: ${proxy.warning}`);
  if (!name || name === "--help" || name === "-h" || name === "help") {
    io.out(mainHelp(commands));
    return 0;
  }
  if (name === "--version") {
    io.out(TOOL_VERSION);
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    io.err(`Unknown command '${name}'. Expected one of: ${commands.map((c) => c.name).join(", ")}.`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    io.out(command.help);
    return 0;
  }
  return command.run(rest, io);
}
export {
  runCli
};
