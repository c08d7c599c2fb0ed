// The environment of every command the pipeline starts: an allowlist, so no token reaches the code under test.
//
// What vLLM, Triton, PyTorch and pytest need to find the GPU, the toolchain, the caches and the network passes;
// the job's tokens (the github-token input, GITHUB_TOKEN, GH_TOKEN, the Actions runtime and OIDC tokens), the
// files that write to the workflow (GITHUB_ENV, GITHUB_OUTPUT, GITHUB_PATH, ...) and everything else do not.
// HF_TOKEN is given to `vllm serve` alone (modelHubCredentials), to download a gated model: never to pytest,
// the microbenchmark or the model driver. The served vLLM is the tree under test, so on a pull request its code
// could read it too: pr-validate.yml gives the validate job no secrets at all (README "Security").

/** Exact names that pass. */
const NAMES = new Set([
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LANGUAGE',
  'TERM',
  'TZ',
  'TMPDIR',
  'TMP',
  'TEMP',
  'HOSTNAME',
  'CI',
  'VIRTUAL_ENV',
  'LD_LIBRARY_PATH',
  'LIBRARY_PATH',
  'CPATH',
  'C_INCLUDE_PATH',
  'CPLUS_INCLUDE_PATH',
  'PKG_CONFIG_PATH',
  'CC',
  'CXX',
  'MAX_JOBS',
  'TOKENIZERS_PARALLELISM',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'REQUESTS_CA_BUNDLE',
  'CURL_CA_BUNDLE',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'RUNNER_NAME',
  'RUNNER_OS',
  'RUNNER_ARCH',
  'RUNNER_TEMP',
  'RUNNER_TOOL_CACHE',
]);

/** Prefixes that pass: locale, XDG dirs, the CUDA and ROCm stacks, the ML libraries, Python and its installers. */
const PREFIXES = [
  'LC_',
  'XDG_',
  // NVIDIA
  'CUDA_',
  'CUDNN_',
  'NVIDIA_',
  'NCCL_',
  'NVSHMEM_',
  'NVCC_',
  'CUBLAS_',
  // AMD
  'ROCM_',
  'HIP_',
  'HSA_',
  'HCC_',
  'ROCR_',
  'AMD_',
  'MIOPEN_',
  'RCCL_',
  'GPU_',
  // libraries
  'VLLM_',
  'TRITON_',
  'TORCH_',
  'TORCHINDUCTOR_',
  'TORCHDYNAMO_',
  'PYTORCH_',
  'HF_',
  'HUGGINGFACE_',
  'TRANSFORMERS_',
  'RAY_',
  'FLASHINFER_',
  'NUMBA_',
  'OMP_',
  'MKL_',
  'CCACHE_',
  // Python and its installers (a private index URL is the runner owner's choice)
  'PYTHON',
  'PIP_',
  'UV_',
  'CONDA_',
];

/** Credentials never pass, whatever their prefix: HF_TOKEN, VLLM_API_KEY, CUDA_SOMETHING_SECRET... */
const CREDENTIAL = /TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|API_?KEY|PRIVATE_KEY|AUTH/i;

/** The tool's own variables: set for a child explicitly where one needs them (VLLM_KERNEL_CI_IMPL), never inherited. */
const OWN_PREFIX = 'VLLM_KERNEL_CI_';

/** The variables of `source` a child process of the pipeline gets. */
export function childEnvironment(
  source: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(source)) {
    // the tool's own variables are its business: vLLM warns about an unknown VLLM_* (VLLM_KERNEL_CI_CACHE)
    if (value === undefined || CREDENTIAL.test(name) || name.startsWith(OWN_PREFIX)) continue;
    if (NAMES.has(name) || PREFIXES.some((p) => name.startsWith(p))) out[name] = value;
  }
  return out;
}

/** Hugging Face variables that authenticate a model download: for `vllm serve`, and only for it. */
export const MODEL_HUB_CREDENTIALS = ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN'] as const;

/** The model-hub token of `source` (the action's own environment), for the server's environment alone. */
export function modelHubCredentials(
  source: Readonly<Record<string, string | undefined>> = process.env,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of MODEL_HUB_CREDENTIALS) {
    const value = source[name];
    if (value) out[name] = value;
  }
  return out;
}
