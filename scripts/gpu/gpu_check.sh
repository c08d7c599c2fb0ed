#!/usr/bin/env bash
# One device call's work on the bundle, standalone: tool captures, its pytest files (JUnit), the microbenchmark,
# the e2e A/B and A/A. Usage: OUT=dir [STEPS="tools pytest microbench e2e"] scripts/gpu/gpu_check.sh [e2e repeats]
set -uo pipefail
repeats=${1:-10}
steps=" ${STEPS:-tools pytest microbench e2e} "
out=${OUT:?set OUT to the output directory}
bundle=$(cd "$(dirname "$0")/../../kernels/fused_shared_expert_gate" && pwd)
export PYTHONUNBUFFERED=1
py=python3
models=qwen3-next-shaped,qwen2-moe
step() { echo "== $1 ($(date -u +%H:%M:%S))"; }
wanted() { [[ $steps == *" $1 "* ]]; }

if wanted tools; then
  step "tool captures"
  mkdir -p "$out/tools"
  (
    cd "$out/tools"
    nvidia-smi >nvidia-smi.txt 2>&1
    nvidia-smi --query-gpu=name,driver_version,memory.total,count --format=csv,noheader >nvidia-smi-query.csv 2>&1
    nvidia-smi -q 2>&1 | head -60 >nvidia-smi-q-head.txt
    $py -c "import torch;print(torch.version.cuda)" >torch-version-cuda.txt 2>&1
    { which node; node --version; } >node.txt 2>&1
    $py -m pip list >pip-list.txt 2>&1
    { uname -a; $py --version; nproc; free -g; } >host.txt 2>&1
  )
  cat "$out/tools/nvidia-smi-query.csv" "$out/tools/torch-version-cuda.txt" "$out/tools/node.txt"
  grep -iE '^(torch|triton|transformers|pytest) ' "$out/tools/pip-list.txt"
  tar -C "$out" -cf "$out/tools.tar" tools && rm -rf "$out/tools"
fi

if wanted pytest; then
  step "pytest, full grid"
  (cd "$bundle/.." && timeout 500 $py -m pytest -q -p no:cacheprovider -p junit_params -o junit_family=xunit1 \
    fused_shared_expert_gate \
    --junitxml="$out/junit.xml" -o junit_suite_name=fused_shared_expert_gate 2>&1 | tail -25)
fi

if wanted microbench; then
  step "microbenchmark"
  timeout 240 $py "$bundle/benchmark_shared_expert_gate.py" --warps-variants-n 1 33 128 1024 8192 \
    --json "$out/microbench.json"
  echo "microbench exit $?"
fi

if wanted e2e; then
  step "e2e A/B"
  timeout 200 $py "$bundle/e2e_model.py" --model $models --repeats "$repeats" --json "$out/e2e-ab.json"
  echo "e2e A/B exit $?"
  step "e2e A/A"
  timeout 200 $py "$bundle/e2e_model.py" --model $models --repeats "$repeats" --aa --json "$out/e2e-aa.json"
  echo "e2e A/A exit $?"
fi
step "done"
