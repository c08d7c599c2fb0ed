"""Correctness of the fused shared-expert gate: every shape and case kind against an fp64 reference.

Runs on CUDA/ROCm GPUs (full grid) and on the CPU under Triton's interpreter (TRITON_INTERPRET=1, a
reduced grid that still covers every case kind).
"""

from __future__ import annotations

import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import torch

try:
    from vllm.model_executor.layers.fused_moe import shared_expert_gate as sg
except ImportError:
    import shared_expert_gate as sg

fused_shared_expert_gate = sg.fused_shared_expert_gate
use_fused_shared_expert_gate = sg.use_fused_shared_expert_gate

ON_GPU = torch.cuda.is_available()
INTERPRETED = os.environ.get("TRITON_INTERPRET", "0") == "1"
DEVICE = "cuda" if ON_GPU else "cpu"

if not ON_GPU and not INTERPRETED:
    pytest.skip("needs a CUDA/ROCm GPU or TRITON_INTERPRET=1 on the CPU", allow_module_level=True)

DTYPES = [torch.bfloat16, torch.float16]
HIDDEN_SIZES = [1024, 2048]
NUM_TOKENS = [1, 7, 33, 1024, 7177, 8192]
ODD_HIDDEN_SIZES = [2880, 3584, 4096, 7168, 16384]

# Tolerances against the fp64 reference, one table: the result is rounded once to the output dtype.
TOLERANCES = {
    torch.bfloat16: {"atol": 1e-2, "rtol": 1.6e-2},
    torch.float16: {"atol": 1e-3, "rtol": 1e-3},
    torch.float32: {"atol": 1e-5, "rtol": 1e-5},
}


def _case(dtype: torch.dtype, k: int, n: int):
    return pytest.param(dtype, k, n, id=f"{str(dtype).removeprefix('torch.')}-K{k}-N{n}")


def _grid() -> list:
    """The original PR's 24 cases plus fp32 and non-power-of-two K; the CPU interpreter gets a subset."""
    cases = [(d, k, n) for d in DTYPES for k in HIDDEN_SIZES for n in NUM_TOKENS]
    cases += [(torch.float32, 2048, n) for n in NUM_TOKENS]
    cases += [(torch.bfloat16, k, n) for k in ODD_HIDDEN_SIZES for n in (1, 33, 1024, 8192)]
    if not ON_GPU:
        # The interpreter runs one program per row in Python: keep rows few, keep every dtype and K.
        cases = [(d, k, n) for d, k, n in cases if n <= 33 or (n == 1024 and k == 2048)]
    return [_case(*c) for c in cases]


