#!/usr/bin/env bash
# Audits workflows (default: the examples in docs/workflows and the project's own .github/workflows) with zizmor,
# installed from PyPI into the cached tools venv (scripts/python-env.sh tools). Offline: no GitHub API calls.
# A finding that is by design is ignored at its line with `# zizmor: ignore[audit]` and a comment saying why.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$("$root/scripts/python-env.sh" tools)
if [ $# -eq 0 ]; then
  shopt -s nullglob
  set -- "$root"/docs/workflows/*.yml "$root"/.github/workflows/*.yml "$root"/.github/workflows/*.yaml
fi
exec "$venv/bin/zizmor" --offline --no-progress --color=never "$@"
