// The RunResult: the contract between a GPU job (validate) and the report job. Versioned; validated on both sides.
import { z } from 'zod';
import { CompileMatrix } from './compile-matrix.js';
import { checkShape } from './read-json.js';

export const RUN_RESULT_SCHEMA_VERSION = 1;

export const STEP_NAMES = [
  'checkout',
  'apply-bundle',
  'install',
  'detect-device',
  'compile',
  'kernel-tests',
  'microbench',
  'e2e',
] as const;
export const StepName = z.enum(STEP_NAMES);
export type StepName = z.infer<typeof StepName>;

/**
 * passed/failed: it ran; skipped: not applicable here (reason says why); not-available: the tool cannot do it yet;
 * cancelled: the run was cancelled (a newer push, the runner's stop) while it ran or before it started.
 */
export const StepStatus = z.enum(['passed', 'failed', 'timed-out', 'skipped', 'not-available', 'cancelled']);
export type StepStatus = z.infer<typeof StepStatus>;

export const Step = z.object({
  name: StepName,
  status: StepStatus,
  seconds: z.number().nonnegative(),
  reason: z.string().optional().describe('why it failed or was skipped, one line'),
  logTail: z.string().optional().describe('last lines of the step log, secrets scrubbed'),
  artifact: z.string().optional().describe('file name of the full log or raw output in the output directory'),
  sandbox: z
    .enum(['bwrap', 'none'])
    .optional()
    .describe(
      "the sandbox the step's commands that ran the tree's code ran in (the weakest, if they differ)",
    ),
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
  baseSha: z
    .string()
    .optional()
    .describe(
      "the pull request's base commit (event pull_request.base.sha or --base-ref), for a base-against-head A/B",
    ),
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
  card: z.string().optional().describe('hash of the GPU UUIDs (not kept): which cards measured'),
  host: z.string().optional().describe('the machine that measured: the runner name'),
});
export type Device = z.infer<typeof Device>;

export const PatchSiteStatus = z.enum([
  'applied',
  'already-applied',
  'unmatched',
  'missing-file',
  'tree-native',
]);
export const PatchSite = z.object({
  file: z.string().describe('path relative to the vLLM tree'),
  line: z.number().int().nonnegative(),
  status: PatchSiteStatus,
  source: z.string().describe('the source line as found'),
  symbol: z.string().optional().describe('Class.method holding the site'),
  form: z.string().optional().describe('which known gate form matched'),
  reason: z.string().optional().describe('why a site is unmatched or a file missing, one line'),
  args: z
    .array(
      z.object({
        name: z.string().optional().describe('the keyword, for a keyword argument'),
        source: z.string(),
        shapes: z.array(z.string()).optional().describe('shapes the tree builds it with, e.g. "[1, K]"'),
        origin: z.string().optional().describe('file:line that builds it'),
        starred: z.boolean().optional(),
      }),
    )
    .optional()
    .describe('a tree-native call: its arguments as the scan read them'),
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

/** conformance: any implementation through the op's public signature; pr: the PR's own tests; bundle: the bundle's unit tests. */
export const TestGroup = z.enum(['conformance', 'pr', 'bundle']);
export type TestGroup = z.infer<typeof TestGroup>;

export const TestGroupRun = z.object({
  group: TestGroup,
  status: z.enum(['ran', 'skipped']),
  reason: z.string().optional().describe('why the group was skipped, one line'),
  targets: z.array(z.string()).describe('test files, relative to where pytest ran'),
});
export type TestGroupRun = z.infer<typeof TestGroupRun>;

export const TestCase = z.object({
  id: z.string(),
  status: z.enum(['passed', 'failed', 'error', 'skipped']),
  seconds: z.number().nonnegative(),
  message: z.string().optional(),
  dtype: z.string().optional(),
  k: z.number().int().optional(),
  n: z.number().int().optional(),
  group: TestGroup.optional().describe('which suite the case belongs to; absent in RunResults before groups'),
  callForm: z
    .record(z.string(), z.string())
    .optional()
    .describe('what the case passes the op, per parameter, e.g. {"weight": "[K]"} (its call_form marker)'),
  file: z.string().optional().describe('the test file, relative to where pytest ran (JUnit)'),
  line: z.number().int().positive().optional().describe("the test's line in that file, 1-based"),
  beyondContract: z
    .string()
    .optional()
    .describe(
      'why the case is advisory: no call site of the tree passes what it passes; never fails the run',
    ),
});
export type TestCase = z.infer<typeof TestCase>;

export const Spread = z.object({
  median: z.number(),
  p20: z.number(),
  p80: z.number(),
});
export type Spread = z.infer<typeof Spread>;

export const MicrobenchImpl = z.enum(['eager', 'compile', 'fused', 'base']);
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
  warmups: z
    .object({ baseline: z.number().int().nonnegative(), patched: z.number().int().nonnegative() })
    .optional()
    .describe('vllm-serve: warm-up runs of each arm before its samples, until two agreed (steady state)'),
  drift: z
    .object({
      pct: z.number().describe('robust trend across the cell, both arms over their medians, in run order, %'),
      noisePct: z.number().nonnegative().describe('spread around that trend (scaled MAD), %'),
    })
    .optional()
    .describe('vllm-serve: a drift beyond the noise makes the cell too noisy (src/stats/drift.ts)'),
  fit: z
    .object({
      orderEffectPct: z.number().optional().describe('γ: the run second in a pair against the first, %'),
      residualPct: z.number().optional().describe("SD of one pair's residual after the fit, %"),
      pairsUsed: z.number().int().nonnegative().describe('pairs the verdict used, stalls left out'),
      stalled: z
        .array(z.object({ pair: z.number().int().nonnegative(), arm: z.enum(['baseline', 'patched']) }))
        .optional()
        .describe('runs left out as stalled'),
    })
    .optional()
    .describe(
      'sequential rule, for reading only: what the verdict fitted (analyseRuns recomputes it from the samples)',
    ),
});
export type E2eCell = z.infer<typeof E2eCell>;

