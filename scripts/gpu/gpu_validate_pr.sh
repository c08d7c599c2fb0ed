#!/usr/bin/env bash
# `vllm-kernel-ci validate` of PR-shaped vLLM trees (their own kernels, base against head) on a GPU host with no
# network and no Node. Carried beside the clone: what carried.sh needs, and .gpu/pr-trees.mjs (scripts/gpu/pr-trees.ts
# bundled). Each argument is HEAD:BASE, two branches of the trees; RunResults, reports and logs land in $OUT.
# Usage: OUT=dir scripts/gpu/gpu_validate_pr.sh [repeats] HEAD:BASE ...
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=/tmp/vkci-gpu
repeats=${1:-8}
shift
: "${OUT:?set OUT to the output directory}"
# shellcheck source=scripts/gpu/carried.sh
. "$root/scripts/gpu/carried.sh"
carried_tools || exit 1
export PYTHONUNBUFFERED=1
node "$root/.gpu/pr-trees.mjs" || exit 1
trees=$(ls -td "$VLLM_KERNEL_CI_CACHE"/pr-trees/vllm-*.git | head -1)
for pair in "$@"; do
  head=${pair%%:*}
  base=${pair#*:}
  echo "== validate $head against $base ($(date -u +%H:%M:%S))"
  (cd "$work" && node "$root/dist/cli.js" validate --python python3 --runner-label h200 --repeats "$repeats" \
    --vllm-repository "$trees" --vllm-ref "$head" --base-ref "$base" --e2e-backend model \
    --output-dir "$work/$head" >"$work/$head.stdout" 2>"$work/$head.log")
  echo "exit $?"
  tail -5 "$work/$head.log"
  cp "$work/$head/run-result.json" "$OUT/run-result-$head.json"
  cp "$work/$head/report.md" "$OUT/report-$head.md"
done
tar -C "$work" -czf "$OUT/validate-pr-logs.tgz" "${@%%:*}" $(for p in "$@"; do echo "${p%%:*}.log"; done)
