"""Microbenchmark of the shared-expert gate: eager reference, torch.compile of it, and the fused kernel.

The fused kernel is ``--impl PATH::SYMBOL`` (default: the bundle's own; see kernels/kernel_impl.py). With
``--base-impl PATH::SYMBOL`` the base kernel is timed against it per shape too, in interleaved samples in
counterbalanced order (A B B A, B A A B, ...), written as the ``ab`` list of the JSON.

For each dtype, K, N: correctness against an fp64 reference first, then CUDA-graph replay time (the
headline; vLLM decodes under CUDA graphs) and event time of single eager calls, with buffers rotated so
that timed calls read from HBM rather than L2. The copy bandwidth of the card is measured in the same run
and every time is also given as GB/s and % of it. ``--json PATH`` writes the ``vllm-kernel-ci/microbench@1``
document; the exit status is non-zero when a correctness check fails.

``--device cpu`` (with TRITON_INTERPRET=1) is a smoke run of the same code path with wall-clock times and
no compile column: it checks the program and its output shape, not speed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import triton

HERE = Path(__file__).resolve().parent
sys.path[:0] = [p for p in (str(HERE), str(HERE.parent)) if p not in sys.path]

try:
    from reference import TOLERANCES, fp64_reference, unfused_gate
except ImportError:  # copied into a vLLM tree, where the reference sits beside it under a longer name
    from shared_expert_gate_reference import TOLERANCES, fp64_reference, unfused_gate

from ab_order import baseline_first  # noqa: E402
from kernel_impl import IMPL_ENV, ImplError, load_impl  # noqa: E402

BUNDLE_SPEC = f"{HERE / 'shared_expert_gate.py'}::fused_shared_expert_gate"

SCHEMA = "vllm-kernel-ci/microbench@1"

# N per K: decode batch sizes (launch-bound) through large prefills (bandwidth-bound).
DEFAULT_GRID = {
    2048: [1, 7, 33, 128, 1024, 4096, 8192, 65536],
    4096: [1, 128, 1024, 4096, 8192, 32768],
    7168: [1, 128, 1024, 4096, 8192, 32768],
}
DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}
SHORT_DTYPES = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}


def spread(samples: list[float]) -> dict[str, float]:
    qs = statistics.quantiles(samples, n=10, method="inclusive") if len(samples) > 1 else samples * 9
    return {"median": statistics.median(samples), "p20": qs[1], "p80": qs[7]}


def measure_copy_gbps(device: str, nbytes: int = 1 << 30, reps: int = 20) -> float:
    """Device-to-device copy bandwidth, counting bytes read plus bytes written."""
    src = torch.randn(nbytes // 4, device=device)
    dst = torch.empty_like(src)
    times = []
    for i in range(reps + 3):
        if device == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            dst.copy_(src)
            end.record()
            end.synchronize()
            seconds = start.elapsed_time(end) / 1e3
        else:
            t0 = time.perf_counter()
            dst.copy_(src)
            seconds = time.perf_counter() - t0
        if i >= 3:
            times.append(seconds)
    return 2 * src.numel() * src.element_size() / statistics.median(times) / 1e9


def make_sets(n: int, k: int, dtype: torch.dtype, device: str, count: int):
    weight = torch.randn(1, k, dtype=dtype, device=device) / k**0.5
    sets = []
    for _ in range(count):
        x = torch.randn(n, k, dtype=dtype, device=device)
        out = torch.randn(n, k, dtype=dtype, device=device)
        sets.append((x, out))
    return weight, sets


def rotation_count(set_bytes: int, l2_bytes: int, device: str) -> int:
    """Input sets to cycle through so that consecutive calls do not find their inputs in L2."""
    if device != "cuda":
        return 2
    return max(2, min(256, math.ceil(3 * l2_bytes / max(set_bytes, 1))))


def check(fn: Callable, weight: torch.Tensor, sets, dtype: torch.dtype) -> str | None:
    """None when fn matches the fp64 reference on every set (output poisoned first), else what differs."""
    for x, out in sets[:2]:
        y = fn(x, weight, out)
        expected = fp64_reference(x, weight, out)
        try:
            torch.testing.assert_close(y.double(), expected, **TOLERANCES[dtype])
        except AssertionError as error:
            return str(error).splitlines()[0] + " " + " ".join(str(error).splitlines()[1:3])
    return None


def graph_timer(fn: Callable, weight: torch.Tensor, sets, calls: int) -> Callable[[], float]:
    """One sample per call: µs per call from a replay of one CUDA graph of `calls` calls cycling the sets."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for x, out in sets:
            fn(x, weight, out)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for i in range(calls):
            x, out = sets[i % len(sets)]
            fn(x, weight, out)
    graph.replay()
    torch.cuda.synchronize()

    def sample() -> float:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        graph.replay()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) * 1e3 / calls

    return sample


