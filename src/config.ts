// Inputs (action) and flags (CLI) become one typed Config here; every bad value is an error naming the input.
import { DEFAULT_VLLM_VERSION, inputSpec, MODES, type Mode } from './inputs.js';
import { COMPILE_TARGETS } from './results/compile-matrix.js';
import { checkNotOption, checkRef } from './security/refs.js';
import { SANDBOX_CHOICES, type SandboxChoice } from './security/sandbox.js';

export type InstallMethod = 'existing' | 'precompiled' | 'none';
export type E2eBackendChoice = 'auto' | 'vllm-serve' | 'model' | 'none';
export type KernelSourceChoice = 'auto' | 'tree' | 'bundle';

export interface WorkloadShape {
  inputLen: number;
  outputLen: number;
}

export interface Config {
  mode: Mode;
  vllm: { repository: string; ref: string };
  bundle: string;
  /** which kernel is tested: the tree's own, the bundle's, or tree when the tree carries the op */
  kernelSource: KernelSourceChoice;
  /** base of a tree kernel's A/B; else the event's pull_request.base.sha */
  baseRef?: string;
  /** bundle mode may overwrite a tree file that differs from the bundle's */
  force: boolean;
  install: InstallMethod;
  python: string;
  /** which steps run: all, the kernel stage (no install, no e2e) or the e2e stage (no kernel steps) */
  stage: 'all' | 'kernel' | 'e2e';
  /** stage e2e: the kernel stage's RunResult on this runner, which must have passed */
  kernelResult?: string;
  e2e: {
    backend: E2eBackendChoice;
    model: string;
    tensorParallelSize: number;
    shapes: WorkloadShape[];
    concurrencies: number[];
    repeats: number;
    /** both arms run the baseline: the noise floor */
    aa: boolean;
    /** minutes the vllm-serve e2e may take; undefined: no limit */
    budgetMinutes?: number;
    swap: 'auto' | 'resident' | 'sleep' | 'restart';
    /** a RunResult whose measured e2e rates the plan uses; undefined: the published figures */
    ratesFile?: string;
    /** seconds of requests a vllm-serve run lasts at least */
    runSeconds: number;
  };
  /** minEffectSet: min-effect differs from its default, so it overrides the one a RunResult recorded (report mode) */
  thresholds: { minEffectPct: number; failOnRegression: boolean; minEffectSet?: boolean };
  results: string;
  nightly: { historyBranch: string; historyDays: number; regressionThresholdPct: number };
  outputDir: string;
  runnerLabel?: string;
  githubToken?: string;
  /** the user accepts GPU steps on fork code in a job holding a write token (security/trust.ts) */
  allowWriteTokenWithForkCode: boolean;
  /** targets of the compile matrix; empty: the compile step is skipped */
  compileTargets: string[];
  /** the output directory as this job's artifact: whether, and for how many days */
  artifacts: { upload: boolean; retentionDays: number };
  /** where the tree's code runs (security/sandbox.ts) */
  sandbox: SandboxChoice;
}

/** Reads one raw value; undefined or '' means "not given". */
export type InputReader = (name: string) => string | undefined;

export class ConfigError extends Error {}

function bad(name: string, value: string, accepted: string): ConfigError {
  return new ConfigError(`Invalid ${name} '${value}'. Expected ${accepted}.`);
}

function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw bad(name, value, `one of: ${allowed.join(', ')}`);
}

export function parsePositiveInt(name: string, value: string): number {
  const trimmed = value.trim();
  if (!/^\d+$/.test(trimmed) || Number(trimmed) < 1 || !Number.isSafeInteger(Number(trimmed))) {
    throw bad(name, value, 'a positive integer');
  }
  return Number(trimmed);
}

function parsePositiveNumber(name: string, value: string): number {
  const n = Number(value.trim());
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw bad(name, value, 'a number > 0');
  return n;
}

