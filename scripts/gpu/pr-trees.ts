// Builds the PR-shaped vLLM trees (test/support/pr-trees.ts) into the cache, for a GPU host with Node but no test
// runner. Bundled one folder below the repository root (where it finds test/fixtures/ from):
//   npx esbuild scripts/gpu/pr-trees.ts --bundle --platform=node --format=esm --outfile=.gpu/pr-trees.mjs \
//     --banner:js="import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);"
// Prints the branches and their commits.
import { buildPrTrees, removePrTrees } from '../../test/support/pr-trees.js';

const trees = await buildPrTrees();
process.stdout.write(`${JSON.stringify(trees.branches)}\n`);
await removePrTrees();
