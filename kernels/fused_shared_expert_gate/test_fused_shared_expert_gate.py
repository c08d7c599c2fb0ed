"""The bundle's own kernel beyond its public signature: which path a call takes, in-place calls, the row
writes of its launcher, the call-site guard, the A/B switch and torch.compile. Results against the reference
for any implementation are test_conformance.py's.

Runs on CUDA/ROCm GPUs and on the CPU under Triton's interpreter (TRITON_INTERPRET=1).
"""

from __future__ import annotations

import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
try:
    from reference import TOLERANCES, assert_matches, fp64_reference, random_inputs
except ImportError:  # copied into a vLLM tree, where the reference sits beside it under a longer name
    from shared_expert_gate_reference import TOLERANCES, assert_matches, fp64_reference, random_inputs

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


def _case(dtype: torch.dtype, k: int, n: int):
    return pytest.param(dtype, k, n, id=f"{str(dtype).removeprefix('torch.')}-K{k}-N{n}")


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
    return random_inputs(n, k, dtype, DEVICE, lead)


@pytest.mark.parametrize(
    "dtype,k,n",
    [_case(torch.bfloat16, 2048, 33), _case(torch.float16, 1024, 7), _case(torch.float32, 3584, 7)],
)
def test_rows_take_the_kernel(dtype, k, n, kernel_only):
    x, weight, out = _inputs(n, k, dtype)
    assert_matches(fused_shared_expert_gate(x, weight, out), x, weight, out)


@pytest.mark.parametrize("layout", ["sliced-rows", "3d", "weight-vector"])
def test_strided_rows_3d_and_vector_weights_take_the_kernel(layout, kernel_only):
    k, n = 2048, 33
    x, weight, out = _inputs(n, k, torch.bfloat16)
    if layout == "sliced-rows":
        x = torch.randn(n, 2 * k, dtype=torch.bfloat16, device=DEVICE)[:, :k]
    elif layout == "3d":
        x, out = x.reshape(3, 11, k), out.reshape(3, 11, k)
    y = fused_shared_expert_gate(x, weight.reshape(-1) if layout == "weight-vector" else weight, out)
    assert_matches(y, x, weight, out)


@pytest.mark.parametrize("dtype,k,n", [_case(torch.bfloat16, 2048, 33), _case(torch.float16, 4096, 7)])
def test_inplace_writes_into_out(dtype, k, n, kernel_only):
    x, weight, out = _inputs(n, k, dtype)
    expected = fp64_reference(x, weight, out)
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
    assert_matches(y, x, weight, out)


def test_3d_input_that_cannot_be_flattened_falls_back():
    x, weight, out = _inputs(0, 1024, torch.float16, lead=(5, 4))
    x = x.transpose(0, 1)  # [4, 5, K] whose leading dims cannot be viewed as one
    out = out.transpose(0, 1)
    assert sg._as_rows(x) is None
    assert_matches(fused_shared_expert_gate(x, weight, out), x, weight, out)


def test_non_unit_inner_stride_takes_the_reference_path():
    k, n = 1024, 7
    x = torch.randn(n, 2 * k, dtype=torch.bfloat16, device=DEVICE)[:, ::2]
    out = torch.randn(n, k, dtype=torch.bfloat16, device=DEVICE)
    weight = torch.randn(1, k, dtype=torch.bfloat16, device=DEVICE) / k**0.5
    assert not sg._kernel_can_take(x, weight, out)
    assert_matches(fused_shared_expert_gate(x, weight, out), x, weight, out)


def test_mixed_dtypes_take_the_reference_path():
    x, weight, _ = _inputs(7, 1024, torch.bfloat16)
    out = torch.randn(7, 1024, dtype=torch.float32, device=DEVICE)
    assert not sg._kernel_can_take(x, weight, out)
    y = fused_shared_expert_gate(x, weight, out)
    assert y.dtype == torch.float32
    torch.testing.assert_close(y, sg.shared_expert_gate_reference(x, weight, out))


def test_shape_mismatch_message_names_the_shapes():
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
    assert_matches(y, x, gate.weight.detach(), out)