function parseNonNegativeNumber(name: string, value: string): number {
  const n = Number(value.trim());
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw bad(name, value, 'a number ≥ 0');
  return n;
}

export function parseBoolean(name: string, value: string): boolean {
  // the YAML 1.2 core schema, as core.getBooleanInput accepts it
  if (['true', 'True', 'TRUE'].includes(value.trim())) return true;
  if (['false', 'False', 'FALSE'].includes(value.trim())) return false;
  throw bad(name, value, '`true` or `false`');
}

function parseList<T>(name: string, value: string, item: (part: string) => T, accepted: string): T[] {
  const parts = value.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) throw bad(name, value, accepted);
  try {
    return parts.map(item);
  } catch {
    throw bad(name, value, accepted);
  }
}

export function parseShapes(name: string, value: string): WorkloadShape[] {
  const accepted = 'comma-separated INPUTxOUTPUT token lengths, e.g. 1024x1024,1024x8192';
  return parseList(
    name,
    value,
    (part) => {
      const m = /^(\d+)x(\d+)$/.exec(part);
      if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw new Error(part);
      return { inputLen: Number(m[1]), outputLen: Number(m[2]) };
    },
    accepted,
  );
}

export function parseConcurrencies(name: string, value: string): number[] {
  return parseList(
    name,
    value,
    (part) => parsePositiveInt(name, part),
    'comma-separated positive integers, e.g. 4,16,64',
  );
}

/** Minutes, a positive number, or `none` for no limit. */
export function parseBudget(name: string, value: string): number | undefined {
  if (value.trim() === 'none') return undefined;
  const n = Number(value.trim());
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0)
    throw bad(name, value, 'minutes (a number > 0) or `none`');
  return n;
}

/** A plain git branch name: letters, digits, `._/-`, and none of the forms git check-ref-format refuses. */
export function parseBranchName(name: string, value: string): string {
  const invalid = !/^[A-Za-z0-9._/-]+$/.test(value) || /\.\.|\/\/|^[-/.]|[/.]$|\.lock$|\/\./.test(value);
  if (invalid) throw bad(name, value, 'a git branch name such as vllm-kernel-ci-data');
  return value;
}

/** Artifact retention: whole days, 1 to 90 as GitHub accepts them. */
export function parseRetentionDays(name: string, value: string): number {
  const days = /^\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
  if (!(days >= 1 && days <= 90)) throw bad(name, value, 'whole days from 1 to 90');
  return days;
}

/** Compile matrix targets: a comma list of known targets, or `none`. */
export function parseCompileTargets(name: string, value: string): string[] {
  if (value === 'none') return [];
  const targets = value.split(',').map((t) => t.trim());
  if (targets.some((t) => !(COMPILE_TARGETS as readonly string[]).includes(t))) {
    throw bad(name, value, `a comma-separated list of ${COMPILE_TARGETS.join(', ')}, or none`);
  }
  return targets;
}

/** A commit, branch or tag of the vLLM repository, checked as git checks a ref (it reaches git as an argument). */
function parseBaseRef(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return asConfigError(() => checkRef('base-ref', value, 'git'));
}

function asConfigError<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
}

/** What the run's event says, for defaults that depend on it. */
export interface ConfigContext {
  /** the pull request's head commit (an approving review's commit_id first), when the event is one */
  headSha?: string;
}

/**
 * vllm-ref when it is not given: a release for `pypi`; for a git repository or a local path the event's head
 * commit, else `HEAD` (a release number is never a git tag of vLLM, whose tags are `v0.x.y`).
 */
export function defaultVllmRef(repository: string, context: ConfigContext): string {
  if (repository === 'pypi') return DEFAULT_VLLM_VERSION;
  return context.headSha ?? 'HEAD';
}

