"""Model-level A/B of the fused shared-expert gate, with no weights and no server.

Builds randomly initialised Qwen2-MoE models from transformers' own modeling code (a small Qwen2-MoE and
one with Qwen3-Next's MoE shapes), routes the shared-expert gate of every MoE block through the arm that
runs, and times prefill and decode steps of both arms from one process, one model and one set of weights:
the arms differ only in the gate. An arm is ``reference`` (the original unfused expression) or an
implementation ``PATH::SYMBOL`` of ``fused_shared_expert_gate(x, weight, out)`` (see kernels/kernel_impl.py):
``--baseline-impl`` (default ``reference``) against ``--patched-impl`` (default ``$VLLM_KERNEL_CI_IMPL``, else
the bundle's kernel). Each sample is a fresh CUDA-graph capture of one arm; the pairs run in counterbalanced
order (A B, B A, B A, A B, ...). ``--aa`` runs the baseline in both arms: the noise floor.
``--json PATH`` writes the ``E2e`` part of the RunResult.

On the CPU (``--tiny``, TRITON_INTERPRET=1) it runs a tiny config with wall-clock timing: a check of the
program and its output, not a measurement.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import re
import statistics
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
import transformers
from transformers import Qwen2MoeConfig, Qwen2MoeForCausalLM, StaticCache
from transformers.models.qwen2_moe import modeling_qwen2_moe

HERE = Path(__file__).resolve().parent
sys.path[:0] = [p for p in (str(HERE), str(HERE.parent)) if p not in sys.path]

from ab_order import baseline_first  # noqa: E402
from kernel_impl import IMPL_ENV, ImplError, load_impl  # noqa: E402

BUNDLE_SPEC = f"{HERE / 'shared_expert_gate.py'}::fused_shared_expert_gate"
REFERENCE = "reference"

# gate(module, x, out) -> sigmoid(module(x)) * out, the way the running arm computes it.
Gate = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


def unfused(gate: torch.nn.Module, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """transformers' own line, the code before the kernel."""
    return F.sigmoid(gate(x)) * out


def arm_gate(spec: str) -> Gate:
    """The gate of an arm: the original expression, or an implementation's call with the gate's weight."""
    if spec == REFERENCE:
        return unfused
    impl = load_impl(spec)
    return lambda gate, x, out: impl(x, gate.weight, out)


def arm_label(spec: str) -> str:
    return "the unfused expression" if spec == REFERENCE else Path(spec.rpartition("::")[0]).name


# The gate of the arm that runs; Step.forward sets it.
active_gate: Gate = unfused

# transformers' own gate line; the rewrite below refuses to run if the modeling code changed shape.
ORIGINAL_GATE_LINE = (
    "shared_expert_output = F.sigmoid(self.shared_expert_gate(hidden_states_reshaped)) * shared_expert_output"
)

MODELS = {
    # Qwen1.5-MoE-A2.7B's shapes with 4 of its 24 layers.
    "qwen2-moe": {
        "hidden_size": 2048,
        "intermediate_size": 5632,
        "moe_intermediate_size": 1408,
        "shared_expert_intermediate_size": 5632,
        "num_experts": 60,
        "num_experts_per_tok": 4,
        "num_attention_heads": 16,
        "num_key_value_heads": 16,
        "num_hidden_layers": 4,
        "vocab_size": 151936,
    },
    # Qwen3-Next-80B-A3B's MoE shapes (512 experts, top 10, shared expert 512) with full attention, 4 layers.
    "qwen3-next-shaped": {
        "hidden_size": 2048,
        "intermediate_size": 5120,
        "moe_intermediate_size": 512,
        "shared_expert_intermediate_size": 512,
        "num_experts": 512,
        "num_experts_per_tok": 10,
        "num_attention_heads": 16,
        "num_key_value_heads": 2,
        "head_dim": 256,
        "num_hidden_layers": 4,
        "vocab_size": 151936,
    },
    # CPU check of the program only.
    "tiny": {
        "hidden_size": 64,
        "intermediate_size": 128,
        "moe_intermediate_size": 32,
        "shared_expert_intermediate_size": 64,
        "num_experts": 4,
        "num_experts_per_tok": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "num_hidden_layers": 2,
        "vocab_size": 128,
    },
}

