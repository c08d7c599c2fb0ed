// Builds the PR-shaped vLLM trees (test/support/pr-trees.ts) into the cache, for a GPU host with Node but no test
// runner: bundled with `npx esbuild scripts/gpu/pr-trees.ts --bundle --platform=node --format=esm
// --outfile=.gpu/pr-trees.mjs` (the bundle must sit one folder below the repository root). Prints the branches.
import { buildPrTrees, removePrTrees } from '../../test/support/pr-trees.js';

const trees = await buildPrTrees();
process.stdout.write(`${JSON.stringify(trees.branches)}\n`);
await removePrTrees();
