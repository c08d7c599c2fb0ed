#!/usr/bin/env bash
# `vllm-kernel-ci validate` with a real `vllm serve` (vLLM 0.20.2) on the lent, offline H200: an A/B of the bundle's
# kernel patched into 0.20.2 against the original code, an A/A, and a PR-shaped 0.20.2 tree (base against head).
# The payload (vLLM's wheel and 43 dependency wheels, node, vLLM 0.20.2's source, the PR-trees builder) is made here
# by `gpu_vllm_serve.sh pack` and travels in 50 MiB chunks under .gpu/chunks/, one call each (64 MiB a call):
#   calls 1..N-1: bash scripts/gpu/gpu_vllm_serve.sh stage          (carry .gpu/chunks/cNN)
#   call N:       bash scripts/gpu/gpu_vllm_serve.sh prep           (carry the last chunk): stage, install, the tiny model
#   call N+1:     bash scripts/gpu/gpu_vllm_serve.sh start          the validates one after another in the
#                 background (setsid), waiting ~9 min: kernel (the kernel stage of the original PR's tree against
#                 its base, first, while Triton's cache is cold: the first-signal time), then ab, aa, pr on a tiny
#                 Qwen2-MoE, then ab3, the A/B on a tiny Qwen3-MoE (its shared expert and gate built from
#                 shared_expert_intermediate_size)
#   later calls:  bash scripts/gpu/gpu_vllm_serve.sh collect        waits up to ~9 min more, copies what finished
# Results: $OUT/<run>/run-result.json, report.md, console.log, e2e.tgz (server logs, bench JSONs, probe records).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
stage_dir=/tmp/vkci-stage
work=/tmp/vkci
site=/tmp/site
wheel=vllm-0.20.2-cp38-abi3-manylinux_2_35_x86_64.whl
runs="kernel ab aa pr ab3"
# One cell a run, each with a budget the run stops at (the first plan has no rates of this runner and would drop a
# second cell to fit its assumed 10-minute server starts); 10-s runs, against the 1-5 s ones that were 10-15%
# apart on the first contact. The later runs take ab's RunResult as e2e-rates: its starts, swaps, tok/s and noise.
GRID=${GRID:-"--shapes 512x256 --concurrencies 32 --e2e-run-seconds 10 --e2e-budget 8"}
SMALL_GRID=${SMALL_GRID:-"--shapes 512x256 --concurrencies 32 --e2e-run-seconds 10 --e2e-budget 5"}

pack() { # here, with network: the payload as chunks
  local whl=${1:?usage: pack WHEEL_DIR (fetch-wheels.sh output)} out=$root/.gpu
  mkdir -p "$out/payload/wheels" && rm -rf "$out/chunks" && mkdir -p "$out/chunks"
  cp "$whl"/full/$wheel "$whl"/a/*.whl "$whl"/b/*.whl "$out/payload/wheels/"
  [ -f "$out/payload/node.xz" ] || xz -T2 -6 -c "$root/node_modules/node/bin/node" >"$out/payload/node.xz"
  local cache=${VLLM_KERNEL_CI_CACHE:-$HOME/.cache/vllm-kernel-ci}/pypi
  [ -f "$out/payload/vllm-0.20.2-src.tar.xz" ] ||
    tar -C "$cache" --exclude=vllm-0.20.2/docs --exclude=vllm-0.20.2/examples -cf - vllm-0.20.2 | xz -T2 -6 >"$out/payload/vllm-0.20.2-src.tar.xz"
  (cd "$root" && npx esbuild scripts/gpu/pr-trees.ts --bundle --platform=node --format=esm --outfile="$out/payload/pr-trees.mjs" \
    --banner:js="import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" --log-level=warning)
  (cd "$out/payload" && sha256sum wheels/* node.xz vllm-0.20.2-src.tar.xz pr-trees.mjs >SHA256SUMS)
  tar -C "$out/payload" -cf - . | split -b 50M -d -a 2 - "$out/chunks/c"
  ls -la "$out/chunks"
}

stage() {
  mkdir -p "$stage_dir"
  for f in "$root"/.gpu/chunks/c*; do [ -e "$stage_dir/${f##*/}" ] || cp "$f" "$stage_dir/"; done
  echo "staged: $(ls "$stage_dir" | tr '\n' ' ')($(du -sm "$stage_dir" | cut -f1) MiB)"
}

install() {
  local t0=$SECONDS
  mkdir -p "$work/payload" "$work/bin" "$work/cache/pypi"
  cat "$stage_dir"/c* | tar -C "$work/payload" -xf - || { echo "chunks missing or broken: start again at call 1"; return 2; }
  (cd "$work/payload" && sha256sum -c --quiet SHA256SUMS) || return 3
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" \
    "$work/payload"/wheels/*.whl >"$work/pip.log" 2>&1 || { tail -20 "$work/pip.log"; return 4; }
  xz -dc "$work/payload/node.xz" >"$work/bin/node" && chmod +x "$work/bin/node"
  tar -C "$work/cache/pypi" -xJf "$work/payload/vllm-0.20.2-src.tar.xz" && echo local >"$work/cache/pypi/vllm-0.20.2.complete"
  echo "installed in $((SECONDS - t0)) s"
}

