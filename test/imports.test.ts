// The source's import graph: one direction, no circle, and a CLI that never loads the action's entry or @actions/*.
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

const SRC = join(ROOT, 'src');

/** Each source file's imports (static and dynamic), relative to src/; with `values`, without `import type`. */
async function importGraph(values = false): Promise<Map<string, string[]>> {
  const files = (await readdir(SRC, { recursive: true })).filter(
    (f) => f.endsWith('.ts') && !f.endsWith('.d.ts'),
  );
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = await readFile(join(SRC, file), 'utf8');
    const specs = [
      ...text.matchAll(
        values
          ? /^\s*(?:import|export)\s+(?!type\s)(?:[^'"]*?\sfrom\s+)?['"]([^'"]+)['"]/gm
          : /^\s*(?:import|export)\s+(?:[^'"]*?\sfrom\s+)?['"]([^'"]+)['"]/gm,
      ),
      ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
    ].map((m) => m[1]);
    graph.set(
      file,
      specs.map((s) =>
        s.startsWith('.') ? relative(SRC, resolve(SRC, dirname(file), s)).replace(/\.js$/, '.ts') : s,
      ),
    );
  }
  return graph;
}

function reachable(graph: Map<string, string[]>, from: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const next of graph.get(file) ?? []) visit(next);
  };
  visit(from);
  return seen;
}

describe('the import graph of src/', () => {
  it('has no circle, counting type imports', async () => {
    const graph = await importGraph();
    const circles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === 'done' || !graph.has(file)) return;
      if (state.get(file) === 'open') {
        circles.push([...path.slice(path.indexOf(file)), file].join(' → '));
        return;
      }
      state.set(file, 'open');
      for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of graph.keys()) visit(file, []);
    expect(circles).toEqual([]);
  });

  it('sees the imports it judges', async () => {
    const graph = await importGraph();
    expect(graph.get('cli/commands.ts')).toContain('patch/command.ts');
    expect(graph.get('cli/bin.ts')).toContain('cli/main.ts');
  });

  it('lets the CLI load neither the action entry nor @actions/*', async () => {
    const loaded = reachable(await importGraph(true), 'cli/bin.ts');
    expect(loaded).toContain('modes/index.ts');
    expect(
      [...loaded].filter((f) => f === 'main.ts' || f === 'index.ts' || f.startsWith('@actions/')),
    ).toEqual([]);
  });
});
