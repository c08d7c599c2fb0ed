import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);
import {
  ConfigError,
  INPUTS,
  MODES,
  TOOL_VERSION,
  VERDICTS,
  analyseRuns,
  applyBundle,
  chooseSwap,
  confirmedMethod,
  countSites,
  counterbalancedOrder,
  decide,
  defaultMethod,
  describePlan,
  huberFit,
  judgeSequential,
  lookPriority,
  needsRerun,
  pairData,
  parseConfig,
  parseRunResult,
  perCellMethod,
  planRates,
  planServeAb,
  pullRequestHeadSha,
  ratesFor,
  resolveBundle,
  runMode,
  running,
  sequentialMethod,
  showInvisible,
  useEnvProxy,
  workflowContextOf
} from "./chunks/chunk-7JIEB4S5.js";
import "./chunks/chunk-MNLJ6WNR.js";

// src/modes/simulate.ts
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";

// src/stats/noise.ts
function prng(seed) {
  let a = 2654435769;
  let b = 608135816;
  let c = 3084996962;
  let d = seed >>> 0;
  const next = () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = a + b | 0;
    a = b ^ b >>> 9;
    b = c + (c << 3) | 0;
    c = c << 21 | c >>> 11;
    d = d + 1 | 0;
    t = t + d | 0;
    c = c + t | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 15; i++) next();
  return next;
}
function normal(rand) {
  const u = 1 - rand();
  const v = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
function studentT(rand, df) {
  let chi2 = 0;
  for (let k = 0; k < df; k++) chi2 += normal(rand) ** 2;
  return normal(rand) * Math.sqrt((df - 2) / df) / Math.sqrt(chi2 / df);
}
var REALISTIC_DRIFT = { trend: 0.04, wave: 0.02 };
function simulatePairs(rand, repeats, change, noise, level = 1e3) {
  const sigma = Math.sqrt(Math.log(1 + noise.cv ** 2));
  const sigmaPatched = Math.sqrt(Math.log(1 + (noise.cvPatched ?? noise.cv) ** 2));
  const stallRate = noise.stallRate ?? 0;
  const stallFactor = noise.stallFactor ?? 1;
  const draw = noise.tailDf ? () => studentT(rand, noise.tailDf ?? 0) : () => normal(rand);
  const positions = 2 * repeats;
  const slope = (2 * rand() - 1) * noise.trend;
  const cycles = 0.25 + 0.75 * rand();
  const phase = 2 * Math.PI * rand();
  const drift = (t) => Math.exp(
    slope * t / (positions - 1) + noise.wave * Math.sin(2 * Math.PI * cycles * t / positions + phase)
  );
  const rho = noise.ar1 ?? 0;
  const innovation = Math.sqrt(1 - rho ** 2);
  let previous;
  const shock = () => {
    const z = draw();
    previous = previous === void 0 ? z : rho * previous + innovation * z;
    return previous;
  };
  const order = noise.order ?? "alternating";
  const second = 1 - (noise.orderEffect ?? 0);
  const opens = order === "alternating" ? void 0 : counterbalancedOrder(repeats);
  const baseline = [];
  const patched = [];
  for (let i = 0; i < repeats; i++) {
    const late = opens === void 0 || opens[2 * i] === "baseline";
    const sample = (t, truth, isSecond, sd) => truth * (isSecond ? second : 1) * drift(t) * Math.exp(sd * shock() - sd ** 2 / 2) * (stallRate > 0 && rand() < stallRate ? stallFactor : 1);
    if (late) {
      baseline.push(sample(2 * i, level, false, sigma));
      patched.push(sample(2 * i + 1, level * (1 + change), true, sigmaPatched));
    } else {
      patched.push(sample(2 * i, level * (1 + change), false, sigmaPatched));
      baseline.push(sample(2 * i + 1, level, true, sigma));
    }
  }
  return { baseline, patched };
}

// src/stats/simulate.ts
var DEFAULT_SIMULATION = {
  cells: 9,
  runners: 1,
  cvPct: 2,
  repeats: 8,
  trials: 2e3,
  seed: 1,
  effectPct: 0,
  orderEffectPct: 0,
  ar1: 0,
  minEffectPct: 2,
  order: "counterbalanced",
  rule: "sequential",
  trendPct: REALISTIC_DRIFT.trend * 100,
  wavePct: REALISTIC_DRIFT.wave * 100,
  stallRatePct: 0,
  stallFactor: 0.7,
  tailDf: 0,
  pairs: 0
};
function skeleton(runner, method, repeats, cells) {
  return {
    schema: 1,
    tool: { name: "vllm-kernel-ci", version: "simulate" },
    identity: {
      runner,
      vllmRepo: "simulated",
      vllmRef: "simulated",
      bundle: "simulated",
      bundleHash: "",
      startedAt: "",
      finishedAt: ""
    },
    device: { vendor: "nvidia", name: "simulated", count: 1 },
    steps: [],
    settings: {},
    e2e: { backend: "model", method: "simulated", model: "simulated", cells },
    verdicts: { ...method, repeats }
  };
}
function methodOf(s) {
  if (s.rule === "sequential") return sequentialMethod(s.minEffectPct);
  return s.rule === "confirmed" ? confirmedMethod(s.minEffectPct) : perCellMethod(s.minEffectPct);
}
function simCell(c, pairs) {
  return {
    id: `cell-${c}`,
    params: {},
    metric: "output_throughput",
    unit: "tok/s",
    higherIsBetter: true,
    ...pairs,
    status: "ok",
    reruns: 0
  };
}
function sequentialCells(rand, s, method, noise, change) {
  const k = method.lookEvery ?? 4;
  const max = method.maxPairs ?? 16;
  const full = Array.from(
    { length: s.cells },
    (_, c) => simulatePairs(rand, max, c === 0 ? change : 0, noise)
  );
  const shown = full.map(() => Math.min(k, max));
  let budget = s.pairs > 0 ? s.pairs * s.cells - k * s.cells : Number.POSITIVE_INFINITY;
  const view = () => full.map(
    (f, c) => simCell(c, { baseline: f.baseline.slice(0, shown[c]), patched: f.patched.slice(0, shown[c]) })
  );
  for (; ; ) {
    const cells = view();
    const open = judgeSequential(cells, method).map((j, c) => ({ d: decide(cells[c], j, method), c, priority: lookPriority(j, method) })).filter((x) => x.d === "continue").sort((a, b) => b.priority - a.priority);
    let moved = false;
    const served = budget >= k * open.length ? open : open.slice(0, 1);
    for (const { c } of served) {
      if (budget < k) break;
      shown[c] = Math.min(max, shown[c] + k);
      budget -= k;
      moved = true;
    }
    if (!moved) return cells;
  }
}
function simulateRuns(partial = {}) {
  const s = { ...DEFAULT_SIMULATION, ...partial };
  const rand = prng(s.seed);
  const method = methodOf(s);
  const noise = {
    cv: s.cvPct / 100,
    trend: s.trendPct / 100,
    wave: s.wavePct / 100,
    orderEffect: s.orderEffectPct / 100,
    ar1: s.ar1,
    order: s.order,
    cvPatched: s.cvPatchedPct === void 0 ? void 0 : s.cvPatchedPct / 100,
    stallRate: s.stallRatePct / 100,
    stallFactor: s.stallFactor,
    tailDf: s.tailDf > 0 ? s.tailDf : void 0
  };
  const repeats = s.pairs > 0 ? s.pairs : s.repeats;
  let pairsRun = 0;
  const change = s.effectPct / 100;
  const wanted = change > 0 ? "improved" : change < 0 ? "regressed" : void 0;
  const verdicts = Object.fromEntries(VERDICTS.map((v) => [v, 0]));
  let falseCall = 0;
  let nullCells = 0;
  let nullCalled = 0;
  let nullNoisy = 0;
  let reruns = 0;
  let changed = 0;
  let detected = 0;
  for (let t = 0; t < s.trials; t++) {
    const results = [];
    for (let r = 0; r < s.runners; r++) {
      const cells = [];
      if (method.rule === "sequential") {
        cells.push(...sequentialCells(rand, s, method, noise, change));
        for (const cell of cells) if (cell.baseline.length > (method.lookEvery ?? 4)) reruns++;
      } else {
        for (let c = 0; c < s.cells; c++) {
          const truth = c === 0 ? change : 0;
          const cell = simCell(c, simulatePairs(rand, repeats, truth, noise));
          if (needsRerun(cell, method)) {
            const more = simulatePairs(rand, repeats, truth, noise);
            cell.baseline.push(...more.baseline);
            cell.patched.push(...more.patched);
            cell.reruns = 1;
            reruns++;
          }
          cells.push(cell);
        }
      }
      for (const cell of cells) pairsRun += cell.baseline.length;
      const first = method.rule === "sequential" ? method.lookEvery ?? 4 : repeats;
      results.push(skeleton(`runner-${r}`, method, first, cells));
    }
    const report = analyseRuns(results, { minEffectPct: s.minEffectPct, failOnRegression: false });
    const v = report.verdict.verdict;
    verdicts[v]++;
    if ((v === "improved" || v === "regressed") && v !== wanted) falseCall++;
    for (const runner of report.runners) {
      runner.compared.forEach(({ comparison }, i) => {
        if (i === 0 && change !== 0) {
          changed++;
          if (comparison.verdict === wanted) detected++;
          return;
        }
        nullCells++;
        if (comparison.verdict === "improved" || comparison.verdict === "regressed") nullCalled++;
        if (comparison.verdict === "too-noisy") nullNoisy++;
      });
    }
  }
  const n = s.trials;
  for (const v of VERDICTS) verdicts[v] /= n;
  return {
    settings: s,
    falseCall: falseCall / n,
    tooNoisy: verdicts["too-noisy"],
    power: wanted ? verdicts[wanted] : null,
    verdicts,
    cells: {
      falseCall: nullCells ? nullCalled / nullCells : 0,
      tooNoisy: nullCells ? nullNoisy / nullCells : 0,
      rerun: reruns / (n * s.runners * s.cells),
      detected: changed ? detected / changed : null
    },
    roundsPerCell: 1 + reruns / (n * s.runners * s.cells),
    meanPairsPerCell: pairsRun / (n * s.runners * s.cells)
  };
}
function estimateNoise(result) {
  const cells = (result.e2e?.cells ?? []).filter((c) => c.status === "ok");
  const legacy = result.verdicts === void 0;
  const perCell = [];
  let lagNum = 0;
  let lagDen = 0;
  for (const cell of cells) {
    const { d, s } = pairData(cell, result.verdicts?.repeats, legacy);
    if (d.length < 4) continue;
    const mean = d.reduce((a, x) => a + x, 0) / d.length;
    const sd = Math.sqrt(d.reduce((a, x) => a + (x - mean) ** 2, 0) / (d.length - 1));
    const fit = huberFit(d, s, Number.POSITIVE_INFINITY);
    const ss = fit.residuals.reduce((a, r) => a + r * r, 0);
    const residualSd = Math.sqrt(ss / (d.length - fit.params));
    perCell.push({
      id: cell.id,
      cvPct: sd / Math.SQRT2 * 100,
      orderEffectPct: (Math.exp(fit.gamma) - 1) * 100,
      residualCvPct: residualSd / Math.SQRT2 * 100,
      pairs: d.length
    });
    for (let i = 1; i < d.length; i++) lagNum += fit.residuals[i] * fit.residuals[i - 1];
    lagDen += ss;
  }
  if (perCell.length === 0) {
    throw new Error(
      "The RunResult has no e2e cell with 4 or more usable pairs: run validate with `e2e-aa: true` and an e2e backend first."
    );
  }
  const worst = perCell.reduce((a, c) => c.residualCvPct > a.residualCvPct ? c : a);
  const repeats = result.verdicts?.repeats ?? Math.min(...perCell.map((c) => c.pairs));
  return {
    cells: perCell.length,
    repeats,
    cvPct: worst.residualCvPct,
    worst: worst.id,
    orderEffectPct: Math.max(...perCell.map((c) => Math.abs(c.orderEffectPct))),
    perCell,
    lag1: lagDen > 0 ? lagNum / lagDen : 0
  };
}

// src/modes/simulate.ts
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

// src/pipeline/plan-power.ts
var MIN_PLAN_POWER = 0.9;
var EFFECT_PCT = -5;
var CV_PCT = 2;
var TRIALS = 2e3;
var RULE = defaultMethod(2).rule;
var pct2 = (x) => `${(100 * x).toFixed(1)}%`;
function planPower(plan, requested, o) {
  const cells = running(plan).length;
  const settings = (c, repeats) => ({
    cells: c,
    repeats,
    effectPct: EFFECT_PCT,
    cvPct: CV_PCT,
    minEffectPct: o.minEffectPct,
    // the rule the e2e runs (stats/e2e.ts defaultMethod), not the simulator's own default
    rule: RULE,
    trials: o.trials ?? TRIALS
  });
  const power = cells === 0 ? 0 : simulateRuns(settings(cells, plan.repeats)).power ?? 0;
  const same = cells === plan.cells.length && plan.repeats === requested.repeats;
  const requestedPower = same ? power : simulateRuns(settings(plan.cells.length, requested.repeats)).power ?? 0;
  const out = {
    power,
    requestedPower,
    cells,
    repeats: plan.repeats,
    requestedCells: plan.cells.length,
    requestedRepeats: requested.repeats,
    command: `vllm-kernel-ci simulate --cells ${cells} --repeats ${plan.repeats} --effect ${EFFECT_PCT} --cv ${CV_PCT} --min-effect ${o.minEffectPct} --rule ${RULE}`,
    reductions: plan.fitted
  };
  const cuts = [
    plan.fitted.some((f) => f.startsWith("prompts per run cut")) ? "prompts per run" : "",
    plan.repeats < requested.repeats ? `repeats ${requested.repeats} \u2192 ${plan.repeats}` : "",
    cells < plan.cells.length ? `cells ${plan.cells.length} \u2192 ${cells}` : ""
  ].filter(Boolean);
  const raise = `The ${plan.budgetMinutes}-min budget cut ${cuts.join(", ")}: raise e2e-budget (and the job's timeout-minutes), or ask for fewer shapes or concurrencies.`;
  if (power < MIN_PLAN_POWER) {
    out.warning = `the e2e finds a true 5% change in one cell in only ${pct2(power)} of runs at 2% run-to-run CV (under ${pct2(MIN_PLAN_POWER)}; ${pct2(requestedPower)} as asked). ` + (cuts.length > 0 ? raise : "Raise repeats, or measure this runner's own noise with an A/A run and `simulate --from`.");
  } else if (cells < plan.cells.length) {
    const dropped = plan.cells.filter((c) => c.dropped).map((c) => c.id);
    out.warning = `${dropped.length} of ${plan.cells.length} cells are not measured (${dropped.join(", ")}). ${raise}`;
  }
  return out;
}
function describePlanPower(p) {
  const asked = p.cells === p.requestedCells && p.repeats === p.requestedRepeats ? "" : ` (${pct2(p.requestedPower)} with the ${p.requestedCells} cells \xD7 ${p.requestedRepeats} repeats asked for)`;
  return [
    `power: a true 5% change in one cell at 2% run-to-run CV is found in ${pct2(p.power)} of runs with ${p.cells} cells \xD7 ${p.repeats} repeats${asked}; \`${p.command}\``,
    ...p.warning ? [`warning: ${p.warning}`] : []
  ];
}

// src/modes/plan.ts
function e2ePlanFor(config, planRates2 = ratesFor(config.e2e.model)) {
  const { rates, assumed } = planRates2;
  const swap = config.e2e.swap !== "auto" ? { method: config.e2e.swap, why: "asked for" } : rates.swapUsed ? { method: rates.swapUsed, why: `as the run the rates come from swapped on ${rates.card}` } : (() => {
    const chosen = chooseSwap({
      cardMemoryGiB: rates.cardMemoryGiB,
      weightsGiB: assumed ? void 0 : rates.weightsGiB,
      tensorParallelSize: config.e2e.tensorParallelSize
    });
    return {
      ...chosen,
      why: `${chosen.why}, on a ${rates.card}; the runner decides from its own card`
    };
  })();
  return planServeAb({
    model: config.e2e.model,
    shapes: config.e2e.shapes,
    concurrencies: config.e2e.concurrencies,
    repeats: config.e2e.repeats,
    swap,
    rates,
    ratesAssumed: assumed,
    runSeconds: config.e2e.runSeconds,
    warmup: true,
    budgetMinutes: config.e2e.budgetMinutes
  });
}
function renderPlan(config, json, rates) {
  if (config.e2e.backend === "model" || config.e2e.backend === "none")
    throw new Error(
      `--plan describes the vllm-serve e2e, and e2e-backend is ${config.e2e.backend}. Pass --e2e-backend vllm-serve (or auto).`
    );
  const plan = e2ePlanFor(config, rates);
  const power = planPower(plan, config.e2e, config.thresholds);
  return json ? JSON.stringify({ backend: "vllm-serve", ...plan, power }, null, 2) : [...describePlan(plan), ...describePlanPower(power)].join("\n");
}

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
