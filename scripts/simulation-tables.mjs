#!/usr/bin/env node
// Prints the README's run-level tables, each number from `vllm-kernel-ci simulate` (dist/cli.js), seeded.
// Usage: node scripts/simulation-tables.mjs [--trials N]   (the README uses the default, 20000)
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const at = process.argv.indexOf('--trials');
const trials = at > 0 ? process.argv[at + 1] : '20000';

/** One simulate run's JSON outcome. */
export function simulate(args) {
  const out = execFileSync(process.execPath, [cli, 'simulate', '--json', '--trials', trials, ...args], {
    encoding: 'utf8',
  });
  return JSON.parse(out);
}

const pct = (x) => `${(x * 100).toFixed(1)}%`;

/** Columns of the main table, with the flags each adds to `--cv C --runners R`. */
export const COLUMNS = [
  ['A/A: false call', ['--seed', '1'], (o) => pct(o.falseCall)],
  ['A/A: too noisy', ['--seed', '1'], (o) => pct(o.tooNoisy)],
  [
    'A/A, second run 1.5% slower: false call',
    ['--seed', '2', '--order-effect', '1.5'],
    (o) => pct(o.falseCall),
  ],
  ['−5% in one cell: power', ['--seed', '3', '--effect', '-5'], (o) => pct(o.power)],
  ['A/A: GPU time', ['--seed', '1'], (o) => `${o.roundsPerCell.toFixed(2)}×`],
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

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`| noise (CV) | runners | ${COLUMNS.map(([name]) => name).join(' | ')} |`);
  console.log(`| --- | --- | ${COLUMNS.map(() => '---').join(' | ')} |`);
  for (const runners of [1, 2]) for (const cv of [1, 2, 3, 5]) console.log(row(cv, runners));
  console.log('');
  const extra = [
    ['per-cell rule (no confirmation), 2% noise', ['--cv', '2', '--rule', 'per-cell', '--seed', '1']],
    [
      'alternating order A B A B, 2% noise, second run 1.5% slower',
      ['--cv', '2', '--order', 'alternating', '--order-effect', '1.5', '--seed', '2'],
    ],
    ['AR(1) ρ = −0.5, 2% noise', ['--cv', '2', '--ar1', '-0.5', '--seed', '4']],
    ['AR(1) ρ = +0.5, 2% noise', ['--cv', '2', '--ar1', '0.5', '--seed', '4']],
    ['5% noise, 12 repeats', ['--cv', '5', '--repeats', '12', '--seed', '1']],
    ['12% noise', ['--cv', '12', '--seed', '1']],
  ];
  console.log('| setting (one runner, 9 cells) | A/A: false call | A/A: too noisy |');
  console.log('| --- | --- | --- |');
  for (const [name, args] of extra) {
    const o = simulate(args);
    console.log(`| ${name} | ${pct(o.falseCall)} | ${pct(o.tooNoisy)} |`);
  }
}
