"""Conformance of an implementation of ``fused_shared_expert_gate(x, weight, out) -> y``, through that call.

The implementation is ``$VLLM_KERNEL_CI_IMPL`` (``PATH::SYMBOL``, loaded by kernels/kernel_impl.py); unset,
the bundle's own shared_expert_gate.py. Every case draws fresh random inputs (a seed per case) and compares
with the fp64 reference of reference.py. Runs on CUDA/ROCm GPUs (full grid) and on the CPU under Triton's
interpreter (TRITON_INTERPRET=1, a reduced grid that still covers every case kind). Cases that can crash the
CUDA context run in their own process (@isolated).
"""

from __future__ import annotations

import os
import sys
import zlib
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).resolve().parent
sys.path[:0] = [p for p in (str(HERE), str(HERE.parent)) if p not in sys.path]

from reference import assert_matches, random_inputs  # noqa: E402

from isolated import isolated  # noqa: E402
from kernel_impl import IMPL_ENV, ImplError, load_impl  # noqa: E402

SPEC = os.environ.get(IMPL_ENV) or f"{HERE / 'shared_expert_gate.py'}::fused_shared_expert_gate"

ON_GPU = torch.cuda.is_available()
INTERPRETED = os.environ.get("TRITON_INTERPRET", "0") == "1"
DEVICE = "cuda" if ON_GPU else "cpu"

if not ON_GPU and not INTERPRETED:
    pytest.skip("needs a CUDA/ROCm GPU or TRITON_INTERPRET=1 on the CPU", allow_module_level=True)

DTYPES = [torch.bfloat16, torch.float16]
HIDDEN_SIZES = [1024, 2048]
NUM_TOKENS = [1, 7, 33, 1024, 7177, 8192]
ODD_HIDDEN_SIZES = [2880, 3584, 4096, 7168, 16384]

# More than 2**31 elements: rows past 2**20 of K = 2048 need 64-bit offsets.
LARGE_K, LARGE_N = 2048, 2**20 + 64


def _case(dtype: torch.dtype, k: int, n: int):
    return pytest.param(dtype, k, n, id=f"{str(dtype).removeprefix('torch.')}-K{k}-N{n}")


def _grid() -> list:
    """The original PR's 24 cases plus fp32 and non-power-of-two K; the CPU interpreter gets a subset."""
    cases = [(d, k, n) for d in DTYPES for k in HIDDEN_SIZES for n in NUM_TOKENS]
    cases += [(torch.float32, 2048, n) for n in NUM_TOKENS]
    cases += [(torch.bfloat16, k, n) for k in ODD_HIDDEN_SIZES for n in (1, 33, 1024, 8192)]
    if not ON_GPU:
        # The interpreter runs one program per row in Python: few rows, every dtype, every K kind.
        cases = [(d, k, n) for d, k, n in cases if n in (1, 33) and k in (1024, 2048, 2880)]
        cases.append((torch.bfloat16, 16384, 1))  # wider than one register slice
        cases.append((torch.bfloat16, 1024, 129))  # more rows than one 64-row block
    return [_case(*c) for c in cases]


@pytest.fixture(scope="module")
def gate():
    try:
        return load_impl(SPEC)
    except ImplError as error:
        pytest.fail(f"cannot load the implementation {SPEC}: {error}", pytrace=False)


@pytest.fixture(autouse=True)
def _seed(request):
    # A different seed per case: each case draws fresh inputs, reproducibly.
    torch.manual_seed(zlib.crc32(request.node.nodeid.encode()))


def _inputs(n: int, k: int, dtype: torch.dtype, lead: tuple[int, ...] | None = None):
    return random_inputs(n, k, dtype, DEVICE, lead)


def _call(gate, x, weight, out) -> torch.Tensor:
    """Calls through the public signature and checks that the inputs were left as they were."""
    before = x.clone(), weight.clone(), out.clone()
    y = gate(x, weight, out)
    for name, tensor, kept in zip(("x", "weight", "out"), (x, weight, out), before, strict=True):
        torch.testing.assert_close(tensor, kept, rtol=0, atol=0, equal_nan=True, msg=f"{name} was modified")
    return y


@pytest.mark.parametrize("dtype,k,n", _grid())
def test_matches_reference(gate, dtype, k, n):
    x, weight, out = _inputs(n, k, dtype)
    assert_matches(_call(gate, x, weight, out), x, weight, out)


# What each case passes as the weight: vLLM's call sites pass a Linear's weight, [1, K]; a 1-D weight is
# beyond that contract unless some call site passes one (vllm-kernel-ci then reports the case as advisory).
@pytest.mark.parametrize(
    "weight_shape",
    [
        pytest.param("1xK", marks=pytest.mark.call_form(weight="[1, K]")),
        pytest.param("K", marks=pytest.mark.call_form(weight="[K]")),
    ],
)
def test_weight_as_row_or_vector(gate, weight_shape):
    x, weight, out = _inputs(33, 2048, torch.bfloat16)
    w = weight if weight_shape == "1xK" else weight.reshape(-1)
    assert_matches(_call(gate, x, w, out), x, weight, out)


