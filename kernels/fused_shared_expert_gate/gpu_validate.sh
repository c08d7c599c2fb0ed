#!/usr/bin/env bash
# `vllm-kernel-ci validate` end to end on a GPU host that has no Node and no network, from the repository root.
# Prepared beside the clone: .gpu/node.xz (xz of node_modules/node/bin/node) and .gpu/vllm-0.33.0-py.tar.xz (the
# .py files of vLLM 0.33.0's PyPI sdist, from ~/.cache/vllm-kernel-ci/pypi/). An A/B run, then an A/A run
# (--e2e-aa); RunResults, reports and logs land in $OUT. Usage: OUT=dir gpu_validate.sh [repeats]
set -uo pipefail
root=$(pwd)
work=/tmp/vkci-gpu
repeats=${1:-10}
mkdir -p "$work/bin" "$work/cache/pypi"
xz -dc .gpu/node.xz >"$work/bin/node" && chmod +x "$work/bin/node"
tar -xJf .gpu/vllm-0.33.0-py.tar.xz -C "$work/cache/pypi" && echo carried >"$work/cache/pypi/vllm-0.33.0.complete"
export PATH="$work/bin:$PATH" VLLM_KERNEL_CI_CACHE="$work/cache" PYTHONUNBUFFERED=1
node --version
for arm in ab aa; do
  extra=()
  [ "$arm" = aa ] && extra=(--e2e-aa true)
  echo "== validate $arm ($(date -u +%H:%M:%S))"
  (cd "$work" && node "$root/dist/cli.js" validate --python python3 --runner-label h200 --repeats "$repeats" \
    --output-dir "$work/$arm" "${extra[@]}" >"$work/$arm.stdout" 2>"$work/$arm.log")
  echo "exit $?"; tail -5 "$work/$arm.log"
  cp "$work/$arm/run-result.json" "$OUT/run-result-$arm.json"
  cp "$work/$arm/report.md" "$OUT/report-$arm.md"
done
tar -C "$work" -czf "$OUT/validate-logs.tgz" ab aa ab.log aa.log