export const ArmProbe = z.object({
  claims: z
    .enum(['fused', 'original'])
    .describe('what the arm says it runs: the op under test, or the original expression'),
  processes: z.number().int().nonnegative().describe('server processes that wrote a probe record'),
  tritonLaunches: z
    .number()
    .int()
    .nonnegative()
    .describe('Triton launches of any kernel: the probe was alive'),
  kernelLaunches: z
    .number()
    .int()
    .nonnegative()
    .describe("launches of Triton kernels defined in the op's module"),
  opCalls: z.number().int().nonnegative().describe('calls of the op outside torch.compile tracing'),
  opTraced: z.number().int().nonnegative().describe('calls seen while torch.compile traced'),
  layers: z.number().int().nonnegative().describe('distinct gate weights the op saw in one process: layers'),
  kernels: z.array(z.string().max(300)).max(20).describe("the op module's kernels that launched"),
  errors: z.array(z.string().max(300)).max(10),
});
export type ArmProbe = z.infer<typeof ArmProbe>;

export const ArmIntegrity = z.object({
  status: z
    .enum(['ok', 'violated', 'unknown'])
    .describe('violated: an arm did not run what it claims, so the e2e is no measurement of the kernel'),
  reason: z.string().max(1000),
  expectedLayers: z
    .number()
    .int()
    .nonnegative()
    .optional()
    .describe("layers with a shared-expert gate (the model's config)"),
  op: z.string().max(400).optional().describe('module:symbol the probe watched'),
  arms: z.object({ baseline: ArmProbe.optional(), patched: ArmProbe.optional() }),
});
export type ArmIntegrity = z.infer<typeof ArmIntegrity>;

export const Microbench = z.object({
  copyGbps: z.number().positive().describe('device-to-device copy bandwidth measured in the same run'),
  cells: z.array(MicrobenchCell),
  ab: z
    .array(E2eCell)
    .optional()
    .describe('base kernel (baseline) against head kernel (patched) per shape, when the base has a kernel'),
});
export type Microbench = z.infer<typeof Microbench>;

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
      rates: z.string().optional().describe('where the throughput and timings of the estimate came from'),
      steadyPct: z
        .number()
        .positive()
        .optional()
        .describe("two consecutive warm-up runs within this %: steady (from e2e-rates' noise, else 2)"),
      measured: z
        .object({
          serverStartSeconds: z.array(z.number().nonnegative()).describe('each server start, to healthy'),
          swapSeconds: z
            .array(z.number().nonnegative())
            .describe('each sleep-mode swap: park the idle arm, wake the other'),
          clientStartSeconds: z
            .array(z.number().nonnegative())
            .optional()
            .describe("each bench run's wall time beyond its requests: the client's own start and warm-up"),
        })
        .optional()
        .describe('timings of this run, so a later plan on this runner can use them (e2e-rates)'),
    })
    .optional()
    .describe('vllm-serve: the plan it ran to'),
  integrity: ArmIntegrity.optional().describe("vllm-serve: which gate each arm's server ran, counted in it"),
});
export type E2e = z.infer<typeof E2e>;

export const OpContract = z.object({
  sites: z.number().int().nonnegative().describe('call sites the contract is read from'),
  params: z
    .record(z.string(), z.array(z.string()))
    .describe(
      'per parameter, the shapes that every call site passes; a parameter absent: some site passes what the scan cannot tell, so no case is beyond it',
    ),
});
export type OpContract = z.infer<typeof OpContract>;

