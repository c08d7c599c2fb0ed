// The RunResult: the contract between a GPU job (validate) and the report job. Versioned; validated on both sides.
import { z } from 'zod';

export const RUN_RESULT_SCHEMA_VERSION = 1;

export const STEP_NAMES = [
  'checkout',
  'apply-bundle',
  'install',
  'detect-device',
  'kernel-tests',
  'microbench',
  'e2e',
] as const;
export const StepName = z.enum(STEP_NAMES);
export type StepName = z.infer<typeof StepName>;

/** passed/failed: it ran; skipped: not applicable here (reason says why); not-available: the tool cannot do it yet. */
export const StepStatus = z.enum(['passed', 'failed', 'timed-out', 'skipped', 'not-available']);
export type StepStatus = z.infer<typeof StepStatus>;

export const Step = z.object({
  name: StepName,
  status: StepStatus,
  seconds: z.number().nonnegative(),
  reason: z.string().optional().describe('why it failed or was skipped, one line'),
  logTail: z.string().optional().describe('last lines of the step log, secrets scrubbed'),
  artifact: z.string().optional().describe('file name of the full log or raw output in the output directory'),
});
export type Step = z.infer<typeof Step>;

export const RunIdentity = z.object({
  repository: z.string().optional().describe('owner/name of the repository the workflow ran in'),
  pr: z.number().int().positive().optional(),
  headSha: z.string().optional(),
  runId: z.string().optional(),
  runUrl: z.string().optional(),
  runner: z.string().describe('runner label or host name: one report section each'),
  vllmRepo: z.string(),
  vllmRef: z.string(),
  vllmSha: z.string().optional(),
  bundle: z.string(),
  bundleHash: z.string().describe('sha256 of the bundle files, so a report names exactly what ran'),
  startedAt: z.string(),
  finishedAt: z.string(),
});
export type RunIdentity = z.infer<typeof RunIdentity>;

export const Device = z.object({
  vendor: z.enum(['nvidia', 'amd', 'cpu', 'unknown']),
  name: z.string(),
  count: z.number().int().nonnegative(),
  driver: z.string().optional(),
  cuda: z.string().optional(),
  rocm: z.string().optional(),
  torch: z.string().optional(),
  triton: z.string().optional(),
  python: z.string().optional(),
  vllm: z.string().optional(),
  vllmSha: z.string().optional(),
});
export type Device = z.infer<typeof Device>;

export const PatchSiteStatus = z.enum(['applied', 'already-applied', 'unmatched', 'missing-file']);
export const PatchSite = z.object({
  file: z.string().describe('path relative to the vLLM tree'),
  line: z.number().int().nonnegative(),
  status: PatchSiteStatus,
  source: z.string().describe('the source line as found'),
  symbol: z.string().optional().describe('Class.method holding the site'),
  form: z.string().optional().describe('which known gate form matched'),
  reason: z.string().optional().describe('why a site is unmatched or a file missing, one line'),
});
export type PatchSite = z.infer<typeof PatchSite>;

export const Patch = z.object({
  sites: z.array(PatchSite),
  copied: z.array(z.object({ from: z.string(), to: z.string() })),
  coveredModels: z
    .array(z.string())
    .describe('models that reach a patched site through reuse, e.g. Qwen3-Next'),
  mode: z
    .enum(['apply', 'check', 'revert'])
    .optional()
    .describe(
      'what was asked: statuses say where each site stands against that (check writes nothing; revert: applied = reverted)',
    ),
});
export type Patch = z.infer<typeof Patch>;

export const TestCase = z.object({
  id: z.string(),
  status: z.enum(['passed', 'failed', 'error', 'skipped']),
  seconds: z.number().nonnegative(),
  message: z.string().optional(),
  dtype: z.string().optional(),
  k: z.number().int().optional(),
  n: z.number().int().optional(),
});
export type TestCase = z.infer<typeof TestCase>;

export const Spread = z.object({
  median: z.number(),
  p20: z.number(),
  p80: z.number(),
});
export type Spread = z.infer<typeof Spread>;

