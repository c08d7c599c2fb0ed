#!/usr/bin/env bash
# Prints the path of the project's Python venv, building it first when missing.
# The venv lives outside the clone, keyed by the requirements' hash, so fresh clones (CI) reuse it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
req="$root/kernels/requirements.txt"
key=$( (cat "$req"; python3 --version 2>&1) | sha256sum | cut -c1-16)
cache=${VLLM_KERNEL_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vllm-kernel-ci}
venv="$cache/venv-$key"
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.complete" ]; then
  echo "python-env: building $venv from kernels/requirements.txt (once; reused while it is unchanged)" >&2
  rm -rf "$venv"
  mkdir -p "$cache"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
  "$venv/bin/python" -m pip install --quiet -r "$req" >&2
  touch "$venv/.complete"
fi
echo "$venv"