def time_graph(fn: Callable, weight: torch.Tensor, sets, calls: int, reps: int) -> list[float]:
    sample = graph_timer(fn, weight, sets, calls)
    return [sample() for _ in range(reps)]


def time_events(fn: Callable, weight: torch.Tensor, sets, reps: int) -> list[float]:
    """µs of single eager calls, each between two events, launch path included."""
    samples = []
    for i in range(reps):
        x, out = sets[i % len(sets)]
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn(x, weight, out)
        end.record()
        end.synchronize()
        samples.append(start.elapsed_time(end) * 1e3)
    return samples


def wall_timer(fn: Callable, weight: torch.Tensor, sets) -> Callable[[], float]:
    calls = iter(range(1 << 62))

    def sample() -> float:
        x, out = sets[next(calls) % len(sets)]
        t0 = time.perf_counter()
        fn(x, weight, out)
        return (time.perf_counter() - t0) * 1e6

    return sample


def time_wall(fn: Callable, weight: torch.Tensor, sets, reps: int) -> list[float]:
    sample = wall_timer(fn, weight, sets)
    return [sample() for _ in range(reps)]


def time_ab(base: Callable, head: Callable, weight, sets, calls: int, reps: int, device: str):
    """Samples of both kernels, one of each per pair, pairs in counterbalanced order."""
    if device == "cuda":
        timers = graph_timer(base, weight, sets, calls), graph_timer(head, weight, sets, calls)
    else:
        timers = wall_timer(base, weight, sets), wall_timer(head, weight, sets)
    samples: tuple[list[float], list[float]] = ([], [])
    for pair in range(reps):
        for arm in (0, 1) if baseline_first(pair) else (1, 0):
            samples[arm].append(timers[arm]())
    return samples


def ab_cell(dtype_name: str, k: int, n: int) -> dict:
    """An E2eCell of the RunResult: graph µs per call, baseline = base kernel, patched = head kernel."""
    dtype = SHORT_DTYPES[dtype_name]
    return {
        "id": f"{dtype}-K{k}-N{n}",
        "params": {"dtype": dtype, "k": k, "n": n},
        "metric": "graph_us",
        "unit": "us",
        "higherIsBetter": False,
        "baseline": [],
        "patched": [],
        "status": "ok",
    }


def compiled_reference() -> Callable:
    # A fresh Dynamo cache per shape: past the recompile limit torch.compile silently runs eager.
    torch._dynamo.reset()
    return torch.compile(unfused_gate, dynamic=False, fullgraph=True)


def kernel_resources(sg, weight: torch.Tensor, x: torch.Tensor, out: torch.Tensor) -> dict:
    """Registers and spills of the bundle's compiled kernel for this dtype and K, from Triton's own report."""
    settings = sg.shared_expert_gate_launch_settings(x.shape[-1], x.element_size())
    compiled = sg.launch_shared_expert_gate(x[:1], weight, out[:1], torch.empty_like(out[:1]))
    return settings | {
        "registers": getattr(compiled, "n_regs", None),
        "spills": getattr(compiled, "n_spills", None),
    }


def warps_variants(
    sg, dtype_name: str, weight, sets, calls: int, reps: int, copy_gbps: float, nbytes: int
) -> list:
    """The bundle's kernel at each num_warps, graph-timed like the cells: is its heuristic's choice best?"""
    x0 = sets[0][0]
    k, n = x0.shape[-1], x0.shape[0]
    default_warps = sg.shared_expert_gate_launch_settings(k, x0.element_size())["numWarps"]
    found = []
    for warps in (2, 4, 8, 16):

        def launch(x, w, out, warps=warps):
            y = torch.empty_like(out)
            sg.launch_shared_expert_gate(x, w, out, y, num_warps=warps)
            return y

        if check(launch, weight, sets, DTYPES[dtype_name]):
            continue
        g = spread(time_graph(launch, weight, sets, calls, reps))
        found.append(
            {"dtype": dtype_name, "k": k, "n": n, "numWarps": warps, "default": warps == default_warps}
            | {"graphUs": g, "pctOfCopy": 100 * nbytes / (g["median"] * 1e3) / copy_gbps}
        )
        print(
            f"    num_warps={warps:2}{' (default)' if warps == default_warps else ''}: {g['median']:.2f} µs"
        )
    return found


def device_info(device: str) -> dict:
    info = {
        "torch": torch.__version__,
        "triton": triton.__version__,
        "python": platform.python_version(),
    }
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        info.update(
            name=props.name,
            vendor="amd" if torch.version.hip else "nvidia",
            capability=f"{props.major}.{props.minor}",
            multiProcessors=props.multi_processor_count,
            memoryBytes=props.total_memory,
            l2Bytes=getattr(props, "L2_cache_size", 0),
            cuda=torch.version.cuda,
            hip=torch.version.hip,
        )
    else:
        info.update(name=platform.processor() or platform.machine(), vendor="cpu")
    return info