DEFAULT_CELLS = "prefill-b1-s512,prefill-b8-s512,decode-b1-c512,decode-b8-c512,decode-b64-c512"
TINY_CELLS = "prefill-b2-s16,decode-b2-c16"


def moe_block_forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
    """Qwen2MoeSparseMoeBlock.forward with its gate line computed by the running arm."""
    batch_size, sequence_length, hidden_dim = hidden_states.shape
    hidden_states_reshaped = hidden_states.view(-1, hidden_dim)
    shared_expert_output = self.shared_expert(hidden_states_reshaped)
    _, routing_weights, selected_experts = self.gate(hidden_states_reshaped)
    expert_output = self.experts(hidden_states_reshaped, selected_experts, routing_weights)
    shared_expert_output = active_gate(self.shared_expert_gate, hidden_states_reshaped, shared_expert_output)
    expert_output = expert_output + shared_expert_output
    return expert_output.reshape(batch_size, sequence_length, hidden_dim)


def build_model(name: str, device: str, dtype: torch.dtype) -> tuple[Qwen2MoeForCausalLM, int]:
    source = inspect.getsource(modeling_qwen2_moe.Qwen2MoeSparseMoeBlock.forward)
    if ORIGINAL_GATE_LINE not in source:
        raise RuntimeError(
            "transformers' Qwen2MoeSparseMoeBlock.forward no longer holds the expected gate line; "
            f"update moe_block_forward in {Path(__file__).name} for transformers {transformers.__version__}"
        )
    config = Qwen2MoeConfig(**MODELS[name], max_position_embeddings=4096, decoder_sparse_step=1)
    # grouped_mm: the experts' forward without host syncs, so whole steps can be captured in a CUDA graph.
    config._experts_implementation = "grouped_mm"
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = Qwen2MoeForCausalLM(config).eval()
    finally:
        torch.set_default_dtype(previous)
    sites = 0
    for module in model.modules():
        if isinstance(module, modeling_qwen2_moe.Qwen2MoeSparseMoeBlock):
            module.forward = types.MethodType(moe_block_forward, module)
            sites += 1
    return model, sites


def parse_cell(cell_id: str) -> dict:
    prefill = re.fullmatch(r"prefill-b(\d+)-s(\d+)", cell_id)
    if prefill:
        return {"kind": "prefill", "batch": int(prefill[1]), "seq": int(prefill[2])}
    decode = re.fullmatch(r"decode-b(\d+)-c(\d+)", cell_id)
    if decode:
        return {"kind": "decode", "batch": int(decode[1]), "context": int(decode[2])}
    raise ValueError(f"cell {cell_id!r}: expected prefill-b<batch>-s<seq> or decode-b<batch>-c<context>")


class Step:
    """One forward step with static inputs, runnable in either arm; captured per arm on CUDA."""

    def __init__(self, model, cell: dict, device: str):
        self.model, self.cell, self.device = model, cell, device
        vocab = model.config.vocab_size
        b = cell["batch"]
        if cell["kind"] == "prefill":
            self.tokens = b * cell["seq"]
            self.kwargs = {
                "input_ids": torch.randint(0, vocab, (b, cell["seq"]), device=device),
                "use_cache": False,
            }
        else:
            ctx = cell["context"]
            self.tokens = b
            self.cache = StaticCache(config=model.config, max_cache_len=ctx + 1)
            if not all(hasattr(layer, "cumulative_length") for layer in self.cache.layers):
                raise RuntimeError("transformers' StaticCache layers have no cumulative_length to rewind")
            with torch.no_grad():
                # Fill the cache with a prompt of `ctx` tokens; each timed step then decodes token ctx+1.
                prompt = torch.randint(0, vocab, (b, ctx), device=device)
                model(
                    input_ids=prompt,
                    past_key_values=self.cache,
                    cache_position=torch.arange(ctx, device=device),
                )
            self.kwargs = {
                "input_ids": torch.randint(0, vocab, (b, 1), device=device),
                "past_key_values": self.cache,
                "cache_position": torch.tensor([ctx], device=device),
                "position_ids": torch.full((b, 1), ctx, device=device),
                "use_cache": True,
            }

    def forward(self, gate: Gate) -> torch.Tensor:
        global active_gate
        active_gate = gate
        if self.cell["kind"] == "decode":
            # The static cache advances its length on device each step; rewind it so every replay
            # decodes the same position against the same context.
            for layer in self.cache.layers:
                layer.cumulative_length.fill_(self.cell["context"])
        with torch.no_grad():
            return self.model(**self.kwargs, logits_to_keep=1).logits

    def runner(self, gate: Gate) -> Callable[[], None]:
        """A callable that runs one step of this arm: a CUDA graph replay on the GPU, eager on the CPU."""
        if self.device != "cuda":
            return lambda: self.forward(gate)
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            self.forward(gate)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self.forward(gate)
        return graph.replay


