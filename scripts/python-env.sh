#!/usr/bin/env bash
# Prints the path of one of the project's Python venvs, building it first when missing:
#   python-env.sh         the kernels' venv (torch, triton, pytest) from kernels/requirements.txt
#   python-env.sh tools   the linters the suite runs (scripts/tools-requirements.txt), apart so a bump never rebuilds torch
#   python-env.sh bench-client
#                         what vLLM's own `vllm bench serve` imports (test/contract/bench-client-requirements.txt),
#                         installed without dependencies over the kernels' venv, whose packages it sees through a .pth
# Each lives outside the clone, keyed by its requirements' hash, so fresh clones (CI) reuse it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
case "${1:-kernels}" in
  kernels) req="$root/kernels/requirements.txt" name=venv ;;
  tools) req="$root/scripts/tools-requirements.txt" name=tools ;;
  bench-client) req="$root/test/contract/bench-client-requirements.txt" name=bench-client base=$("$0" kernels) ;;
  *) echo "python-env: unknown venv '$1': kernels (the default), tools or bench-client" >&2; exit 2 ;;
esac
key=$( (cat "$req"; python3 --version 2>&1; [ -z "${base:-}" ] || echo "$base") | sha256sum | cut -c1-16)
cache=${VLLM_KERNEL_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vllm-kernel-ci}
venv="$cache/$name-$key"
ready() { [ -x "$venv/bin/python" ] && [ -f "$venv/.complete" ]; }
if ! ready; then
  mkdir -p "$cache"
  # one builder at a time (two jobs or test halves on one runner): the others wait, then find it built
  if command -v flock >/dev/null; then
    exec 9>"$venv.lock"
    flock 9
  fi
fi
if ! ready; then
  echo "python-env: building $venv from ${req#"$root"/} (once; reused while it is unchanged)" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
  if [ -n "${base:-}" ]; then
    purelib() { "$1/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))'; }
    echo "import site; site.addsitedir('$(purelib "$base")')" >"$(purelib "$venv")/base-venv.pth"
    "$venv/bin/python" -m pip install --quiet --no-deps -r "$req" >&2
  else
    # pip's own progress (each download and its size; a bar on a terminal): the kernels' venv is gigabytes of wheels
    bar=off
    [ -t 2 ] && bar=on
    "$venv/bin/python" -m pip install --progress-bar "$bar" -r "$req" >&2
  fi
  touch "$venv/.complete"
fi
echo "$venv"
