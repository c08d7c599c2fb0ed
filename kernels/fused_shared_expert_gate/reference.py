"""The op's reference, shared by the conformance suite, the bundle's tests, the microbench and the e2e driver.

It imports no implementation: the suite loads the one under test by spec, and importing the bundle's kernel
here would register its custom op in the same process.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["TOLERANCES", "assert_matches", "fp64_reference", "random_inputs", "unfused_gate"]

# Against the fp64 reference: the result is rounded once to the output dtype.
TOLERANCES = {
    torch.bfloat16: {"atol": 1e-2, "rtol": 1.6e-2},
    torch.float16: {"atol": 1e-3, "rtol": 1e-3},
    torch.float32: {"atol": 1e-5, "rtol": 1e-5},
}


def fp64_reference(x: torch.Tensor, weight: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``sigmoid(x . w) * out`` in float64; ``weight`` [1, K] or [K], ``x`` and ``out`` [..., K]."""
    w = weight.reshape(-1).double()
    return torch.sigmoid((x.double() * w).sum(-1, keepdim=True)) * out.double()


def unfused_gate(x: torch.Tensor, weight: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """vLLM's unfused expression ``sigmoid(linear(x, w)) * out`` in ``out``'s dtype: the eager baseline."""
    return (torch.sigmoid(F.linear(x, weight.reshape(1, -1))) * out).to(out.dtype)


def assert_matches(y: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, out: torch.Tensor) -> None:
    """y has out's shape and dtype and matches the fp64 reference within the dtype's tolerance."""
    assert y.dtype == out.dtype, f"result dtype {y.dtype}, expected out's {out.dtype}"
    assert y.shape == out.shape, f"result shape {tuple(y.shape)}, expected out's {tuple(out.shape)}"
    torch.testing.assert_close(
        y.double(), fp64_reference(x, weight, out), equal_nan=True, **TOLERANCES[out.dtype]
    )


def random_inputs(
    n: int, k: int, dtype: torch.dtype, device: str, lead: tuple[int, ...] | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fresh x, weight [1, K] and out for n tokens (or a `lead` batch shape), from the current seed."""
    shape = (*(lead if lead is not None else (n,)), k)
    x = torch.randn(shape, dtype=dtype, device=device)
    # Scaled so x . w is O(1) and the sigmoid is not saturated: every bit of the gate matters.
    weight = torch.randn(1, k, dtype=dtype, device=device) / k**0.5
    out = torch.randn(shape, dtype=dtype, device=device)
    return x, weight, out