def check_arms_agree(step: Step, baseline: Gate, patched: Gate) -> str | None:
    """None when both arms give the same logits within bf16 rounding of the gate, else the difference."""
    base = step.forward(baseline).float()
    fused = step.forward(patched).float()
    err = ((fused - base).norm() / base.norm().clamp_min(1e-12)).item()
    return None if err < 2e-2 else f"patched logits differ from baseline: relative error {err:.3g}"


def time_arm(run: Callable[[], None], iters: int, device: str) -> float:
    """Seconds per step over `iters` steps."""
    if device == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(iters):
            run()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3 / iters
    t0 = time.perf_counter()
    for _ in range(iters):
        run()
    return (time.perf_counter() - t0) / iters


def measure_cell(model, cell_id: str, args, sites: int, model_key: str, arms: dict[str, Gate]) -> dict:
    cell = parse_cell(cell_id)
    metric = "prefill_tokens_per_s" if cell["kind"] == "prefill" else "decode_tokens_per_s"
    params = {k: v for k, v in cell.items() if k != "kind"} | {"model": model_key, "gateSites": sites}
    result = {
        "id": cell_id,
        "params": params,
        "metric": metric,
        "unit": "tok/s",
        "higherIsBetter": True,
        "baseline": [],
        "patched": [],
        "status": "ok",
    }
    try:
        step = Step(model, cell, args.device)
        problem = check_arms_agree(step, arms["baseline"], arms["patched"])
        if problem:
            raise RuntimeError(problem)
        # Steps per sample: about --sample-ms of work, at least one.
        probe = step.runner(arms["baseline"])
        per_step = time_arm(probe, 3, args.device)
        iters = max(1, round(args.sample_ms / 1e3 / per_step))
        params["stepsPerSample"] = iters
        del probe
        for r in range(args.warmup + args.repeats):
            # A B, B A, B A, A B: the arm that runs second in a pair is measurably slower, so each arm
            # takes each place equally often. Each pair captures fresh graphs, in the pair's order: two
            # captures of one arm differ by up to ~1% (memory placement), so that spread must land inside
            # each arm's samples, not between the arms.
            first = baseline_first(r - args.warmup + args.first_pair)
            order = ["baseline", "patched"] if first else ["patched", "baseline"]
            pair = [(arm, step.runner(arms[arm])) for arm in order]
            for arm, run in pair:
                time_arm(run, 1, args.device)
                tokens_per_s = step.tokens / time_arm(run, iters, args.device)
                if r >= args.warmup:
                    result[arm].append(tokens_per_s)
            del pair
    except Exception as error:  # noqa: BLE001 - a failed cell is reported, the others still run
        result["status"] = "failed"
        result["reason"] = f"{type(error).__name__}: {error}"[:500]
    return result


