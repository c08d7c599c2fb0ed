#!/usr/bin/env bash
# Prints the path of the project's tools venv (linters from PyPI), building it first when missing.
# Kept apart from the kernels' venv so a linter bump never rebuilds torch; keyed by the requirements' hash.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
req="$root/scripts/tools-requirements.txt"
key=$( (cat "$req"; python3 --version 2>&1) | sha256sum | cut -c1-16)
cache=${VLLM_KERNEL_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vllm-kernel-ci}
venv="$cache/tools-$key"
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.complete" ]; then
  echo "tools-env: building $venv from scripts/tools-requirements.txt (once; reused while it is unchanged)" >&2
  rm -rf "$venv"
  mkdir -p "$cache"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet -r "$req" >&2
  touch "$venv/.complete"
fi
echo "$venv"