def run(args: argparse.Namespace) -> tuple[dict, list[str]]:
    device = args.device
    info = device_info(device)
    l2_bytes = int(info.get("l2Bytes") or 50 << 20)
    copy_gbps = measure_copy_gbps(device, nbytes=args.copy_bytes)
    print(f"{info['name']}: copy {copy_gbps:.0f} GB/s", flush=True)
    head = load_impl(args.impl)
    base = load_impl(args.base_impl) if args.base_impl else None
    # Launch details and warps variants describe the bundle's kernel: only when it is the one timed. Its
    # module is imported only then: another file registering the same op name would reuse this one's op.
    bundle_head = Path(args.impl.rpartition("::")[0]).resolve() == Path(BUNDLE_SPEC.rpartition("::")[0])
    sg = sys.modules[head.__module__] if bundle_head else None
    impls: dict[str, Callable | None] = {"eager": unfused_gate, "fused": head}
    if device == "cuda":
        impls = {"eager": unfused_gate, "compile": None, "fused": head}
    cells, failures, resources, variants, ab = [], [], {}, [], []
    grid = [(k, n) for k, ns in args.grid.items() for n in ns]
    total, done = len(args.dtype) * len(grid), 0
    for dtype_name in args.dtype:
        dtype = DTYPES[dtype_name]
        elt = torch.empty((), dtype=dtype).element_size()
        for k, n in grid:
            set_bytes = 3 * n * k * elt
            count = rotation_count(set_bytes, l2_bytes, device)
            weight, sets = make_sets(n, k, dtype, device, count)
            nbytes = 3 * n * k * elt + k * elt
            calls = max(count, args.calls_per_graph)
            row = {}
            if device == "cuda" and bundle_head and (dtype_name, k) not in resources:
                resources[(dtype_name, k)] = {"dtype": dtype_name, "k": k} | kernel_resources(
                    sg, weight, *sets[0]
                )
            for impl, fn in impls.items():
                if fn is None:
                    fn = compiled_reference()
                problem = check(fn, weight, sets, dtype)
                if problem:
                    failures.append(f"{dtype_name} K={k} N={n} {impl}: {problem}")
                    print(f"CHECK FAILED {failures[-1]}", flush=True)
                    continue
                if device == "cuda":
                    graph_us = time_graph(fn, weight, sets, calls, args.reps)
                    event_us = time_events(fn, weight, sets, args.event_reps)
                else:
                    graph_us = event_us = time_wall(fn, weight, sets, args.reps)
                g = spread(graph_us)
                gbps = nbytes / (g["median"] * 1e3)
                row[impl] = g["median"]
                extra = {}
                if device == "cuda" and 3 * set_bytes <= l2_bytes:
                    # Inputs that fit L2, called again and again: how a decode step finds them, just written.
                    extra["graphUsL2Hot"] = spread(
                        time_graph(fn, weight, sets[:1], args.calls_per_graph, args.reps)
                    )
                cells.append(
                    {
                        "dtype": dtype_name,
                        "k": k,
                        "n": n,
                        "impl": impl,
                        "graphUs": g,
                        "eventUs": spread(event_us),
                        "bytes": nbytes,
                        "gbps": gbps,
                        "pctOfCopy": 100 * gbps / copy_gbps,
                        "rotatedSets": count,
                        "callsPerGraph": calls,
                    }
                    | extra
                )
            if base is not None:
                ab.append(measure_ab(base, head, dtype_name, weight, sets, calls, args))
            if device == "cuda" and bundle_head and n in args.warps_variants_n and not failures:
                variants.extend(
                    warps_variants(sg, dtype_name, weight, sets, calls, args.reps, copy_gbps, nbytes)
                )
            print_row(dtype_name, k, n, row, nbytes, copy_gbps)
            done += 1
            # the step's heartbeat reads the last of these (src/pipeline/heartbeat.ts)
            print(f"[progress] {done} of {total} cells", flush=True)
            del sets
            if device == "cuda":
                torch.cuda.empty_cache()
    doc = {
        "schema": SCHEMA,
        "device": info,
        "copyGbps": copy_gbps,
        "cells": cells,
        "timer": "cuda-graph replay and cuda events" if device == "cuda" else "wall clock (CPU smoke run)",
        "compile": {"dynamic": False, "fullgraph": True, "dynamoResetPerShape": True},
        "failures": failures,
        "kernelResources": list(resources.values()),
        "warpsVariants": variants,
        "impls": {"fused": args.impl, "base": args.base_impl},
        "createdAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if base is not None:
        doc["ab"] = ab
    return doc, failures


def measure_ab(base: Callable, head: Callable, dtype_name: str, weight, sets, calls: int, args) -> dict:
    """Base kernel against head kernel on one shape; a kernel that fails its check is not timed."""
    x0 = sets[0][0]
    cell = ab_cell(dtype_name, x0.shape[-1], x0.shape[0])
    problems = [
        f"{arm} kernel: {problem}"
        for arm, fn in (("base", base), ("head", head))
        if (problem := check(fn, weight, sets, DTYPES[dtype_name]))
    ]
    if problems:
        print(f"A/B {cell['id']} not timed: {'; '.join(problems)}", flush=True)
        return cell | {"status": "failed", "reason": "; ".join(problems)[:500]}
    cell["baseline"], cell["patched"] = time_ab(base, head, weight, sets, calls, args.reps, args.device)
    b, h = statistics.median(cell["baseline"]), statistics.median(cell["patched"])
    print(f"    A/B {cell['id']}: base {b:.2f} µs, head {h:.2f} µs ({b / h:.2f}x)", flush=True)
    return cell


HEADER = (
    f"{'dtype':9} {'K':>5} {'N':>6} | {'eager':>8} {'compile':>8} {'fused':>8} µs | {'GB/s':>6} {'%copy':>5}"
)


def print_row(dtype: str, k: int, n: int, row: dict, nbytes: int, copy_gbps: float) -> None:
    def fmt(impl):
        return f"{row[impl]:8.2f}" if impl in row else f"{'-':>8}"

    gbps = nbytes / (row["fused"] * 1e3) if "fused" in row else 0.0
    ratio = ""
    if "fused" in row and "eager" in row:
        ratio = f"  {row['eager'] / row['fused']:.2f}x eager"
    if "fused" in row and "compile" in row:
        ratio += f"  {row['compile'] / row['fused']:.2f}x compile"
    line = f"{dtype:9} {k:5} {n:6} | {fmt('eager')} {fmt('compile')} {fmt('fused')}    | {gbps:6.0f} "
    print(line + f"{100 * gbps / copy_gbps:5.1f}{ratio}", flush=True)


def parse_grid(ks: list[int] | None, ns: list[int] | None) -> dict[int, list[int]]:
    if ks or ns:
        return {k: ns or DEFAULT_GRID.get(k, DEFAULT_GRID[2048]) for k in (ks or [2048])}
    return DEFAULT_GRID


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", nargs="+", default=["bfloat16"], choices=sorted(DTYPES))
    parser.add_argument("--k", type=int, nargs="+", help="hidden sizes (default: 2048 4096 7168)")
    parser.add_argument("--n", type=int, nargs="+", help="token counts (default: a grid per K)")
    parser.add_argument(
        "--device", choices=["cuda", "cpu"], default="cuda" if torch.cuda.is_available() else "cpu"
    )
    parser.add_argument(
        "--reps", type=int, default=50, help="graph replays (wall-clock calls on CPU) per cell"
    )
    parser.add_argument("--event-reps", type=int, default=200, help="event-timed eager calls per cell")
    parser.add_argument("--calls-per-graph", type=int, default=64)
    parser.add_argument(
        "--copy-bytes", type=int, help="copy size for the ceiling (default 1 GiB; 64 MiB on CPU)"
    )
    parser.add_argument(
        "--warps-variants-n", type=int, nargs="*", default=[], help="N at which to time each num_warps"
    )
    parser.add_argument(
        "--impl",
        default=os.environ.get(IMPL_ENV) or BUNDLE_SPEC,
        help=f"the fused kernel under test, PATH::SYMBOL (default: ${IMPL_ENV}, else the bundle's)",
    )
    parser.add_argument("--base-impl", help="the base kernel to time against --impl per shape, PATH::SYMBOL")
    parser.add_argument("--json", type=Path, help="write the microbench@1 document here")
    args = parser.parse_args(argv)
    for spec in (args.impl, args.base_impl):
        try:
            if spec:
                load_impl(spec)
        except ImplError as error:
            parser.error(str(error))
    if args.device == "cpu" and os.environ.get("TRITON_INTERPRET") != "1":
        parser.error("--device cpu needs TRITON_INTERPRET=1 (Triton's interpreter) to run the kernel")
    args.grid = parse_grid(args.k, args.n)
    if args.copy_bytes is None:
        args.copy_bytes = 1 << 30 if args.device == "cuda" else 64 << 20
    torch._dynamo.config.recompile_limit = 1024
    torch.manual_seed(0)
    print(HEADER, flush=True)
    doc, failures = run(args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=1) + "\n")
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