/** Builds the Config from any source of raw input values; defaults come from INPUTS. */
export function parseConfig(read: InputReader, context: ConfigContext = {}): Config {
  const get = (name: string): string => {
    const raw = read(name);
    if (raw !== undefined && raw.trim() !== '') return raw.trim();
    return inputSpec(name).default ?? '';
  };
  const optional = (name: string): string | undefined => get(name) || undefined;

  const mode = oneOf('mode', get('mode'), MODES);
  const repository = get('vllm-repository');
  const ref = asConfigError(() =>
    checkRef('vllm-ref', get('vllm-ref') || defaultVllmRef(repository, context), repository),
  );
  // values that reach a command line as arguments must never read as options
  for (const name of [
    'vllm-repository',
    'bundle',
    'python',
    'model',
    'runner-label',
    'results',
    'output-dir',
  ])
    asConfigError(() => checkNotOption(name, get(name)));
  const repeats = parsePositiveInt('repeats', get('repeats'));
  const stage = oneOf('stage', get('stage'), ['all', 'kernel', 'e2e'] as const);
  if (optional('kernel-result') && stage !== 'e2e')
    throw new ConfigError(
      `Invalid kernel-result with stage '${stage}'. Expected stage 'e2e': the kernel stage's RunResult gates the e2e stage that follows it.`,
    );
  return {
    mode,
    vllm: { repository, ref },
    bundle: get('bundle'),
    kernelSource: oneOf('kernel-source', get('kernel-source'), ['auto', 'tree', 'bundle'] as const),
    baseRef: parseBaseRef(optional('base-ref')),
    force: parseBoolean('force', get('force')),
    install: oneOf('install', get('install'), ['existing', 'precompiled', 'none'] as const),
    python: get('python'),
    e2e: {
      backend: oneOf('e2e-backend', get('e2e-backend'), ['auto', 'vllm-serve', 'model', 'none'] as const),
      model: get('model'),
      tensorParallelSize: parsePositiveInt('tensor-parallel-size', get('tensor-parallel-size')),
      shapes: parseShapes('shapes', get('shapes')),
      concurrencies: parseConcurrencies('concurrencies', get('concurrencies')),
      repeats,
      aa: parseBoolean('e2e-aa', get('e2e-aa')),
      budgetMinutes: parseBudget('e2e-budget', get('e2e-budget')),
      swap: oneOf('e2e-swap', get('e2e-swap'), ['auto', 'resident', 'sleep', 'restart'] as const),
      ratesFile: get('e2e-rates') || undefined,
      runSeconds: parsePositiveNumber('e2e-run-seconds', get('e2e-run-seconds')),
    },
    stage,
    kernelResult: optional('kernel-result'),
    thresholds: {
      minEffectPct: parseNonNegativeNumber('min-effect', get('min-effect')),
      failOnRegression: parseBoolean('fail-on-regression', get('fail-on-regression')),
      // the action passes its default whether or not the user set it: only another value overrides
      minEffectSet: get('min-effect') !== (inputSpec('min-effect').default ?? '') || undefined,
    },
    results: get('results'),
    nightly: {
      historyBranch: parseBranchName('history-branch', get('history-branch')),
      historyDays: parsePositiveInt('history-days', get('history-days')),
      regressionThresholdPct: parseNonNegativeNumber('regression-threshold', get('regression-threshold')),
    },
    outputDir: get('output-dir'),
    runnerLabel: optional('runner-label'),
    githubToken: optional('github-token'),
    allowWriteTokenWithForkCode: parseBoolean(
      'allow-write-token-with-fork-code',
      get('allow-write-token-with-fork-code'),
    ),
    compileTargets: parseCompileTargets('compile-targets', get('compile-targets')),
    artifacts: {
      upload: parseBoolean('upload-artifacts', get('upload-artifacts')),
      retentionDays: parseRetentionDays('artifact-retention-days', get('artifact-retention-days')),
    },
    sandbox: oneOf('sandbox', get('sandbox'), SANDBOX_CHOICES),
  };
}