export const MicrobenchImpl = z.enum(['eager', 'compile', 'fused']);
export const MicrobenchCell = z.object({
  dtype: z.string(),
  k: z.number().int().positive(),
  n: z.number().int().nonnegative(),
  impl: MicrobenchImpl,
  graphUs: Spread.describe('CUDA-graph replay time per call, µs'),
  eventUs: Spread.describe('event-timed eager call, µs'),
  bytes: z.number().nonnegative(),
  gbps: z.number().nonnegative(),
  pctOfCopy: z.number().nonnegative().describe('gbps over the copy bandwidth measured in the same run, %'),
});
export type MicrobenchCell = z.infer<typeof MicrobenchCell>;

export const Microbench = z.object({
  copyGbps: z.number().positive().describe('device-to-device copy bandwidth measured in the same run'),
  cells: z.array(MicrobenchCell),
});
export type Microbench = z.infer<typeof Microbench>;

export const E2eCell = z.object({
  id: z.string().describe('stable key, e.g. "in1024-out1024-c16" or "decode-b64"'),
  params: z.record(z.string(), z.union([z.string(), z.number()])),
  metric: z.string().describe('e.g. output_throughput'),
  unit: z.string(),
  higherIsBetter: z.boolean(),
  baseline: z.array(z.number()).describe('raw samples of the baseline arm, in run order'),
  patched: z.array(z.number()).describe('raw samples of the patched arm, in run order'),
  status: z
    .enum(['ok', 'failed', 'not-run'])
    .describe('not-run: left out or stopped by the e2e budget (reason says which), never judged'),
  reason: z.string().optional(),
  reruns: z.number().int().nonnegative().default(0),
});
export type E2eCell = z.infer<typeof E2eCell>;

export const E2e = z.object({
  backend: z.enum(['vllm-serve', 'model']),
  method: z.string().describe('how it measured, one sentence for the report footer'),
  model: z.string(),
  aa: z.boolean().optional().describe('A/A run: both arms ran the baseline, so every change is noise'),
  cells: z.array(E2eCell),
  swap: z
    .enum(['resident', 'sleep', 'restart'])
    .optional()
    .describe('vllm-serve: how the arms were swapped (both servers resident, sleep mode, or restarts)'),
  plan: z
    .object({
      estimatedMinutes: z.number().nonnegative(),
      budgetMinutes: z.number().positive().optional(),
      serverStarts: z.number().int().nonnegative().describe('server starts that happened'),
      fitted: z.array(z.string()).describe('what the budget cut, in order'),
    })
    .optional()
    .describe('vllm-serve: the plan it ran to'),
});
export type E2e = z.infer<typeof E2e>;

export const RunResult = z.object({
  schema: z.literal(RUN_RESULT_SCHEMA_VERSION),
  tool: z.object({ name: z.literal('vllm-kernel-ci'), version: z.string() }),
  identity: RunIdentity,
  device: Device,
  steps: z.array(Step),
  settings: z
    .record(z.string(), z.string())
    .describe('vLLM settings that change what the gate costs (side stream threshold, AITER fusion, ...)'),
  patch: Patch.optional(),
  tests: z.array(TestCase).optional(),
  microbench: Microbench.optional(),
  e2e: E2e.optional(),
});
export type RunResult = z.infer<typeof RunResult>;

/** The first schema violations, each with where it is: `cells.0.k: expected number`. */
export function describeIssues(error: z.ZodError, max = 5): string {
  return error.issues
    .slice(0, max)
    .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

/** Parses untrusted JSON into a RunResult, or throws an error that says what is wrong and where. */
export function parseRunResult(data: unknown, source: string): RunResult {
  const parsed = RunResult.safeParse(data);
  if (!parsed.success) {
    const issues = describeIssues(parsed.error);
    throw new Error(`${source} is not a valid RunResult (schema ${RUN_RESULT_SCHEMA_VERSION}): ${issues}`);
  }
  return parsed.data;
}
