// The bundle's microbenchmark JSON (`vllm-kernel-ci/microbench@1`) and e2e driver JSON → RunResult parts. Pure.
import type { z } from 'zod';
import { describeIssues, E2e, Microbench } from '../run-result.js';

export const MICROBENCH_SCHEMA = 'vllm-kernel-ci/microbench@1';

export class ResultFileError extends Error {}

function parseJson(text: string, what: string): unknown {
  if (text.trim() === '') throw new ResultFileError(`${what} is empty`);
  try {
    return JSON.parse(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new ResultFileError(`${what} is not valid JSON (truncated or corrupt): ${detail}`);
  }
}

const issues = (error: z.ZodError) => describeIssues(error, 4);

export function parseMicrobench(text: string, what = 'microbench JSON'): Microbench {
  const data = parseJson(text, what) as Record<string, unknown>;
  if (typeof data !== 'object' || data === null || data.schema !== MICROBENCH_SCHEMA) {
    throw new ResultFileError(`${what} does not declare "schema": "${MICROBENCH_SCHEMA}"`);
  }
  const parsed = Microbench.safeParse(data);
  if (!parsed.success)
    throw new ResultFileError(`${what} does not match the microbench shape: ${issues(parsed.error)}`);
  return parsed.data;
}

export function parseE2eModel(text: string, what = 'e2e JSON'): E2e {
  const parsed = E2e.safeParse(parseJson(text, what));
  if (!parsed.success)
    throw new ResultFileError(`${what} does not match the E2e shape: ${issues(parsed.error)}`);
  return parsed.data;
}

export { parseJson };
