"""Runs PR-shaped kernel files on CPU tensors under Triton's interpreter and prints their error per case.

Usage: TRITON_INTERPRET=1 python pr_kernel_check.py < REQUEST.json
REQUEST: {"NAME": {"path": KERNEL.py, "inline": false, "cases": [CASE, ...]}, ...}; the answer is
{"NAME": {CASE: {"maxAbsErr", "shape", "contiguous"}}}. A CASE is `N,K,dtype[,layout]`, layout one of rows
(default), sliced (x[:, :K] of a 2K-wide buffer), strided (x[:, ::2]) or 3d. A file is imported with
`vllm.triton_utils` stood in by Triton itself (what vLLM's module re-exports); an inline block (meant to sit
inside qwen2_moe.py) runs in that file's namespace. One process for all: torch and Triton load once.
"""

import importlib.util
import json
import sys
import types
from pathlib import Path

import torch
import torch.nn.functional as F
import triton
import triton.language as tl

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def load(name: str, path: str, inline: bool):
    if inline:
        namespace = {"torch": torch, "F": F, "tl": tl, "triton": triton, "__name__": f"pr_kernel_{name}"}
        # @triton.jit reads the kernel's source, so the block must come from a real file
        code = compile(Path(path).read_text(), path, "exec")
        exec(code, namespace)  # noqa: S102 (a fixture file of this repository)
        return namespace["fused_shared_expert_gate"]
    vllm = types.ModuleType("vllm")
    utils = types.ModuleType("vllm.triton_utils")
    utils.tl, utils.triton = tl, triton
    vllm.triton_utils = utils
    sys.modules.update({"vllm": vllm, "vllm.triton_utils": utils})
    spec = importlib.util.spec_from_file_location(f"pr_kernel_{name}".replace("-", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.fused_shared_expert_gate


def inputs(n: int, k: int, dtype: torch.dtype, layout: str):
    g = torch.Generator().manual_seed(n * 7919 + k)
    weight = (torch.randn(1, k, generator=g) / k**0.5).to(dtype)
    if layout == "sliced":
        x = torch.randn(n, 2 * k, generator=g).to(dtype)[:, :k]
    elif layout == "strided":
        x = torch.randn(n, 2 * k, generator=g).to(dtype)[:, ::2]
    elif layout == "3d":
        x = torch.randn(2, n, k, generator=g).to(dtype)
    else:
        x = torch.randn(n, k, generator=g).to(dtype)
    out = torch.randn(x.shape, generator=g).to(dtype)
    return x, weight, out


def main() -> int:
    request = json.load(sys.stdin)
    answer = {}
    for name, job in request.items():
        fn = load(name, job["path"], job.get("inline", False))
        results = answer[name] = {}
        for case in job["cases"]:
            n, k, dtype, *rest = case.split(",")
            layout = rest[0] if rest else "rows"
            x, weight, out = inputs(int(n), int(k), DTYPES[dtype], layout)
            ref = torch.sigmoid(x.double() @ weight.double().reshape(-1, 1)) * out.double()
            y = fn(x, weight, out)
            results[case] = {
                "maxAbsErr": (y.double() - ref).abs().max().item(),
                "shape": list(y.shape),
                "contiguous": y.is_contiguous(),
            }
    json.dump(answer, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
