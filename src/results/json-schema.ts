import { z } from 'zod';
import { RunResult } from './run-result.js';

/** The RunResult's JSON Schema, as written to docs/run-result.schema.json. */
export function runResultJsonSchema(): string {
  const schema = z.toJSONSchema(RunResult, { io: 'input' });
  return `${JSON.stringify({ title: 'vllm-kernel-ci RunResult', ...schema }, null, 2)}\n`;
}
