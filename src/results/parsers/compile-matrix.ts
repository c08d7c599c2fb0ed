// kernels/compile_matrix.py's JSON → the RunResult's compile section, and what in it fails the step. Pure.
import { COMPILE_MATRIX_SCHEMA, CompileMatrix } from '../compile-matrix.js';
import { checkShape, parseJson, ResultFileError } from '../read-json.js';

export function parseCompileMatrix(text: string, what = 'compile matrix JSON'): CompileMatrix {
  const data = parseJson(text, what) as Record<string, unknown>;
  if (typeof data !== 'object' || data === null || data.schema !== COMPILE_MATRIX_SCHEMA) {
    throw new ResultFileError(`${what} does not declare "schema": "${COMPILE_MATRIX_SCHEMA}"`);
  }
  return checkShape(CompileMatrix, data, {
    what,
    mismatch: 'does not match the compile matrix shape',
    error: ResultFileError,
    maxIssues: 4,
  });
}

/** Each configuration that did not compile or spills, as "target config: why", worst first. */
export function compileFailures(matrix: CompileMatrix): string[] {
  const errors: string[] = [];
  const spills: string[] = [];
  for (const t of matrix.targets) {
    if (t.status === 'failed' && t.reason) errors.push(`${t.target}: ${t.reason}`);
    for (const c of t.configs) {
      if (c.status === 'error') {
        const first = (c.error ?? 'no error text').split('\n').find((l) => /error/i.test(l));
        errors.push(`${t.target} ${c.id}: does not compile: ${(first ?? c.error ?? '').trim()}`);
      } else if (c.status === 'spill') {
        const unit = t.backend === 'cuda' ? 'bytes' : 'registers';
        spills.push(`${t.target} ${c.id}: spills (${c.spills ?? '?'} ${unit})`);
      }
    }
  }
  return [...errors, ...spills];
}

/** The targets nothing was compiled for, with why (an assembler missing, no launch). */
export function unavailableTargets(matrix: CompileMatrix): string[] {
  return matrix.targets
    .filter((t) => t.status === 'unavailable')
    .map((t) => `${t.target}: ${t.reason ?? 'not compiled'}`);
}
