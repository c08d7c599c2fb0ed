#!/usr/bin/env node
// Prints the README's run-level tables, each number from `vllm-kernel-ci simulate` (dist/cli.js), seeded, with
// its 95% Wilson interval.
// Usage: node scripts/simulation-tables.mjs [--trials N] [--cli PATH]   (the README uses the default, 20000)
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const flag = (name, fallback) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : fallback;
};
const cli = flag('--cli', fileURLToPath(new URL('../dist/cli.js', import.meta.url)));
const trials = flag('--trials', '20000');

/** One simulate run's JSON outcome. */
export function simulate(args) {
  const out = execFileSync(process.execPath, [cli, 'simulate', '--json', '--trials', trials, ...args], {
    encoding: 'utf8',
  });
  return JSON.parse(out);
}

/** A rate with its 95% Wilson interval over `n` runs, as the README prints it. */
export function rate(x, n = Number(trials)) {
  const z = 1.96;
  const centre = (x + (z * z) / (2 * n)) / (1 + (z * z) / n);
  const half = (z * Math.sqrt((x * (1 - x)) / n + (z * z) / (4 * n * n))) / (1 + (z * z) / n);
  const p = (v) => (v * 100).toFixed(1);
  return `${p(x)}% [${p(Math.max(0, centre - half))}, ${p(Math.min(1, centre + half))}]`;
}

/** Columns of the main table, with the flags each adds to `--cv C --runners R`. */
export const COLUMNS = [
  ['A/A: false call', ['--seed', '1'], (o) => rate(o.falseCall)],
  ['A/A: too noisy', ['--seed', '1'], (o) => rate(o.tooNoisy)],
  [
    'A/A, second run 1.5% slower: false call',
    ['--seed', '2', '--order-effect', '1.5'],
    (o) => rate(o.falseCall),
  ],
  ['−5% in one cell: power', ['--seed', '3', '--effect', '-5'], (o) => rate(o.power)],
  ['A/A: pairs a cell', ['--seed', '1'], (o) => o.meanPairsPerCell.toFixed(2)],
];

export function row(cv, runners) {
  const cache = new Map();
  const cells = COLUMNS.map(([, flags, pick]) => {
    const args = ['--cv', String(cv), '--runners', String(runners), ...flags];
    const key = args.join(' ');
    if (!cache.has(key)) cache.set(key, simulate(args));
    return pick(cache.get(key));
  });
  return `| ${cv}% | ${runners} (${runners * 9} cells) | ${cells.join(' | ')} |`;
}

/**
 * The stress cases at 2% CV, each with no budget and with what the default 250-minute plan runs (its cells and the
 * pairs a cell its budget pays for, from `validate --plan --json`).
 */
export const STRESS = [
  ['reference', []],
  ['a stalled run (0.7× throughput), 1 run in 20', ['--stall-rate', '5', '--stall-factor', '0.7']],
  ['patched arm 3% CV, baseline 2%', ['--cv-patched', '3']],
  ['patched arm 4% CV, baseline 2%', ['--cv-patched', '4']],
  ['t(3) noise + stalls 1 in 20 + AR(1) −0.5', ['--tails', '3', '--stall-rate', '5', '--ar1', '-0.5']],
  ['second run 1.5% slower', ['--order-effect', '1.5']],
];

/** The default plan's running cells and pairs a cell, as `validate --plan` fits them to the 250-minute budget. */
export function planBudget() {
  const out = execFileSync(process.execPath, [cli, 'validate', '--plan', '--json'], { encoding: 'utf8' });
  const { power } = JSON.parse(out);
  return { cells: power.cells, pairs: power.repeats };
}

export function stressRow(name, args, plan) {
  const budget = plan ? ['--cells', String(plan.cells), '--pairs', String(plan.pairs)] : [];
  const aa = simulate(['--cv', '2', '--seed', '1', ...budget, ...args]);
  const ab = simulate(['--cv', '2', '--seed', '3', '--effect', '-5', ...budget, ...args]);
  return `| ${name} | ${plan ? `the 250-min plan: ${plan.cells} cells, ${plan.pairs} pairs a cell` : 'none'} | ${rate(aa.falseCall)} | ${rate(ab.power)} | ${aa.meanPairsPerCell.toFixed(2)} |`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`| noise (CV) | runners | ${COLUMNS.map(([name]) => name).join(' | ')} |`);
  console.log(`| --- | --- | ${COLUMNS.map(() => '---').join(' | ')} |`);
  for (const runners of [1, 2]) for (const cv of [1, 2, 3, 5]) console.log(row(cv, runners));
  console.log('');
  console.log(
    '| at 2% CV, one runner | budget | A/A: false call | −5% in one cell: power | A/A: pairs a cell |',
  );
  console.log('| --- | --- | --- | --- | --- |');
  for (const plan of [undefined, planBudget()])
    for (const [name, args] of STRESS) console.log(stressRow(name, args, plan));
  console.log('');
  const extra = [
    [
      'confirmed rule (before: a round of 8 pairs, calls re-run), 2% noise',
      ['--cv', '2', '--rule', 'confirmed', '--seed', '1'],
    ],
    ['per-cell rule (no confirmation), 2% noise', ['--cv', '2', '--rule', 'per-cell', '--seed', '1']],
    [
      'alternating order A B A B, 2% noise, second run 1.5% slower',
      ['--cv', '2', '--order', 'alternating', '--order-effect', '1.5', '--seed', '2'],
    ],
    ['AR(1) ρ = −0.5, 2% noise', ['--cv', '2', '--ar1', '-0.5', '--seed', '4']],
    ['AR(1) ρ = +0.5, 2% noise', ['--cv', '2', '--ar1', '0.5', '--seed', '4']],
    ['12% noise', ['--cv', '12', '--seed', '1']],
  ];
  console.log('| setting (one runner, 9 cells) | A/A: false call | A/A: too noisy | A/A: pairs a cell |');
  console.log('| --- | --- | --- | --- |');
  for (const [name, args] of extra) {
    const o = simulate(args);
    console.log(
      `| ${name} | ${rate(o.falseCall)} | ${rate(o.tooNoisy)} | ${o.meanPairsPerCell.toFixed(2)} |`,
    );
  }
}