environment() {
  export PATH="$work/bin:$site/bin:$PATH" PYTHONPATH=$site VLLM_KERNEL_CI_CACHE=$work/cache PYTHONUNBUFFERED=1
  export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HOME=/tmp/hf VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1
  export VLLM_CACHE_ROOT=/tmp/vllm-cache TORCHINDUCTOR_CACHE_DIR=/tmp/inductor-cache TRITON_CACHE_DIR=/tmp/triton-cache
  export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
}

validate() { # NAME ARGS...: one validate, its console and results under $work/NAME (MODEL: /tmp/tiny, STAGE: e2e)
  local name=$1; shift
  mkdir -p "$work/$name"
  echo "== $name start $(date -u +%FT%TZ)" >>"$work/timeline.txt"
  (cd "$work" && node "$root/dist/cli.js" validate --python python3 --runner-label h200 --install existing \
    --e2e-backend vllm-serve --model "${MODEL:-/tmp/tiny}" --e2e-swap resident --stage "${STAGE:-e2e}" --output-dir "$work/$name/out" "$@" \
    >"$work/$name/console.log" 2>&1)
  echo "== $name exit $? $(date -u +%FT%TZ)" >>"$work/timeline.txt"
  touch "$work/$name/done"
}

all_runs() {
  environment
  PR_TREES_VERSION=0.20.2 node "$work/payload/pr-trees.mjs" >"$work/pr-trees.txt" 2>&1
  local trees
  trees=$(ls -td "$VLLM_KERNEL_CI_CACHE"/pr-trees/vllm-0.20.2-*.git | head -1)
  # issues 27 and 24: checkout, compile matrix, conformance suite and microbenchmark of the original PR's kernel
  STAGE=kernel validate kernel --vllm-repository "$trees" --vllm-ref pr-original --base-ref base --kernel-source tree
  validate ab --vllm-repository pypi --vllm-ref 0.20.2 --kernel-source bundle $GRID
  validate aa --vllm-repository pypi --vllm-ref 0.20.2 --kernel-source bundle --e2e-aa true \
    --e2e-rates "$work/ab/out/run-result.json" $SMALL_GRID
  validate pr --vllm-repository "$trees" --vllm-ref pr --base-ref base --kernel-source tree \
    --e2e-rates "$work/ab/out/run-result.json" $SMALL_GRID
  MODEL=/tmp/tiny-qwen3 validate ab3 --vllm-repository pypi --vllm-ref 0.20.2 --kernel-source bundle \
    --e2e-rates "$work/ab/out/run-result.json" $SMALL_GRID
}

collect() { # waits until every run is done or ~9 min passed, then copies what finished to $OUT
  local deadline=$((SECONDS + ${WAIT_S:-540}))
  while [ $SECONDS -lt $deadline ]; do
    local left=0
    for r in $runs; do [ -f "$work/$r/done" ] || left=1; done
    [ $left = 0 ] && break
    sleep 5
  done
  cat "$work/timeline.txt" 2>/dev/null
  for r in $runs; do
    [ -f "$work/$r/done" ] && [ ! -f "$work/$r/copied" ] || continue
    mkdir -p "$OUT/$r"
    cp "$work/$r/out/run-result.json" "$work/$r/out/report.md" "$work/$r/console.log" "$OUT/$r/" 2>/dev/null
    tar -C "$work/$r/out" -czf "$OUT/$r/e2e.tgz" logs e2e e2e-probe 2>/dev/null
    touch "$work/$r/copied"
    echo "-- $r"; tail -4 "$work/$r/console.log"
  done
}

case "${1:-}" in
  pack) pack "${2:-}" ;;
  stage) stage ;;
  prep)
    stage && install || exit 1
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$work/card.txt"
    python3 "$root/scripts/gpu/tiny_qwen2_moe.py" /tmp/tiny --hidden 2048 --layers 4 --experts 8 >"$work/model.log" 2>&1 ||
      { tail -5 "$work/model.log"; exit 5; }
    python3 "$root/scripts/gpu/tiny_qwen2_moe.py" /tmp/tiny-qwen3 --arch qwen3_moe --hidden 2048 --layers 4 --experts 8 \
      >>"$work/model.log" 2>&1 || { tail -5 "$work/model.log"; exit 5; }
    tail -2 "$work/model.log" ;;
  start)
    cp "$work/card.txt" "$OUT/" 2>/dev/null
    setsid bash "$0" background </dev/null >"$work/background.log" 2>&1 &
    WAIT_S=${WAIT_S:-540} collect ;;
  background) all_runs ;;
  collect) collect ;;
  *) echo "usage: $0 pack WHEEL_DIR | stage | prep | start | collect" >&2; exit 2 ;;
esac
