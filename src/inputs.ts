// Every input of the action, once: action.yml, the CLI's flags and --help, and the README table are checked against it.

export type Mode = 'validate' | 'report' | 'nightly';
export const MODES: readonly Mode[] = ['validate', 'report', 'nightly'];

export interface InputSpec {
  /** kebab-case; the action input and the CLI flag (--name) share it */
  name: string;
  description: string;
  /** what an empty value means; undefined for inputs with no default */
  default?: string;
  /** modes that read it */
  modes: readonly Mode[];
  /** kept out of logs and --help examples */
  secret?: boolean;
}

const ALL = MODES;
const RUNS = ['validate', 'nightly'] as const;
const PUBLISHES = ['report', 'nightly'] as const;

export const DEFAULT_VLLM_VERSION = '0.33.0';

export const INPUTS: readonly InputSpec[] = [
  {
    name: 'mode',
    description: 'What to do: `validate`, `report` or `nightly`.',
    default: 'validate',
    modes: ALL,
  },
  {
    name: 'vllm-repository',
    description:
      "The vLLM tree to validate against: a git URL, `owner/name` on GitHub, a local path, or `pypi` for vLLM's source as published on PyPI.",
    default: 'pypi',
    modes: RUNS,
  },
  {
    name: 'vllm-ref',
    description: `Branch, tag, commit SHA or \`refs/pull/N/head\` of the vLLM repository; a release version such as \`0.19.1\` when the repository is \`pypi\`. Empty: the pull request's head commit (an approving review's commit), else \`HEAD\`, for a git repository or a local path; \`${DEFAULT_VLLM_VERSION}\` for \`pypi\`.`,
    modes: RUNS,
  },
  {
    name: 'bundle',
    description: 'Kernel bundle: a name under `kernels/` of this action, or a path to a bundle directory.',
    default: 'fused_shared_expert_gate',
    modes: RUNS,
  },
  {
    name: 'kernel-source',
    description:
      "Which kernel is tested: `tree` (the one the vLLM tree carries, e.g. the pull request's own; nothing of the tree is written), `bundle` (the bundle's, put into the tree), or `auto` (tree when the tree defines or calls the op, else bundle).",
    default: 'auto',
    modes: RUNS,
  },
  {
    name: 'base-ref',
    description:
      "Base of a tree kernel's A/B (commit, branch or tag of the vLLM repository); the baseline is its merge base with the head. Defaults to the `pull_request` event's base SHA.",
    modes: RUNS,
  },
  {
    name: 'force',
    description:
      "With kernel-source `bundle`: overwrite a tree file whose content differs from the bundle's (otherwise the run refuses, naming the file).",
    default: 'false',
    modes: RUNS,
  },
  {
    name: 'install',
    description:
      "How vLLM gets installed: `existing` (the runner's environment has it), `precompiled` (vLLM's Python-only editable install on prebuilt binaries) or `none`.",
    default: 'none',
    modes: RUNS,
  },
  {
    name: 'python',
    description: 'Python interpreter that has torch and triton (and vLLM, with `install: existing`).',
    default: 'python3',
    modes: RUNS,
  },
  {
    name: 'e2e-backend',
    description:
      'End-to-end A/B: `vllm-serve` (`vllm serve` + `vllm bench serve`), `model` (a weightless model in transformers, no server), `none`, or `auto` (vllm-serve when vLLM is installed, model when only a GPU is there).',
    default: 'auto',
    modes: RUNS,
  },
  {
    name: 'model',
    description: 'Model served in the vllm-serve e2e A/B.',
    default: 'Qwen/Qwen3-Next-80B-A3B-Instruct-FP8',
    modes: RUNS,
  },
  {
    name: 'tensor-parallel-size',
    description: 'Tensor-parallel size of `vllm serve`.',
    default: '1',
    modes: RUNS,
  },
  {
    name: 'shapes',
    description:
      'E2e workload shapes, comma-separated `INPUTxOUTPUT` token lengths (balanced, decode-heavy, prefill-heavy by default).',
    default: '1024x1024,1024x8192,8192x1024',
    modes: RUNS,
  },
  {
    name: 'concurrencies',
    description: 'E2e client concurrencies, comma-separated positive integers.',
    default: '4,16,64',
    modes: RUNS,
  },
  {
    name: 'repeats',
    description:
      'Pairs per e2e cell the e2e budget must pay for: the sequential rule runs a first look of 4 pairs in every cell and spends the rest on the cells still undecided (at most 24 a cell). The default 10 finds a 5% change in one of 5 or more cells in 90% of runs even when the patched arm is twice as noisy as the baseline; a budget drops cells before it pays for fewer.',
    default: '10',
    modes: RUNS,
  },
  {
    name: 'e2e-aa',
    description:
      'A/A run: both e2e arms run the baseline, so every verdict should be "no significant change"; shows the noise floor of this runner.',
    default: 'false',
    modes: RUNS,
  },
  {
    name: 'min-effect',
    description: 'Smallest relative change, in percent, that is called improved or regressed.',
    default: '2',
    modes: ALL,
  },
  {
    name: 'fail-on-regression',
    description:
      'Fail the run (and the check run) when a performance regression is found, not only on wrong results.',
    default: 'false',
    modes: ALL,
  },
  {
    name: 'results',
    description: 'Glob of RunResult JSON files to report on (report mode).',
    default: 'results/**/*.json',
    modes: PUBLISHES,
  },
  {
    name: 'history-branch',
    description:
      'Branch of this repository that keeps the nightly history (one JSON line per run and runner); created on the first nightly run.',
    default: 'vllm-kernel-ci-data',
    modes: ['nightly'],
  },
  {
    name: 'history-days',
    description: 'How many days of nightly history to keep on the history branch; older lines are dropped.',
    default: '60',
    modes: ['nightly'],
  },
  {
    name: 'regression-threshold',
    description:
      'Nightly: smallest worsening of a cell against its recent nights, in percent, that counts; two nights in a row make a regression.',
    default: '5',
    modes: ['nightly'],
  },
  {
    name: 'output-dir',
    description: 'Directory for the RunResult, the report and every raw log.',
    default: 'vllm-kernel-ci-out',
    modes: ALL,
  },
  {
    name: 'runner-label',
    description: 'Name of this runner in the report; defaults to the runner name or host name.',
    modes: RUNS,
  },
  {
    name: 'github-token',
    description:
      'Token to publish with (report and nightly modes). Validate never needs one; leave it out of GPU jobs.',
    modes: PUBLISHES,
    secret: true,
  },
  {
    name: 'allow-write-token-with-fork-code',
    description:
      "Run GPU steps even when a fork's code would run in a job that holds a write token (`pull_request_target`, `workflow_run` or `issue_comment` on a fork PR, or a token handed to validate). Unsafe: leave `false` and use the two-workflow pattern (README, Security).",
    default: 'false',
    modes: RUNS,
  },
  {
    name: 'compile-targets',
    description:
      'Targets the compile step compiles the kernel for, comma-separated, from gfx950, gfx942, sm_80, sm_89, sm_90, sm_100, sm_120 (no GPU needed); `none` skips the step.',
    default: 'gfx950,gfx942,sm_80,sm_89,sm_90,sm_100,sm_120',
    modes: RUNS,
  },
  {
    name: 'e2e-budget',
    description:
      'Minutes the vllm-serve e2e may take, server starts included: the plan is fitted to it (fewer prompts per run, then fewer pairs a cell, then the most expensive cells dropped), a later look starts only when the minutes left pay for it, and the run stops when they are spent, marking the rest not run (budget). `none` for no limit. The default fits the default grid into a 360-minute job with room for the other steps; what it had to cut, the plan says (README, E2e plan).',
    default: '250',
    modes: RUNS,
  },
  {
    name: 'e2e-swap',
    description:
      'How the vllm-serve e2e swaps arms: `auto` (both servers resident when the model fits twice, else sleep mode, else restarts), `resident`, `sleep` or `restart`.',
    default: 'auto',
    modes: RUNS,
  },
  {
    name: 'e2e-run-seconds',
    description:
      "Seconds of requests one vllm-serve bench run lasts at least: each cell's prompts per run follow from the throughput its first warm-up measured (a fixed prompt count on a fast model measures JIT warm-up, not serving). Each arm warms up on each cell until two warm-up runs agree within 2%, or within the runner's own noise (2√2 × its run-to-run CV, 0.5–5%) when e2e-rates names an earlier run there.",
    default: '30',
    modes: RUNS,
  },
  {
    name: 'stage',
    description:
      '`all` (the default), `kernel` (checkout, kernel source, compile, kernel tests, microbench; no install and no e2e) or `e2e` (checkout, kernel source, install, device and the e2e A/B only: the kernel steps are skipped, for a job that follows a passed kernel stage).',
    default: 'all',
    modes: RUNS,
  },
  {
    name: 'kernel-result',
    description:
      'With stage `e2e`: the run-result.json the kernel stage wrote on this runner for this commit. The e2e runs only when that stage passed; otherwise every step is skipped, saying why. Empty: the e2e runs without looking.',
    modes: RUNS,
  },
  {
    name: 'sandbox',
    description:
      "Where the tree's code (tests, compile matrix, microbenchmark, model driver, `vllm serve` and its client) runs: `bwrap` (bubblewrap: no token, read-only `/`, nothing left running, no network but loopback except for `vllm serve` and its client, which read the model from the local cache), `none`, or `auto` (bwrap when it works on the runner; without it a fork's code does not run and a same-repository PR's runs with a warning). README, Security.",
    default: 'auto',
    modes: RUNS,
  },
  {
    name: 'e2e-rates',
    description:
      "The run-result.json of an earlier vllm-serve e2e on this runner (a pilot, e.g. a run with `e2e-budget: 30`): the plan's minutes then come from its measured baseline tok/s, server starts and sleep-mode swaps instead of the published MI355X figures. Empty: the published figures.",
    modes: RUNS,
  },
  {
    name: 'upload-artifacts',
    description:
      "Upload the output directory (RunResult, report, every raw log) as this job's artifact `vllm-kernel-ci-out-<runner>`; `false` when the workflow uploads what it needs itself.",
    default: 'true',
    modes: RUNS,
  },
  {
    name: 'artifact-retention-days',
    description:
      "Days GitHub keeps that artifact, 1 to 90 (the repository's own limit applies when it is lower).",
    default: '14',
    modes: RUNS,
  },
];

export function inputSpec(name: string): InputSpec {
  const spec = INPUTS.find((i) => i.name === name);
  if (!spec) throw new Error(`Unknown input '${name}'.`);
  return spec;
}
