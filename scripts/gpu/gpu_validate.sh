#!/usr/bin/env bash
# `vllm-kernel-ci validate` end to end on a GPU host that has no Node and no network (what to carry: carried.sh).
# An A/B run, then an A/A run (--e2e-aa); RunResults, reports and logs land in $OUT.
# Usage: OUT=dir scripts/gpu/gpu_validate.sh [repeats]
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=/tmp/vkci-gpu
repeats=${1:-10}
: "${OUT:?set OUT to the output directory}"
# shellcheck source=scripts/gpu/carried.sh
. "$root/scripts/gpu/carried.sh"
carried_tools || exit 1
export PYTHONUNBUFFERED=1
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
