// `vllm bench serve --save-result` JSON → the numbers one e2e sample needs. Keys as vllm/benchmarks/serve.py writes them. Pure.
import { parseJson, ResultFileError } from '../read-json.js';

export interface BenchServeResult {
  completed: number;
  failed: number;
  duration: number;
  outputThroughput: number;
  requestThroughput: number;
  totalTokenThroughput: number;
  maxConcurrency: number | null;
  meanTtftMs?: number;
  meanTpotMs?: number;
  /** every numeric top-level value, for the raw record */
  numbers: Record<string, number>;
}

function num(data: Record<string, unknown>, key: string, what: string): number {
  const v = data[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new ResultFileError(`${what} has no numeric "${key}" (got ${JSON.stringify(v)})`);
  }
  return v;
}

export function parseBenchServe(text: string, what = 'bench JSON'): BenchServeResult {
  const data = parseJson(text, what);
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ResultFileError(`${what} is not a JSON object`);
  }
  const d = data as Record<string, unknown>;
  const completed = num(d, 'completed', what);
  const failed = typeof d.failed === 'number' ? d.failed : 0;
  if (completed === 0) throw new ResultFileError(`${what}: no request completed (${failed} failed)`);
  const numbers: Record<string, number> = {};
  for (const [k, v] of Object.entries(d)) if (typeof v === 'number' && Number.isFinite(v)) numbers[k] = v;
  const optional = (key: string) => (typeof d[key] === 'number' ? (d[key] as number) : undefined);
  return {
    completed,
    failed,
    duration: num(d, 'duration', what),
    outputThroughput: num(d, 'output_throughput', what),
    requestThroughput: num(d, 'request_throughput', what),
    totalTokenThroughput: num(d, 'total_token_throughput', what),
    maxConcurrency: typeof d.max_concurrency === 'number' ? d.max_concurrency : null,
    meanTtftMs: optional('mean_ttft_ms'),
    meanTpotMs: optional('mean_tpot_ms'),
    numbers,
  };
}
