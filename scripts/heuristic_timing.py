"""Times the gate kernel with its launch heuristic against the heuristic that assumed 32-thread warps, on one GPU.

Both arms run in one process on one card, interleaved in counterbalanced order (A B B A, B A A B, ...), each
sample the median of Triton's CUDA-graph benchmark. Prints per shape the launch settings of each arm and the
median ratio new/old; on NVIDIA both arms pick the same settings, so the ratios show the noise floor.

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


def settings_for_32_thread_warps(
    k: int, elt: int, warp_size: int | None = None
) -> tuple[int, int, int]:
    """The heuristic before it learnt the target's warp size (warp_size ignored)."""
    block_k = min(triton.next_power_of_2(k), 8192)
    threads = max(32, block_k * elt // 16)
    return block_k, triton.cdiv(k, block_k), min(16, max(1, threads // 32))


ARMS = {"old": settings_for_32_thread_warps, "new": sg._launch_settings}


def sample(arm: str, x, w, out) -> float:
    sg._launch_settings = ARMS[arm]
    try:
        return triton.testing.do_bench_cudagraph(
            lambda: sg.fused_shared_expert_gate(x, w, out), rep=50
        )
    finally:
        sg._launch_settings = ARMS["new"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rounds", type=int, default=8, help="counterbalanced pairs per shape"
    )
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
        x = torch.randn(n, k, dtype=DTYPES[dtype], device="cuda")
        w = torch.randn(1, k, dtype=DTYPES[dtype], device="cuda") / k**0.5
        out = torch.randn(n, k, dtype=DTYPES[dtype], device="cuda")
        elt = x.element_size()
        torch.testing.assert_close(  # both arms compute the same thing before anything is timed
            sg.fused_shared_expert_gate(x, w, out),
            sg.shared_expert_gate_reference(x, w, out),
            atol=2e-2,
            rtol=2e-2,
        )
        times: dict[str, list[float]] = {"old": [], "new": []}
        for r in range(args.rounds):
            order = (
                ("old", "new", "new", "old")
                if r % 2 == 0
                else ("new", "old", "old", "new")
            )
            for arm in order:
                times[arm].append(sample(arm, x, w, out))
        old, new = statistics.median(times["old"]), statistics.median(times["new"])
        row = {
            "dtype": dtype,
            "k": k,
            "n": n,
            "old": {
                "settings": settings_for_32_thread_warps(k, elt),
                "us": [t * 1e3 for t in times["old"]],
            },
            "new": {
                "settings": sg._launch_settings(k, elt),
                "us": [t * 1e3 for t in times["new"]],
            },
            "ratio": new / old,
        }
        rows.append(row)
        same = (
            "same settings"
            if row["old"]["settings"] == row["new"]["settings"]
            else "settings differ"
        )
        print(
            f"{dtype} K{k:<5} N{n:<5} old {old * 1e3:8.2f} µs  new {new * 1e3:8.2f} µs  "
            f"new/old {row['ratio']:.3f}  ({same}: old {row['old']['settings']}, new {row['new']['settings']})"
        )
    ratios = [r["ratio"] for r in rows]
    print(
        f"median new/old over {len(rows)} shapes: {statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f})"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"device": name, "warpSize": warp, "rows": rows}, indent=1)
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