@pytest.fixture(autouse=True)
def _seed(request):
    # A different seed per case: each case draws fresh inputs, reproducibly.
    torch.manual_seed(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture
def kernel_only(monkeypatch):
    """Fails the test if the call falls back to the unfused reference instead of running the kernel."""

    def _no_fallback(*args, **kwargs):
        raise AssertionError("took the reference path where the kernel should run")

    monkeypatch.setattr(sg, "shared_expert_gate_reference", _no_fallback)


def _inputs(n: int, k: int, dtype: torch.dtype, lead: tuple[int, ...] | None = None):
    shape = (*(lead if lead is not None else (n,)), k)
    x = torch.randn(shape, dtype=dtype, device=DEVICE)
    # Scaled so x . w is O(1) and the sigmoid is not saturated: every bit of the gate matters.
    weight = torch.randn(1, k, dtype=dtype, device=DEVICE) / k**0.5
    out = torch.randn(shape, dtype=dtype, device=DEVICE)
    return x, weight, out


def _fp64_reference(x: torch.Tensor, weight: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    w = weight.reshape(-1).double()
    return torch.sigmoid((x.double() * w).sum(-1, keepdim=True)) * out.double()


def _assert_matches(y: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, out: torch.Tensor) -> None:
    assert y.dtype == out.dtype and y.shape == out.shape
    torch.testing.assert_close(
        y.double(), _fp64_reference(x, weight, out), equal_nan=True, **TOLERANCES[out.dtype]
    )


@pytest.mark.parametrize("dtype,k,n", _grid())
def test_matches_reference(dtype, k, n, kernel_only):
    x, weight, out = _inputs(n, k, dtype)
    out_before = out.clone()
    y = fused_shared_expert_gate(x, weight, out)
    _assert_matches(y, x, weight, out)
    assert torch.equal(out, out_before), "the out-of-place form must not modify out"


@pytest.mark.parametrize("dtype,k,n", [_case(torch.bfloat16, 2048, 33), _case(torch.float16, 4096, 7)])
def test_inplace_writes_into_out(dtype, k, n, kernel_only):
    x, weight, out = _inputs(n, k, dtype)
    expected = _fp64_reference(x, weight, out)
    y = fused_shared_expert_gate(x, weight, out, inplace=True)
    assert y.data_ptr() == out.data_ptr()
    torch.testing.assert_close(out.double(), expected, **TOLERANCES[dtype])


@pytest.mark.parametrize("dtype,k,n", [_case(torch.bfloat16, 2048, 33), _case(torch.float32, 3584, 7)])
def test_writes_every_element_and_nothing_else(dtype, k, n):
    x, weight, out = _inputs(n, k, dtype)
    # Poison a wider buffer and write into a row-strided view of it: every element of the view must
    # be written, and the columns past K must keep the poison.
    poisoned = torch.full((n, k + 64), float("nan"), dtype=dtype, device=DEVICE)
    y = poisoned[:, :k]
    sg._gate_into(x, weight, out, y)
    assert not torch.isnan(y).any(), "some output elements were never written"
    assert torch.isnan(poisoned[:, k:]).all(), "the kernel wrote past the end of a row"
    _assert_matches(y, x, weight, out)


def test_weight_as_vector(kernel_only):
    x, weight, out = _inputs(33, 2048, torch.bfloat16)
    _assert_matches(fused_shared_expert_gate(x, weight.reshape(-1), out), x, weight, out)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_zero_tokens_returns_empty(dtype):
    x, weight, out = _inputs(0, 2048, dtype)
    y = fused_shared_expert_gate(x, weight, out)
    assert y.shape == (0, 2048) and y.dtype == dtype
    assert fused_shared_expert_gate(x, weight, out, inplace=True).shape == (0, 2048)


def test_3d_input_runs_the_kernel(kernel_only):
    x, weight, out = _inputs(0, 2048, torch.bfloat16, lead=(3, 11))
    y = fused_shared_expert_gate(x, weight, out)
    assert y.shape == (3, 11, 2048)
    _assert_matches(y, x, weight, out)


def test_3d_input_that_cannot_be_flattened_falls_back():
    x, weight, out = _inputs(0, 1024, torch.float16, lead=(5, 4))
    x = x.transpose(0, 1)  # [4, 5, K] whose leading dims cannot be viewed as one
    out = out.transpose(0, 1)
    assert sg._as_rows(x) is None
    _assert_matches(fused_shared_expert_gate(x, weight, out), x, weight, out)


def test_sliced_rows_run_the_kernel(kernel_only):
    k, n = 2048, 33
    xbuf = torch.randn(n, 2 * k, dtype=torch.bfloat16, device=DEVICE)
    obuf = torch.randn(n, 3 * k, dtype=torch.bfloat16, device=DEVICE)
    x, out = xbuf[:, :k], obuf[:, k : 2 * k]
    weight = torch.randn(1, k, dtype=torch.bfloat16, device=DEVICE) / k**0.5
    assert x.stride(0) == 2 * k and out.stride(0) == 3 * k
    _assert_matches(fused_shared_expert_gate(x, weight, out), x, weight, out)


def test_non_unit_inner_stride_takes_the_reference_path():
    k, n = 1024, 7
    x = torch.randn(n, 2 * k, dtype=torch.bfloat16, device=DEVICE)[:, ::2]
    out = torch.randn(n, k, dtype=torch.bfloat16, device=DEVICE)
    weight = torch.randn(1, k, dtype=torch.bfloat16, device=DEVICE) / k**0.5
    assert not sg._kernel_can_take(x, weight, out)
    _assert_matches(fused_shared_expert_gate(x, weight, out), x, weight, out)


def test_mixed_dtypes_take_the_reference_path():
    x, weight, _ = _inputs(7, 1024, torch.bfloat16)
    out = torch.randn(7, 1024, dtype=torch.float32, device=DEVICE)
    assert not sg._kernel_can_take(x, weight, out)
    y = fused_shared_expert_gate(x, weight, out)
    assert y.dtype == torch.float32
    torch.testing.assert_close(y, sg.shared_expert_gate_reference(x, weight, out))


def test_nan_and_inf_propagate_like_the_reference(kernel_only):
    k, n = 2048, 4
    x, weight, out = _inputs(n, k, torch.bfloat16)
    weight = weight.abs()  # so +inf in x makes the dot +inf and the gate exactly 1
    x[0, 5] = float("nan")  # NaN in x: the whole row is NaN
    x[1, 9] = float("inf")  # +inf in x: gate 1, row equals out
    out[2, 17] = float("inf")  # inf in out: stays inf (gate > 0)
    out[3, 3] = float("nan")  # NaN in out: that element only
    y = fused_shared_expert_gate(x, weight, out)
    assert torch.isnan(y[0]).all()
    assert torch.equal(y[1], out[1])
    assert torch.isinf(y[2, 17]) and torch.isfinite(y[2, :17]).all()
    assert torch.isnan(y[3, 3]) and torch.isnan(y[3]).sum() == 1
    _assert_matches(y, x, weight, out)


def test_shape_mismatch_raises_a_clear_error():
    x, weight, out = _inputs(7, 1024, torch.bfloat16)
    with pytest.raises(ValueError, match="same shape"):
        fused_shared_expert_gate(x, weight, out[:5])
    with pytest.raises(ValueError, match=r"must be \[1, 1024\] or \[1024\]"):
        fused_shared_expert_gate(x, weight[:, :512], out)


class _QuantMethodOther:
    pass


def test_use_fused_gate_accepts_only_plain_gates(monkeypatch):
    k = 1024
    x = torch.randn(3, k, dtype=torch.bfloat16, device=DEVICE)
    gate = torch.nn.Linear(k, 1, bias=False, dtype=torch.bfloat16, device=DEVICE)
    assert use_fused_shared_expert_gate(gate, x)
    assert not use_fused_shared_expert_gate(gate, x.float()), "weight and x dtypes differ"
    assert not use_fused_shared_expert_gate(torch.nn.Linear(k, 1, dtype=torch.bfloat16, device=DEVICE), x)
    assert not use_fused_shared_expert_gate(torch.nn.Linear(k, 2, bias=False, device=DEVICE).bfloat16(), x)
    assert not use_fused_shared_expert_gate(torch.nn.Identity(), x), "no weight"
    int_gate = torch.nn.Module()
    int_gate.weight = torch.zeros(1, k, dtype=torch.int8, device=DEVICE)
    assert not use_fused_shared_expert_gate(int_gate, x), "a quantised weight"
    quantised = torch.nn.Linear(k, 1, bias=False, dtype=torch.bfloat16, device=DEVICE)
    quantised.quant_method = _QuantMethodOther()
    assert not use_fused_shared_expert_gate(quantised, x), "a quant method other than unquantised"
    monkeypatch.setattr(sg, "FUSED_SHARED_EXPERT_GATE_ENABLED", False)
    assert not use_fused_shared_expert_gate(gate, x), "the baseline arm of the A/B switch"
    monkeypatch.setattr(sg, "FUSED_SHARED_EXPERT_GATE_ENABLED", True)
    if not ON_GPU:
        monkeypatch.setattr(sg, "_TRITON_INTERPRET", False)
        assert not use_fused_shared_expert_gate(gate, x), "CPU tensors without the interpreter"


def test_env_switch_is_read_at_import():
    module_dir = Path(sg.__file__).parent
    code = f"import sys; sys.path.insert(0, {str(module_dir)!r}); import {sg.__name__} as m; "
    code += "print(m.FUSED_SHARED_EXPERT_GATE_ENABLED)"
    for value, expected in (("0", "False"), ("1", "True")):
        env = {**os.environ, "VLLM_FUSED_SHARED_EXPERT_GATE": value}
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert done.stdout.strip().splitlines()[-1] == expected


def _call_site(gate: torch.nn.Linear, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    # The form the patch engine writes at each vLLM call site.
    return (
        fused_shared_expert_gate(x, gate.weight, out)
        if use_fused_shared_expert_gate(gate, x)
        else torch.sigmoid(gate(x)) * out
    )


@pytest.mark.parametrize("inplace", [False, True], ids=["out-of-place", "inplace"])
def test_compile_fullgraph_has_no_graph_break(inplace, kernel_only):
    torch._dynamo.reset()
    k, n = 2048, 33
    gate = torch.nn.Linear(k, 1, bias=False, dtype=torch.bfloat16, device=DEVICE)
    x, _, out = _inputs(n, k, torch.bfloat16)

    def site(x, out):
        if inplace:
            out = out.clone()
            fused_shared_expert_gate(x, gate.weight, out, inplace=True)
            return out
        return _call_site(gate, x, out)

    # Inductor on the GPU; on the CPU the graph is checked without generating C++.
    compiled = torch.compile(site, fullgraph=True, backend="inductor" if ON_GPU else "aot_eager")
    with torch.no_grad():
        y = compiled(x, out)
    _assert_matches(y, x, gate.weight.detach(), out)


@pytest.mark.skipif(not ON_GPU, reason="CUDA-graph capture needs a GPU")
@pytest.mark.parametrize("n", [1, 33, 1024])
def test_cuda_graph_replay(n, kernel_only):
    k = 2048
    x, weight, out = _inputs(n, k, torch.bfloat16)
    y = fused_shared_expert_gate(x, weight, out)  # compile outside capture
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        y = fused_shared_expert_gate(x, weight, out)
    for _ in range(2):
        # Fresh inputs copied into the captured buffers: the replay must compute on them.
        x.copy_(torch.randn_like(x))
        out.copy_(torch.randn_like(out))
        y.fill_(float("nan"))
        graph.replay()
        torch.cuda.synchronize()
        _assert_matches(y, x, weight, out)
