#!/usr/bin/env bash
# The conformance suite on a GPU against the kernels of PR-shaped trees, one pytest run per implementation,
# on a host with no network and no Node (what to carry: carried.sh; the suite itself needs only Python).
# Each IMPL is NAME=PATH::SYMBOL (PATH relative to the repository or absolute); by default the bundle's kernel,
# the PR-shaped correct kernel and the PR-shaped kernel with 32-bit row offsets of test/fixtures/pr-shapes/.
# Writes $OUT/junit-conformance-NAME.xml, $OUT/conformance-NAME.log and $OUT/summary.txt.
# Expected on an H200: the bundle passes every case; pr-int32 fails test_large_offset (its last rows are
# past 2**31 elements), and every other case still reports.
# Usage: OUT=dir [PYTHON=python3] [SUITE_FILTER=pytest -k expr] scripts/gpu/validate-pr-trees.sh [IMPL ...]
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=/tmp/vkci-gpu
py=${PYTHON:-python3}
: "${OUT:?set OUT to the output directory}"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
shapes=test/fixtures/pr-shapes
[ $# -gt 0 ] || set -- \
  "bundle=kernels/fused_shared_expert_gate/shared_expert_gate.py::fused_shared_expert_gate" \
  "pr=$shapes/shared_expert_gate.py::fused_shared_expert_gate" \
  "pr-int32=$shapes/shared_expert_gate_int32.py::fused_shared_expert_gate"
if [ -f "$root/.gpu/node.xz" ]; then
  # shellcheck source=scripts/gpu/carried.sh
  . "$root/scripts/gpu/carried.sh"
  carried_tools || exit 1
fi
export PYTHONUNBUFFERED=1
filter=()
[ -n "${SUITE_FILTER:-}" ] && filter=(-k "$SUITE_FILTER")
: >"$OUT/summary.txt"
status=0
for impl in "$@"; do
  name=${impl%%=*}
  spec=${impl#*=}
  file=${spec%::*}
  [[ $file == /* ]] || file="$root/$file"
  if [ "$name" = "$impl" ] || [ ! -f "$file" ]; then
    echo "$name: no such implementation file $file (expected NAME=PATH::SYMBOL)" | tee -a "$OUT/summary.txt"
    status=1
    continue
  fi
  echo "== conformance $name: $file::${spec##*::} ($(date -u +%H:%M:%S))"
  junit="$OUT/junit-conformance-$name.xml"
  (cd "$root/kernels" && VLLM_KERNEL_CI_IMPL="$file::${spec##*::}" timeout 1500 "$py" -m pytest -q \
    -p no:cacheprovider -p junit_params -o junit_family=xunit1 -o junit_suite_name="conformance-$name" \
    --junitxml="$junit" "${filter[@]}" fused_shared_expert_gate/test_conformance.py >"$OUT/conformance-$name.log" 2>&1)
  code=$?
  tail -4 "$OUT/conformance-$name.log"
  # pytest exits 1 when a case failed: a result; anything else (no JUnit, a crash, a timeout) is not.
  [ -f "$junit" ] && [ "$code" -le 1 ] || status=1
  "$py" - "$name" "$code" "$junit" >>"$OUT/summary.txt" <<'PY'
import sys
import xml.etree.ElementTree as ET

name, code, junit = sys.argv[1:]
try:
    cases = list(ET.parse(junit).getroot().iter("testcase"))
except (OSError, ET.ParseError) as error:
    print(f"{name}: pytest exited {code} without a JUnit report ({error})")
    sys.exit()
outcome = {}
for case in cases:
    tags = [c.tag for c in case if c.tag in ("failure", "error", "skipped")]
    outcome.setdefault(tags[0] if tags else "passed", []).append(case.get("name"))
counts = ", ".join(f"{len(v)} {k}" for k, v in sorted(outcome.items()))
print(f"{name}: pytest exited {code}; {counts}")
for kind in ("failure", "error"):
    for case_name in outcome.get(kind, []):
        print(f"  {kind}: {case_name}")
PY
done
cat "$OUT/summary.txt"
exit $status
