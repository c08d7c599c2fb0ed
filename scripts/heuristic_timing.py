"""Times the gate kernel with its launch heuristic against the one that assumed 32-thread warps, on one GPU.

Both arms run in one process on one card, interleaved in counterbalanced order (A B B A,
B A A B, ...). Each sample is the median of Triton's CUDA-graph benchmark (kernel time)
and of its eager benchmark (back-to-back launches: at small N the launch overhead, which
the target lookup adds to). Prints per shape each arm's launch settings and the median
ratio new/old of both; where both arms pick the same settings (NVIDIA), the graph ratio
is the noise floor.

    python scripts/heuristic_timing.py [--rounds 8] [--json heuristic-timing.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch
import triton

BUNDLE = Path(__file__).resolve().parent.parent / "kernels" / "fused_shared_expert_gate"
sys.path.insert(0, str(BUNDLE))

import shared_expert_gate as sg  # noqa: E402

SHAPES = [
    (dtype, k, n)
    for dtype in ("bf16", "fp32")
    for k in (2048, 4096, 7168)
    for n in (1, 1024, 8192)
]
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def settings_for_32_thread_warps(k: int, elt: int, warp_size=None) -> tuple:
    """The heuristic before it learnt the target's warp size (warp_size ignored)."""
    block_k = min(triton.next_power_of_2(k), 8192)
    threads = max(32, block_k * elt // 16)
    return block_k, triton.cdiv(k, block_k), min(16, max(1, threads // 32))


ARMS = {"old": settings_for_32_thread_warps, "new": sg._launch_settings}


def sample(arm: str, x, w, out) -> tuple[float, float]:
    """(CUDA-graph ms, eager ms) of one call under the arm's heuristic."""
    sg._launch_settings = ARMS[arm]
    try:

        def call():
            return sg.fused_shared_expert_gate(x, w, out)

        graph = triton.testing.do_bench_cudagraph(call, rep=50)
        eager = triton.testing.do_bench(call, rep=50)
        return graph, eager
    finally:
        sg._launch_settings = ARMS["new"]


def measure(dtype: str, k: int, n: int, rounds: int) -> dict:
    x = torch.randn(n, k, dtype=DTYPES[dtype], device="cuda")
    w = torch.randn(1, k, dtype=DTYPES[dtype], device="cuda") / k**0.5
    out = torch.randn(n, k, dtype=DTYPES[dtype], device="cuda")
    elt = x.element_size()
    for arm in ARMS:  # both arms compute the gate before anything is timed
        sg._launch_settings = ARMS[arm]
        got = sg.fused_shared_expert_gate(x, w, out)
        sg._launch_settings = ARMS["new"]
        want = sg.shared_expert_gate_reference(x, w, out)
        torch.testing.assert_close(got, want, atol=2e-2, rtol=2e-2)
    samples = {arm: {"graphUs": [], "eagerUs": []} for arm in ARMS}
    for r in range(rounds):
        pair = (
            ("old", "new", "new", "old") if r % 2 == 0 else ("new", "old", "old", "new")
        )
        for arm in pair:
            graph, eager = sample(arm, x, w, out)
            samples[arm]["graphUs"].append(graph * 1e3)
            samples[arm]["eagerUs"].append(eager * 1e3)

    def ratio(key: str) -> float:
        new = statistics.median(samples["new"][key])
        return new / statistics.median(samples["old"][key])

    return {
        "dtype": dtype,
        "k": k,
        "n": n,
        "old": {"settings": settings_for_32_thread_warps(k, elt), **samples["old"]},
        "new": {"settings": sg._launch_settings(k, elt), **samples["new"]},
        "graphRatio": ratio("graphUs"),
        "eagerRatio": ratio("eagerUs"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8, help="counterbalanced pairs")
    parser.add_argument("--json", help="where to write every sample")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("heuristic_timing.py needs a GPU", file=sys.stderr)
        return 2
    name = torch.cuda.get_device_name()
    warp = sg._target_warp_size()
    print(f"{name}: warp size {warp}, {args.rounds} rounds per shape")
    rows = []
    for dtype, k, n in SHAPES:
        row = measure(dtype, k, n, args.rounds)
        rows.append(row)
        old, new = row["old"], row["new"]
        same = "same" if old["settings"] == new["settings"] else "DIFFERENT"
        print(
            f"{dtype} K{k:<5} N{n:<5} "
            f"graph old {statistics.median(old['graphUs']):8.2f} µs "
            f"new {statistics.median(new['graphUs']):8.2f} µs "
            f"new/old {row['graphRatio']:.3f}  eager new/old {row['eagerRatio']:.3f}  "
            f"{same} settings: old {old['settings']} new {new['settings']}"
        )
    for key in ("graphRatio", "eagerRatio"):
        xs = [r[key] for r in rows]
        print(
            f"{key}: median {statistics.median(xs):.3f} over {len(xs)} shapes "
            f"(min {min(xs):.3f}, max {max(xs):.3f})"
        )
    if args.json:
        doc = {"device": name, "warpSize": warp, "rounds": args.rounds, "rows": rows}
        Path(args.json).write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
