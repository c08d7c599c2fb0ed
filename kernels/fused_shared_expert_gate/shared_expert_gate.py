"""Fused shared-expert gate of Qwen2/Qwen3 MoE: ``y = sigmoid(x @ w_gate) * out``, one row per token.

vLLM computes ``F.sigmoid(self.expert_gate(x)[0]) * out`` as three kernels (a GEMV, a sigmoid, a multiply)
with two ``[N, 1]`` intermediates. The gate weight is ``[1, K]``, so the "matmul" is a per-row dot product:
one row-wise Triton kernel reads ``x``, the weight and ``out`` once and writes the result once.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
import triton
import triton.language as tl

try:
    from vllm.utils.torch_utils import direct_register_custom_op
except ImportError:
    direct_register_custom_op = None

__all__ = [
    "fused_shared_expert_gate",
    "launch_shared_expert_gate",
    "shared_expert_gate_launch_settings",
    "shared_expert_gate_reference",
    "use_fused_shared_expert_gate",
]

# The A/B switch: VLLM_FUSED_SHARED_EXPERT_GATE=0 selects the baseline arm. Read once; a driver may flip it.
FUSED_SHARED_EXPERT_GATE_ENABLED: bool = os.environ.get("VLLM_FUSED_SHARED_EXPERT_GATE", "1") != "0"

# Triton's interpreter runs kernels on CPU tensors; read at import like Triton itself does.
_TRITON_INTERPRET: bool = os.environ.get("TRITON_INTERPRET", "0") == "1"

_KERNEL_DTYPES = (torch.bfloat16, torch.float16, torch.float32)

# Widest slice of a row held in registers at once; wider rows loop over slices.
_MAX_BLOCK_K = 8192


def shared_expert_gate_reference(x: torch.Tensor, weight: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """The unfused form ``sigmoid(linear(x, weight)) * out`` in ``out``'s dtype; ``weight`` [1, K] or [K]."""
    return (torch.sigmoid(F.linear(x, weight.reshape(1, -1))) * out).to(out.dtype)


@triton.jit
def _shared_expert_gate_kernel(
    x_ptr,
    w_ptr,
    out_ptr,
    y_ptr,
    K,
    stride_x,
    stride_out,
    stride_y,
    BLOCK_K: tl.constexpr,
    NUM_SLICES: tl.constexpr,
):
    # int64 row offsets: N * row stride can pass 2**31 elements.
    row = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK_K)
    x_row = x_ptr + row * stride_x
    out_row = out_ptr + row * stride_out
    y_row = y_ptr + row * stride_y
    if NUM_SLICES == 1:
        mask = cols < K
        # Issue the load of out before the reduction so its latency overlaps the dot product.
        o = tl.load(out_row + cols, mask=mask, other=0.0)
        xv = tl.load(x_row + cols, mask=mask, other=0.0).to(tl.float32)
        wv = tl.load(w_ptr + cols, mask=mask, other=0.0).to(tl.float32)
        gate = tl.sigmoid(tl.sum(xv * wv, axis=0))
        tl.store(y_row + cols, (o.to(tl.float32) * gate).to(y_ptr.dtype.element_ty), mask=mask)
    else:
        acc = tl.zeros([BLOCK_K], dtype=tl.float32)
        for s in tl.static_range(NUM_SLICES):
            offs = s * BLOCK_K + cols
            mask = offs < K
            xv = tl.load(x_row + offs, mask=mask, other=0.0).to(tl.float32)
            wv = tl.load(w_ptr + offs, mask=mask, other=0.0).to(tl.float32)
            acc += xv * wv
        gate = tl.sigmoid(tl.sum(acc, axis=0))
        for s in tl.static_range(NUM_SLICES):
            offs = s * BLOCK_K + cols
            mask = offs < K
            o = tl.load(out_row + offs, mask=mask, other=0.0).to(tl.float32)
            tl.store(y_row + offs, (o * gate).to(y_ptr.dtype.element_ty), mask=mask)


