// The bundle's microbenchmark JSON (`vllm-kernel-ci/microbench@1`) → the RunResult's microbench part. Pure.
import { checkShape, parseJson, ResultFileError } from '../read-json.js';
import { Microbench } from '../run-result.js';

export const MICROBENCH_SCHEMA = 'vllm-kernel-ci/microbench@1';

export function parseMicrobench(text: string, what = 'microbench JSON'): Microbench {
  const data = parseJson(text, what) as Record<string, unknown>;
  if (typeof data !== 'object' || data === null || data.schema !== MICROBENCH_SCHEMA) {
    throw new ResultFileError(`${what} does not declare "schema": "${MICROBENCH_SCHEMA}"`);
  }
  return checkShape(Microbench, data, {
    what,
    mismatch: 'does not match the microbench shape',
    error: ResultFileError,
    maxIssues: 4,
  });
}
