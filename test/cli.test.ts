import { describe, expect, it } from 'vitest';
import { INPUTS, MODES } from '../src/inputs.js';
import { runNode } from './helpers.js';

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
      expect(r.stdout).toContain(`--${input.name} <value>`);
      expect(r.stdout).toContain(input.description);
    }
  });

  it('names an unknown flag and an unknown command', async () => {
    const flag = await runNode(['dist/cli.js', 'validate', '--repeat', '3'], env);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("Unknown option '--repeat'");
    const command = await runNode(['dist/cli.js', 'benchmark'], env);
    expect(command.code).toBe(2);
    expect(command.stderr).toContain("Unknown command 'benchmark'");
  });

  it.each([['--repeats=-2'], ['--repeats', '0']])('fails fast on repeats %s', async (...flag) => {
    const r = await runNode(['dist/cli.js', 'validate', ...flag], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Invalid repeats '(-2|0)'. Expected a positive integer./);
  });

  it('explains how to pass a value that starts with a dash', async () => {
    const r = await runNode(['dist/cli.js', 'validate', '--repeats', '-2'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("use '--repeats=-XYZ'");
  });
});
