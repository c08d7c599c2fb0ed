#!/usr/bin/env bash
# Prints the path of one of the project's Python venvs, building it first when missing:
#   python-env.sh         the kernels' venv (torch, triton, pytest) from kernels/requirements.txt
#   python-env.sh tools   the linters the suite runs (scripts/tools-requirements.txt), apart so a bump never rebuilds torch
# Each lives outside the clone, keyed by its requirements' hash, so fresh clones (CI) reuse it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
case "${1:-kernels}" in
  kernels) req="$root/kernels/requirements.txt" name=venv ;;
  tools) req="$root/scripts/tools-requirements.txt" name=tools ;;
  *) echo "python-env: unknown venv '$1': kernels (the default) or tools" >&2; exit 2 ;;
esac
key=$( (cat "$req"; python3 --version 2>&1) | sha256sum | cut -c1-16)
cache=${VLLM_KERNEL_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vllm-kernel-ci}
venv="$cache/$name-$key"
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.complete" ]; then
  echo "python-env: building $venv from ${req#"$root"/} (once; reused while it is unchanged)" >&2
  rm -rf "$venv"
  mkdir -p "$cache"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
  "$venv/bin/python" -m pip install --quiet -r "$req" >&2
  touch "$venv/.complete"
fi
echo "$venv"