def summarise(cell: dict) -> str:
    if cell["status"] != "ok":
        return f"{cell['id']:32} FAILED {cell.get('reason', '')}"
    b, p = cell["baseline"], cell["patched"]
    mb, mp = statistics.median(b), statistics.median(p)
    cv = statistics.stdev(b) / statistics.mean(b) * 100 if len(b) > 1 else 0.0
    delta = 100 * (mp / mb - 1)
    return f"{cell['id']:32} base {mb:12.1f}  patched {mp:12.1f} tok/s  Δ {delta:+6.2f}%  base cv {cv:.2f}%"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default="qwen3-next-shaped", help=f"comma-separated, of {', '.join(MODELS)}"
    )
    parser.add_argument("--cells", help=f"comma-separated cell ids (default {DEFAULT_CELLS})")
    parser.add_argument("--repeats", type=int, default=10, help="samples per arm and cell, interleaved")
    parser.add_argument("--warmup", type=int, default=1, help="untimed A/B pairs before the samples")
    parser.add_argument(
        "--first-pair",
        type=int,
        default=0,
        help="place of the first timed pair in the arm order (a re-run goes on where the first round ended)",
    )
    parser.add_argument("--sample-ms", type=float, default=100.0, help="work per sample")
    parser.add_argument("--aa", action="store_true", help="A/A: the patched arm is the baseline again")
    parser.add_argument(
        "--tiny", action="store_true", help="the tiny model and cells (CPU check of the program)"
    )
    parser.add_argument(
        "--device", choices=["cuda", "cpu"], default="cuda" if torch.cuda.is_available() else "cpu"
    )
    parser.add_argument(
        "--baseline-impl",
        default=REFERENCE,
        help="the baseline arm's gate: reference (the unfused expression) or PATH::SYMBOL",
    )
    parser.add_argument(
        "--patched-impl",
        default=os.environ.get(IMPL_ENV) or BUNDLE_SPEC,
        help=f"the patched arm's gate, PATH::SYMBOL (default: ${IMPL_ENV}, else the bundle's kernel)",
    )
    parser.add_argument("--json", type=Path, help="write the E2e document here")
    args = parser.parse_args(argv)
    if args.device == "cpu" and os.environ.get("TRITON_INTERPRET") != "1":
        parser.error("--device cpu needs TRITON_INTERPRET=1 (Triton's interpreter) to run the kernel")
    try:
        arms = {"baseline": arm_gate(args.baseline_impl), "patched": arm_gate(args.patched_impl)}
    except ImplError as error:
        parser.error(str(error))
    if args.aa:
        arms["patched"] = arms["baseline"]
    if args.tiny:
        args.model, args.cells = "tiny", args.cells or TINY_CELLS
    cells = (args.cells or DEFAULT_CELLS).split(",")
    for cell_id in cells:
        parse_cell(cell_id)
    model_keys = args.model.split(",")
    unknown = [m for m in model_keys if m not in MODELS]
    if unknown:
        parser.error(f"unknown model {unknown}; choose from {', '.join(MODELS)}")
    dtype = torch.bfloat16
    out_cells = []
    for key in model_keys:
        model, sites = build_model(key, args.device, dtype)
        for cell_id in cells:
            cell = measure_cell(model, cell_id, args, sites, key, arms)
            if len(model_keys) > 1:
                cell["id"] = f"{key}-{cell_id}"
            out_cells.append(cell)
            print(summarise(cell), flush=True)
        del model
        if args.device == "cuda":
            torch.cuda.empty_cache()
    timing = (
        "CUDA-graph replay of each whole step"
        if args.device == "cuda"
        else "wall clock on the CPU (no claim)"
    )
    baseline_label = arm_label(args.baseline_impl)
    versus = (
        f"A/A: {baseline_label} against itself"
        if args.aa
        else f"{baseline_label} vs {arm_label(args.patched_impl)}"
    )
    doc = {
        "backend": "model",
        "method": (
            f"Randomly initialised {', '.join(model_keys)} (transformers {transformers.__version__}, bf16)"
            f" in one process; {versus},"
            f" {args.repeats} samples per arm of ~{args.sample_ms:.0f} ms in counterbalanced pairs, {timing}"
            f"{', a fresh capture per sample' if args.device == 'cuda' else ''}."
        ),
        "model": ", ".join(model_keys),
        "cells": out_cells,
        "arms": {
            "baseline": args.baseline_impl,
            "patched": args.baseline_impl if args.aa else args.patched_impl,
        },
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=1) + "\n")
    return 0 if all(c["status"] == "ok" for c in out_cells) else 1


if __name__ == "__main__":
    sys.exit(main())
