// Bundles the action (dist/index.js) and the CLI (dist/cli.js, a Node version check before dist/cli-main.js), and writes docs/run-result.schema.json.
// `node scripts/build.mjs --out DIR` writes to DIR instead (the staleness test compares that with the tree).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outArg = process.argv.indexOf('--out');
const out = outArg > 0 ? resolve(process.argv[outArg + 1]) : root;

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  legalComments: 'none',
  logLevel: 'warning',
  // CommonJS dependencies inside an ESM bundle still call require()
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
};

await rm(join(out, 'dist'), { recursive: true, force: true });
await build({
  ...common,
  entryPoints: { index: join(root, 'src/index.ts'), 'cli-main': join(root, 'src/cli/main.ts') },
  outdir: join(out, 'dist'),
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
});
// the bin stands alone (no static import of any chunk) so it can name the Node it needs before loading the rest
await build({
  ...common,
  banner: undefined,
  entryPoints: [join(root, 'src/cli/bin.ts')],
  outfile: join(out, 'dist/cli.js'),
  plugins: [
    {
      name: 'cli-main-external',
      setup(b) {
        b.onResolve({ filter: /^\.\/main\.js$/ }, () => ({ path: './cli-main.js', external: true }));
      },
    },
  ],
});

const tmp = await mkdtemp(join(tmpdir(), 'vkci-schema-'));
try {
  const file = join(tmp, 'schema.mjs');
  await build({
    ...common,
    banner: undefined,
    entryPoints: [join(root, 'src/results/json-schema.ts')],
    outfile: file,
  });
  const { runResultJsonSchema } = await import(pathToFileURL(file).href);
  await mkdir(join(out, 'docs'), { recursive: true });
  await writeFile(join(out, 'docs/run-result.schema.json'), runResultJsonSchema());
} finally {
  await rm(tmp, { recursive: true, force: true });
}
