import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expandSwitches } from '../src/cli/modes.js';
import { MIN_NODE_MAJOR, nodeVersionProblem } from '../src/cli/node-version.js';
import { INPUTS, MODES } from '../src/inputs.js';
import { ROOT, runFile, runNode } from './helpers.js';

const env = { PATH: process.env.PATH ?? '' };

describe('dist/cli.js', () => {
  it('--help lists every command', async () => {
    const r = await runNode(['dist/cli.js', '--help'], env);
    expect(r.code).toBe(0);
    for (const mode of MODES) expect(r.stdout).toContain(`  ${mode} `);
  });

  it.each(MODES)('%s --help describes every flag of that mode', async (mode) => {
    const r = await runNode(['dist/cli.js', mode, '--help'], env);
    expect(r.code).toBe(0);
    for (const input of INPUTS.filter((i) => i.modes.includes(mode) && i.name !== 'mode')) {
      const value = input.default === 'true' || input.default === 'false' ? '[true|false]' : '<value>';
      expect(r.stdout).toContain(`--${input.name} ${value}`);
      expect(r.stdout).toContain(input.description);
    }
  });

  it('names an unknown flag and an unknown command', async () => {
    const flag = await runNode(['dist/cli.js', 'validate', '--repeat', '3'], env);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("Unknown option '--repeat'. Did you mean --repeats?");
    const command = await runNode(['dist/cli.js', 'benchmark'], env);
    expect(command.code).toBe(2);
    expect(command.stderr).toContain("Unknown command 'benchmark'");
  });

  it.each([['--repeats=-2'], ['--repeats', '0']])('fails fast on repeats %s', async (...flag) => {
    const r = await runNode(['dist/cli.js', 'validate', ...flag], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Invalid repeats '(-2|0)'. Expected a positive integer./);
  });

  it('takes a yes/no flag alone as true, and still checks a value given to it', async () => {
    expect(
      expandSwitches(['--force', '--e2e-aa', 'false', '--repeats', '3', '--fail-on-regression']),
    ).toEqual(['--force=true', '--e2e-aa', 'false', '--repeats', '3', '--fail-on-regression=true']);
    const bare = await runNode(['dist/cli.js', 'validate', '--plan', '--force'], env);
    expect(bare.code).toBe(0);
    const bad = await runNode(['dist/cli.js', 'validate', '--plan', '--force', 'maybe'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("Invalid force 'maybe'");
  });

  it("gives a negative number after a flag the input's own message, not the parser's", async () => {
    const r = await runNode(['dist/cli.js', 'validate', '--repeats', '-2'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Invalid repeats '-2'. Expected a positive integer.");
  });
});

describe('the Node version check', () => {
  it('names the Node it needs and how to get it, and passes Node 24 and later', () => {
    expect(nodeVersionProblem('20.20.2', '/usr/bin/node')).toMatch(
      /needs Node 24 or newer; this is Node 20\.20\.2 \(\/usr\/bin\/node\)\. Install Node 24/,
    );
    expect(nodeVersionProblem('23.11.0')).toContain('Node 24');
    expect(nodeVersionProblem('24.0.0')).toBeUndefined();
    expect(nodeVersionProblem('25.1.0')).toBeUndefined();
  });

  it('asks for the Node that package.json and action.yml declare', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.engines.node).toBe(`>=${MIN_NODE_MAJOR}`);
    expect(await readFile(join(ROOT, 'action.yml'), 'utf8')).toContain(`using: node${MIN_NODE_MAJOR}`);
  });

  it('dist/cli.js loads nothing before the check', async () => {
    const bin = await readFile(join(ROOT, 'dist/cli.js'), 'utf8');
    expect(bin).not.toMatch(/^\s*import\s/m);
    expect(bin).toContain('import("./cli-main.js")');
  });

  const old = olderNode();
  it.skipIf(!old)(`dist/cli.js on an older Node (${old}) exits 1 and says to install Node 24`, async () => {
    const r = await runFile(old as string, ['dist/cli.js', '--help'], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`needs Node ${MIN_NODE_MAJOR} or newer`);
    expect(r.stderr).not.toContain('SyntaxError');
  });
});

/** A node on this machine older than the CLI needs (the system one, where there is one). */
function olderNode(): string | undefined {
  const found = spawnSync('which', ['-a', 'node'], { encoding: 'utf8' }).stdout.split('\n');
  for (const path of new Set([...found, '/usr/bin/node', '/usr/local/bin/node'].filter(Boolean))) {
    const v = spawnSync(path, ['--version'], { encoding: 'utf8' });
    if (v.status === 0 && Number.parseInt(v.stdout.replace(/^v/, ''), 10) < MIN_NODE_MAJOR) return path;
  }
  return undefined;
}
