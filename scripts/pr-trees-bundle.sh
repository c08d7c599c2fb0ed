#!/usr/bin/env bash
# Writes the PR-shaped vLLM trees (test/support/pr-trees.ts) as one git bundle (~50 MB), for a machine without
# network: there, `git clone -b pr-int32 OUT.bundle vllm` gives that branch's tree.
set -euo pipefail
out=${1:?usage: scripts/pr-trees-bundle.sh OUT.bundle}
cache=${VLLM_KERNEL_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vllm-kernel-ci}/pr-trees
repo=$(ls -td "$cache"/vllm-*.git 2>/dev/null | head -1 || true)
if [ -z "$repo" ]; then
  echo "no PR trees in $cache: build them with \`npx vitest run test/pr-trees.test.ts\` first" >&2
  exit 1
fi
git -C "$repo" bundle create "$(realpath -m "$out")" --all
git bundle list-heads "$out"