def _launch_settings(k: int, elt: int) -> tuple[int, int, int]:
    """(BLOCK_K, NUM_SLICES, num_warps): one row per program, 16 bytes per thread per load where it fits."""
    block_k = min(triton.next_power_of_2(k), _MAX_BLOCK_K)
    num_slices = triton.cdiv(k, block_k)
    threads = max(32, block_k * elt // 16)
    num_warps = min(16, max(1, threads // 32))
    return block_k, num_slices, num_warps


def shared_expert_gate_launch_settings(k: int, elt: int) -> dict[str, int]:
    """The launch the kernel gets for rows of K elements of `elt` bytes: blockK, slices, numWarps."""
    block_k, num_slices, num_warps = _launch_settings(k, elt)
    return {"blockK": block_k, "slices": num_slices, "numWarps": num_warps}


def launch_shared_expert_gate(
    x: torch.Tensor, weight: torch.Tensor, out: torch.Tensor, y: torch.Tensor, *, num_warps: int | None = None
):
    """Runs the kernel on 2-D row views (unit inner stride): y = sigmoid(x . weight) * out, one program a row.

    ``num_warps`` overrides the heuristic's choice. Returns Triton's compiled kernel (registers, spills).
    """
    k = x.shape[-1]
    block_k, num_slices, default_warps = _launch_settings(k, x.element_size())
    return _shared_expert_gate_kernel[(x.shape[0],)](
        x,
        weight,
        out,
        y,
        k,
        x.stride(0),
        out.stride(0),
        y.stride(0),
        BLOCK_K=block_k,
        NUM_SLICES=num_slices,
        num_warps=num_warps or default_warps,
    )


def _check_shapes(x: torch.Tensor, weight: torch.Tensor, out: torch.Tensor) -> int:
    if x.dim() < 1 or x.shape != out.shape:
        raise ValueError(
            f"fused_shared_expert_gate: x {tuple(x.shape)} and out {tuple(out.shape)} must have the same"
            " shape [..., K]; pass the shared expert's input and output for the same tokens"
        )
    k = x.shape[-1]
    if tuple(weight.shape) not in ((1, k), (k,)):
        raise ValueError(
            f"fused_shared_expert_gate: weight {tuple(weight.shape)} must be [1, {k}] or [{k}]"
            f" for x [..., {k}] (the gate is a Linear(hidden_size, 1))"
        )
    return k


def _kernel_can_take(x: torch.Tensor, weight: torch.Tensor, out: torch.Tensor) -> bool:
    if x.dtype not in _KERNEL_DTYPES or x.dtype != weight.dtype or x.dtype != out.dtype:
        return False
    if not (x.device == weight.device == out.device):
        return False
    if x.device.type == "cpu":
        if not _TRITON_INTERPRET:
            return False
    elif x.device.type != "cuda":
        return False
    return x.stride(-1) == 1 and out.stride(-1) == 1 and weight.is_contiguous()


def _as_rows(t: torch.Tensor) -> torch.Tensor | None:
    """A 2-D view [rows, K] of the same storage, or None when the leading dims need a copy to flatten."""
    if t.dim() == 2:
        return t
    try:
        return t.view(-1, t.shape[-1])
    except RuntimeError:
        return None


def _gate_into(x: torch.Tensor, weight: torch.Tensor, out: torch.Tensor, y: torch.Tensor) -> None:
    """Writes sigmoid(x . weight) * out into y, by the kernel where it applies, else by the reference."""
    if x.numel() == 0:
        return
    x2, out2, y2 = _as_rows(x), _as_rows(out), _as_rows(y)
    if x2 is None or out2 is None or y2 is None or not _kernel_can_take(x, weight, out):
        y.copy_(shared_expert_gate_reference(x, weight, out))
        return
    launch_shared_expert_gate(x2, weight, out2, y2)


def _shared_expert_gate(x: torch.Tensor, weight: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    _check_shapes(x, weight, out)
    y = torch.empty(out.shape, dtype=out.dtype, device=out.device)
    _gate_into(x, weight, out, y)
    return y


def _shared_expert_gate_fake(x: torch.Tensor, weight: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    _check_shapes(x, weight, out)
    return torch.empty(out.shape, dtype=out.dtype, device=out.device)


def _shared_expert_gate_inplace(x: torch.Tensor, weight: torch.Tensor, out: torch.Tensor) -> None:
    _check_shapes(x, weight, out)
    _gate_into(x, weight, out, out)


def _shared_expert_gate_inplace_fake(x: torch.Tensor, weight: torch.Tensor, out: torch.Tensor) -> None:
    _check_shapes(x, weight, out)


_OP_NAMESPACE = "vllm" if direct_register_custom_op is not None else "vllm_kernel_ci"
_LIBRARY = None if direct_register_custom_op is not None else torch.library.Library(_OP_NAMESPACE, "FRAGMENT")


def _register(op_name: str, op_func, mutates_args: list[str], fake_impl):
    """Registers an opaque custom op once: vLLM's way when vLLM is importable, else torch.library."""
    namespace = getattr(torch.ops, _OP_NAMESPACE)
    if hasattr(namespace, op_name):
        return getattr(namespace, op_name).default
    if direct_register_custom_op is not None:
        direct_register_custom_op(op_name, op_func, mutates_args=mutates_args, fake_impl=fake_impl)
    else:
        schema = torch.library.infer_schema(op_func, mutates_args=mutates_args)
        _LIBRARY.define(op_name + schema)
        # CompositeExplicitAutograd: one implementation serves CUDA and (interpreted) CPU tensors.
        _LIBRARY.impl(op_name, op_func, "CompositeExplicitAutograd")
        _LIBRARY._register_fake(op_name, fake_impl)
    return getattr(namespace, op_name).default


_gate_op = _register("fused_shared_expert_gate", _shared_expert_gate, [], _shared_expert_gate_fake)
_gate_inplace_op = _register(
    "fused_shared_expert_gate_", _shared_expert_gate_inplace, ["out"], _shared_expert_gate_inplace_fake
)


def fused_shared_expert_gate(
    x: torch.Tensor, weight: torch.Tensor, out: torch.Tensor, *, inplace: bool = False
) -> torch.Tensor:
    """``sigmoid(x @ weight.T) * out`` in one pass; fp32 accumulation; result in ``out``'s dtype.

    ``x`` and ``out`` are ``[..., K]`` with the same shape, ``weight`` is ``[1, K]`` or ``[K]``. With
    ``inplace=True`` the result is written into ``out`` and ``out`` is returned. Inputs the kernel does not
    take (non-unit inner stride, mixed dtypes or devices, CPU tensors without Triton's interpreter) are
    computed by the reference; mismatched shapes raise ``ValueError``.
    """
    if inplace:
        _gate_inplace_op(x, weight, out)
        return out
    return _gate_op(x, weight, out)


def use_fused_shared_expert_gate(gate: torch.nn.Module, x: torch.Tensor) -> bool:
    """Whether a call site may replace ``sigmoid(gate(x)[0]) * out`` by the fused kernel for this gate.

    Only module attributes and static tensor properties are read, so torch.compile guards on them
    instead of breaking the graph.
    """
    if not FUSED_SHARED_EXPERT_GATE_ENABLED:
        return False
    if getattr(gate, "bias", None) is not None:
        return False
    quant_method = getattr(gate, "quant_method", None)
    if quant_method is not None and type(quant_method).__name__ != "UnquantizedLinearMethod":
        return False
    weight = getattr(gate, "weight", None)
    if not isinstance(weight, torch.Tensor) or weight.dtype not in _KERNEL_DTYPES or weight.dtype != x.dtype:
        return False
    k = x.shape[-1]
    if tuple(weight.shape) not in ((1, k), (k,)) or weight.device != x.device:
        return False
    if x.device.type == "cuda":
        return True
    return x.device.type == "cpu" and _TRITON_INTERPRET
