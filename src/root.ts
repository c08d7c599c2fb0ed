// Where the tool's own files are (action.yml, kernels/, src/patch/rewrite.py): the first directory above the
// running module that holds them, whether it runs from src/, the bundled dist/ or an installed package.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MARKERS = ['action.yml', 'kernels', 'src/patch/rewrite.py'];

export function toolRoot(from: string = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  for (;;) {
    if (MARKERS.every((m) => existsSync(join(dir, m)))) return dir;
    const up = dirname(dir);
    if (up === dir)
      throw new Error(
        `cannot find vllm-kernel-ci's own files (${MARKERS.join(', ')}) above ${from}: reinstall the tool`,
      );
    dir = up;
  }
}