export const KernelUnderTest = z.object({
  source: z
    .enum(['tree', 'bundle'])
    .describe("tree: the vLLM tree's own kernel; bundle: the bundle's, put in"),
  path: z.string().describe('file defining the op, relative to the vLLM tree'),
  symbol: z.string().describe("the op's public function"),
  blobSha: z.string().describe('git blob SHA of that file as tested'),
  commit: z.string().describe('commit of the vLLM tree that was tested (head)'),
  base: z
    .object({
      commit: z.string(),
      path: z.string().optional().describe('where the base defines the op; absent when the base has none'),
      blobSha: z.string().optional(),
    })
    .optional()
    .describe('the baseline of a base-against-head A/B (tree kernel only)'),
  contract: OpContract.optional().describe("what the tree's call sites pass the op (tree kernel only)"),
});
export type KernelUnderTest = z.infer<typeof KernelUnderTest>;

export const VerdictSettings = z
  .object({
    minEffectPct: z
      .number()
      .nonnegative()
      .describe('smallest relative change called improved or regressed, %'),
    confidencePct: z.number().gt(0).lt(100).describe("level of a cell's first look, %"),
    rerunConfidencePct: z.number().gt(0).lt(100).describe('level once a cell was re-run, %'),
    rule: z
      .enum(['confirmed', 'per-cell', 'sequential'])
      .describe(
        'confirmed: a call stands only when the re-run of the cell agrees; per-cell: no confirmation; sequential: looks every lookEvery pairs with the order effect fitted',
      ),
    lookEvery: z.number().int().positive().optional().describe('sequential rule: pairs between looks'),
    maxPairs: z.number().int().positive().optional().describe('sequential rule: most pairs a cell runs'),
    clearPct: z
      .number()
      .positive()
      .optional()
      .describe('sequential rule: a cell stops clean when its 95% interval rules out this change, %'),
    familyPct: z
      .number()
      .gt(0)
      .lt(100)
      .optional()
      .describe('sequential rule: false-call rate of a whole run, spent over its cells and looks, %'),
    repeats: z.number().int().positive().describe("pairs of each cell's first round; re-runs follow them"),
  })
  .describe('how the GPU job judged e2e cells and chose re-runs, so a later report decides the same');
export type VerdictSettings = z.infer<typeof VerdictSettings>;

/** all: one job ran every step; kernel: checkout to microbench; e2e: the A/B that follows a passed kernel stage. */
export const Stage = z.enum(['all', 'kernel', 'e2e']);
export type Stage = z.infer<typeof Stage>;

export const Cancelled = z.object({
  signal: z.string().max(20).describe('the signal that stopped the run, e.g. SIGTERM'),
  at: z.string().describe('when it came'),
  step: StepName.optional().describe('the step that was running'),
});
export type Cancelled = z.infer<typeof Cancelled>;

export const RunResult = z.object({
  schema: z.literal(RUN_RESULT_SCHEMA_VERSION),
  tool: z.object({ name: z.literal('vllm-kernel-ci'), version: z.string() }),
  stage: Stage.optional().describe(
    'which stage this RunResult holds; absent: all (RunResults before stages)',
  ),
  cancelled: Cancelled.optional().describe(
    'the run was cancelled: its steps hold what finished, the rest are cancelled',
  ),
  e2ePlanMinutes: z
    .number()
    .nonnegative()
    .optional()
    .describe('kernel stage: the minutes the e2e stage that follows it plans to take (vllm-serve)'),
  identity: RunIdentity,
  device: Device,
  steps: z.array(Step),
  settings: z
    .record(z.string(), z.string())
    .describe('vLLM settings that change what the gate costs (side stream threshold, AITER fusion, ...)'),
  kernel: KernelUnderTest.optional().describe(
    'which kernel was tested; absent in RunResults before kernel sources',
  ),
  patch: Patch.optional(),
  tests: z.array(TestCase).optional(),
  testGroups: z.array(TestGroupRun).optional().describe('which test groups ran, and why any was skipped'),
  microbench: Microbench.optional(),
  e2e: E2e.optional(),
  compile: CompileMatrix.optional().describe('the op compiled for AMD and NVIDIA targets on this runner'),
  verdicts: VerdictSettings.optional(),
});
export type RunResult = z.infer<typeof RunResult>;

export { describeIssues } from './read-json.js';

/** Parses untrusted JSON into a RunResult, or throws an error that says what is wrong and where. */
export function parseRunResult(data: unknown, source: string): RunResult {
  return checkShape(RunResult, data, {
    what: source,
    mismatch: `is not a valid RunResult (schema ${RUN_RESULT_SCHEMA_VERSION})`,
  });
}
