import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { INPUTS } from '../src/inputs.js';
import { ROOT } from './helpers.js';

interface ActionYml {
  runs: { using: string; main: string };
  inputs: Record<string, { description: string; default?: string }>;
  outputs: Record<string, { description: string }>;
}

const action = parse(await readFile(join(ROOT, 'action.yml'), 'utf8')) as ActionYml;
const readme = await readFile(join(ROOT, 'README.md'), 'utf8');

function readmeTable(heading: string): string[][] {
  const section = readme.split(`\n## ${heading}\n`)[1]?.split('\n## ')[0] ?? '';
  return section
    .split('\n')
    .filter((l) => l.startsWith('| `'))
    .map((l) =>
      l
        .slice(1, -1)
        .split(/(?<!\\) \| /)
        .map((c) => c.trim().replaceAll('\\|', '|')),
    );
}

describe('action.yml', () => {
  it('runs on node24 from dist/index.js', () => {
    expect(action.runs).toEqual({ using: 'node24', main: 'dist/index.js' });
  });

  it('declares exactly the inputs the code reads, with their defaults and descriptions', () => {
    expect(Object.keys(action.inputs)).toEqual(INPUTS.map((i) => i.name));
    for (const input of INPUTS) {
      expect(action.inputs[input.name].default, input.name).toBe(input.default);
      expect(action.inputs[input.name].description, input.name).toContain(input.description);
    }
  });

  it('describes every output', () => {
    expect(Object.keys(action.outputs)).toEqual(['verdict', 'result-path', 'report-path', 'comment-url']);
    for (const o of Object.values(action.outputs)) expect(o.description.length).toBeGreaterThan(10);
  });
});

describe('README', () => {
  it('has an inputs table that matches action.yml', () => {
    const rows = readmeTable('Inputs');
    expect(rows.map((r) => r[0])).toEqual(Object.keys(action.inputs).map((n) => `\`${n}\``));
    for (const [name, def, description] of rows) {
      const input = action.inputs[name.slice(1, -1)];
      expect(def, name).toBe(input.default !== undefined ? `\`${input.default}\`` : '');
      expect(description, name).toBe(input.description);
    }
  });

  it('has an outputs table that matches action.yml', () => {
    const rows = readmeTable('Outputs');
    expect(rows.map((r) => [r[0], r[1]])).toEqual(
      Object.entries(action.outputs).map(([n, o]) => [`\`${n}\``, o.description]),
    );
  });

  it('gives the set-up as exactly two commands', () => {
    const setup = readme.split('\n## Set-up\n')[1].split('```sh\n')[1].split('```')[0];
    expect(
      setup
        .trim()
        .split('\n')
        .map((l) => l.split('#')[0].trim()),
    ).toEqual(['npm ci && npm run validate', 'npm ci && npm test']);
  });

  it('names the Node the tool runs on in .node-version, and lets npm ci run on an older one without warning', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'));
    const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8'));
    const major = (await readFile(join(ROOT, '.node-version'), 'utf8')).trim();
    expect(pkg.engines.node).toBe(`>=${major}`);
    expect(lock.packages['node_modules/node'].version.split('.')[0]).toBe(major);
    // npm skips the root's engines when devEngines is there: engines is for the installed command
    expect(pkg.devEngines.runtime).toMatchObject({ name: 'node', onFail: 'error' });
    expect(readme).toContain('Node.js 20 or newer with npm 10.9 or newer');
  });
});
