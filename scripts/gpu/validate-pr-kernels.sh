#!/usr/bin/env bash
# `vllm-kernel-ci validate` end to end (model backend) on PR-shaped vLLM trees, each testing its own kernel
# (kernel-source auto -> tree) against its base, on a host with no network (what to carry: carried.sh).
# REPO: the PR-shaped trees as a git repository or a git bundle (test/support/pr-trees.ts builds them into
# ~/.cache/vllm-kernel-ci/pr-trees/vllm-0.33.0-*.git; `git -C that.git bundle create pr-trees.bundle --all`).
# Runs pr-int32 (32-bit row offsets: test_large_offset fails, every other case still reports) and
# pr-bundle-kernel (pr with the bundle's kernel as the PR's file: every case passes). RunResults, reports and
# logs land in $OUT.
# Usage: OUT=dir REPO=path [PYTHON=python3] scripts/gpu/validate-pr-kernels.sh [repeats] [branch ...]
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=/tmp/vkci-gpu
repeats=${1:-10}
shift || true
: "${OUT:?set OUT to the output directory}"
: "${REPO:?set REPO to the PR-shaped trees (a git repository or bundle)}"
mkdir -p "$OUT" "$work"
OUT=$(cd "$OUT" && pwd)
py=${PYTHON:-python3}
if [ -f "$root/.gpu/node.xz" ]; then
  # shellcheck source=scripts/gpu/carried.sh
  . "$root/scripts/gpu/carried.sh"
  carried_tools || exit 1
fi
[ $# -gt 0 ] || set -- pr-int32 pr-bundle-kernel
export PYTHONUNBUFFERED=1
trees=$work/pr-trees
rm -rf "$trees"
git -c gc.auto=0 clone -q "$REPO" "$trees" || exit 1
git -C "$trees" config gc.auto 0
for b in base pr pr-wrong pr-int32 followup inline csrc; do
  git -C "$trees" branch -f "$b" "origin/$b" >/dev/null 2>&1
done
# pr with the bundle's kernel as its kernel file: a correct kernel behind the PR's own call sites
git -C "$trees" checkout -q -B pr-bundle-kernel pr &&
  cp "$root/kernels/fused_shared_expert_gate/shared_expert_gate.py" \
    "$trees/vllm/model_executor/layers/fused_moe/shared_expert_gate.py" &&
  git -C "$trees" -c user.name=vllm-kernel-ci -c user.email=vllm-kernel-ci@localhost -c commit.gpgsign=false \
    commit -q -am "The bundle's kernel as the PR's file" &&
  git -C "$trees" checkout -q --detach base || exit 1
status=0
for branch in "$@"; do
  echo "== validate $branch ($(date -u +%H:%M:%S))"
  (cd "$work" && node "$root/dist/cli.js" validate --python "$py" --runner-label h200 \
    --vllm-repository "$trees" --vllm-ref "$branch" --base-ref base --kernel-source auto \
    --install none --e2e-backend model --repeats "$repeats" --output-dir "$work/$branch" \
    >"$work/$branch.stdout" 2>"$work/$branch.log")
  echo "exit $?"
  tail -3 "$work/$branch.log"
  cp "$work/$branch/run-result.json" "$OUT/run-result-$branch.json" || status=1
  cp "$work/$branch/report.md" "$OUT/report-$branch.md" || status=1
  "$py" - "$work/$branch/run-result.json" <<'PY' | tee -a "$OUT/summary.txt"
import json
import sys

r = json.load(open(sys.argv[1]))
k = r.get("kernel", {})
print(f"{r['identity']['vllmRef']}: kernel {k.get('source')} {k.get('path')} blob {k.get('blobSha', '')[:12]}")
for s in r["steps"]:
    print(f"  {s['name']}: {s['status']} {s.get('reason', '')[:200]}")
tests = r.get("tests", [])
for group in ("conformance", "pr", "bundle"):
    cases = [t for t in tests if t.get("group") == group]
    if cases:
        bad = [t["id"].split("::")[-1] for t in cases if t["status"] in ("failed", "error")]
        passed = sum(t["status"] == "passed" for t in cases)
        print(f"  {group}: {passed} passed, {len(bad)} failed, {len(cases) - passed - len(bad)} skipped {bad}")
PY
done
tar -C "$work" -czf "$OUT/validate-pr-kernels-logs.tgz" "$@" $(printf '%s.log ' "$@")
exit $status
