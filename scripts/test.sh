#!/usr/bin/env bash
# The whole test suite: lint and format (TypeScript and Python), types, vitest (dist/ staleness included), pytest.
# Two halves run at once, each line prefixed with its half: TypeScript (biome, tsc, vitest: three vitest workers
# on two cores) and Python (ruff, the workflow linters, pytest of the rewriter and of the kernels under the Triton
# interpreter: one core). VLLM_KERNEL_CI_SERIAL=1 runs them one after the other.
set -euo pipefail
cd "$(dirname "$0")/.."
# one temp root for the whole suite (vitest's run root and pytest's tmp_path go inside), removed at the end
TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/vkci-suite-XXXXXX")
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
venv=$(scripts/python-env.sh)
scripts/python-env.sh tools >/dev/null

typescript_half() {
  echo "== lint: biome"
  biome ci .
  echo "== types: tsc"
  tsc -p tsconfig.json
  echo "== vitest"
  VLLM_KERNEL_CI_PYTHON="$venv/bin/python" vitest run
}

python_half() {
  echo "== lint: ruff"
  "$venv/bin/ruff" check kernels scripts
  "$venv/bin/ruff" format --check kernels scripts
  "$venv/bin/ruff" check --config kernels/pyproject.toml src/patch test/patch test/support test/contract
  "$venv/bin/ruff" format --config kernels/pyproject.toml --check src/patch test/patch test/support test/contract
  echo "== lint: workflows (actionlint, zizmor)"
  bash scripts/actionlint.sh
  bash scripts/zizmor.sh
  echo "== pytest: the patch rewriter"
  "$venv/bin/python" -m pytest -q -p no:cacheprovider test/patch/test_rewrite.py
  echo "== pytest (Triton interpreter on the CPU)"
  if compgen -G "kernels/*/test_*.py" >/dev/null; then (cd kernels && TRITON_INTERPRET=1 "$venv/bin/python" -m pytest -q -p no:cacheprovider); else echo "no kernel bundle with tests yet"; fi
}

if [ "${VLLM_KERNEL_CI_SERIAL:-}" = 1 ]; then
  python_half
  typescript_half
  exit 0
fi
started=$SECONDS
(set -o pipefail; typescript_half 2>&1 | sed -u 's/^/[ts] /') &
ts=$!
(set -o pipefail; python_half 2>&1 | sed -u 's/^/[py] /') &
py=$!
status=0
wait "$py" || { echo "== the Python half failed (lines marked [py])"; status=1; }
echo "== the Python half ended after $((SECONDS - started)) s"
wait "$ts" || { echo "== the TypeScript half failed (lines marked [ts])"; status=1; }
echo "== both halves ended after $((SECONDS - started)) s"
exit "$status"
