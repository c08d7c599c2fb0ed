#!/usr/bin/env bash
# The main job on its embedded defaults: vLLM's source from PyPI, the bundle applied, kernel tests under
# Triton's interpreter on the CPU, GPU-only steps skipped with the reason; report in out/validate/report.md.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(scripts/python-env.sh)
export TRITON_INTERPRET=${TRITON_INTERPRET:-1}
exec node dist/cli.js validate --python "$venv/bin/python" --output-dir out/validate "$@"
