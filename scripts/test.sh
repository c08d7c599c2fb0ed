#!/usr/bin/env bash
# The whole test suite: lint and format (TypeScript and Python), types, vitest (dist/ staleness included), pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(scripts/python-env.sh)
echo "== lint: biome, ruff"
biome ci .
"$venv/bin/ruff" check kernels scripts
"$venv/bin/ruff" format --check kernels scripts
"$venv/bin/ruff" check --config kernels/pyproject.toml src/patch test/patch test/support test/contract
"$venv/bin/ruff" format --config kernels/pyproject.toml --check src/patch test/patch test/support test/contract
echo "== lint: workflows (actionlint, zizmor)"
bash scripts/actionlint.sh
bash scripts/zizmor.sh
echo "== types: tsc"
tsc -p tsconfig.json
echo "== vitest"
VLLM_KERNEL_CI_PYTHON="$venv/bin/python" vitest run
echo "== pytest: the patch rewriter"
"$venv/bin/python" -m pytest -q -p no:cacheprovider test/patch/test_rewrite.py
echo "== pytest (Triton interpreter on the CPU)"
if compgen -G "kernels/*/test_*.py" >/dev/null; then (cd kernels && TRITON_INTERPRET=1 "$venv/bin/python" -m pytest -q -p no:cacheprovider); else echo "no kernel bundle with tests yet"; fi