def test_sliced_rows(gate):
    # x[:, :K] of a 2K-wide buffer and out[:, K:2K] of a 3K-wide one: row strides differ from K.
    k, n = 2048, 33
    x = torch.randn(n, 2 * k, dtype=torch.bfloat16, device=DEVICE)[:, :k]
    out = torch.randn(n, 3 * k, dtype=torch.bfloat16, device=DEVICE)[:, k : 2 * k]
    weight = torch.randn(1, k, dtype=torch.bfloat16, device=DEVICE) / k**0.5
    assert x.stride(0) == 2 * k and out.stride(0) == 3 * k
    assert_matches(_call(gate, x, weight, out), x, weight, out)


@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
def test_3d_input(gate, layout):
    x, weight, out = _inputs(0, 1024, torch.bfloat16, lead=(5, 4))
    if layout == "transposed":  # [4, 5, K] whose leading dims cannot be viewed as one
        x, out = x.transpose(0, 1), out.transpose(0, 1)
    assert_matches(_call(gate, x, weight, out), x, weight, out)


def test_non_unit_inner_stride(gate):
    k, n = 1024, 7
    x = torch.randn(n, 2 * k, dtype=torch.bfloat16, device=DEVICE)[:, ::2]
    out = torch.randn(n, 2 * k, dtype=torch.bfloat16, device=DEVICE)[:, 1::2]
    weight = torch.randn(1, k, dtype=torch.bfloat16, device=DEVICE) / k**0.5
    assert_matches(_call(gate, x, weight, out), x, weight, out)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_zero_tokens(gate, dtype):
    x, weight, out = _inputs(0, 2048, dtype)
    y = _call(gate, x, weight, out)
    assert y.shape == (0, 2048) and y.dtype == dtype


def test_nan_and_inf_propagate(gate):
    k, n = 2048, 4
    x, weight, out = _inputs(n, k, torch.bfloat16)
    weight = weight.abs()  # so +inf in x makes the dot +inf and the gate exactly 1
    x[0, 5] = float("nan")  # NaN in x: the whole row is NaN
    x[1, 9] = float("inf")  # +inf in x: gate 1, row equals out
    out[2, 17] = float("inf")  # inf in out: stays inf (gate > 0)
    out[3, 3] = float("nan")  # NaN in out: that element only
    y = _call(gate, x, weight, out)
    assert torch.isnan(y[0]).all()
    assert torch.equal(y[1], out[1])
    assert torch.isinf(y[2, 17]) and torch.isfinite(y[2, :17]).all()
    assert torch.isnan(y[3, 3]) and torch.isnan(y[3]).sum() == 1
    assert_matches(y, x, weight, out)


@pytest.mark.parametrize("mismatch", ["out-rows", "weight-width"])
def test_shape_mismatch_raises(gate, mismatch):
    x, weight, out = _inputs(7, 1024, torch.bfloat16)
    if mismatch == "out-rows":
        out = out[:5]
    else:
        weight = weight[:, :512]
    with pytest.raises((ValueError, RuntimeError, AssertionError, IndexError)):
        gate(x, weight, out)
        if ON_GPU:
            torch.cuda.synchronize()


@pytest.mark.skipif(not ON_GPU, reason="CUDA-graph capture needs a GPU")
@pytest.mark.parametrize("n", [1, 33, 1024])
def test_cuda_graph_replay(gate, n):
    k = 2048
    x, weight, out = _inputs(n, k, torch.bfloat16)
    gate(x, weight, out)  # compile outside the capture
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        y = gate(x, weight, out)
    for _ in range(2):
        # Fresh inputs copied into the captured buffers: the replay must compute on them.
        x.copy_(torch.randn_like(x))
        out.copy_(torch.randn_like(out))
        y.fill_(float("nan"))
        graph.replay()
        torch.cuda.synchronize()
        assert_matches(y, x, weight, out)


@pytest.mark.skipif(not ON_GPU, reason="more than 2**31 elements: a GPU case")
@pytest.mark.parametrize("dtype,k,n", [_case(torch.bfloat16, LARGE_K, LARGE_N)])
@isolated()
def test_large_offset(gate, dtype, k, n, request):
    # x, out and y, plus room for the reference on a few rows.
    need = 3 * n * k * torch.empty((), dtype=dtype).element_size() + (1 << 30)
    free, _ = torch.cuda.mem_get_info()
    if free < need:
        pytest.skip(f"needs {need / 2**30:.1f} GiB free on the GPU, {free / 2**30:.1f} GiB free")
    x, weight, out = _inputs(n, k, dtype)
    y = gate(x, weight, out)
    torch.cuda.synchronize()
    # The last rows start past 2**31 elements: a 32-bit row offset wraps there.
    for rows in (slice(0, 64), slice(n - 256, n)):
        assert_matches(y[rows], x[rows], weight, out[rows])
