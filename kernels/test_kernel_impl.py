"""load_impl: a kernel file, a kernel defined inline in a vLLM model file, and closures that need vLLM."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from kernel_impl import ImplError, load_impl

RUNS_KERNELS = torch.cuda.is_available() or os.environ.get("TRITON_INTERPRET") == "1"
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"

KERNEL = """
@triton.jit
def _gate_kernel(x_ptr, w_ptr, out_ptr, y_ptr, K, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK)
    mask = cols < K
    x = tl.load(x_ptr + row * K + cols, mask=mask, other=0.0).to(tl.float32)
    w = tl.load(w_ptr + cols, mask=mask, other=0.0).to(tl.float32)
    o = tl.load(out_ptr + row * K + cols, mask=mask, other=0.0).to(tl.float32)
    gate = tl.sigmoid(tl.sum(x * w, axis=0))
    tl.store(y_ptr + row * K + cols, (o * gate).to(y_ptr.dtype.element_ty), mask=mask)


def fused_shared_expert_gate(x: torch.Tensor, weight: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    y = torch.empty_like(out)
    _gate_kernel[(x.shape[0],)](x, weight, out, y, x.shape[-1], BLOCK=triton.next_power_of_2(x.shape[-1]))
    return y
"""

FILE_MODULE = "import torch\nimport triton\nimport triton.language as tl\n" + KERNEL

# The shape of a widely shared patch: kernel and wrapper inline in qwen2_moe.py, beside vLLM imports that
# the model needs and the kernel does not.
INLINE_MODEL = (
    textwrap.dedent(
        '''
        """Inference-only Qwen2MoE model."""
        from __future__ import annotations

        import torch
        from torch import nn

        from vllm.config import VllmConfig
        from vllm.logger import init_logger
        from vllm.model_executor.layers.linear import ReplicatedLinear
        from vllm.triton_utils import tl, triton

        logger = init_logger(__name__)
        '''
    )
    + KERNEL
    + textwrap.dedent(
        """

        class Qwen2MoeMLP(nn.Module):
            def __init__(self, config: VllmConfig, hidden_size: int):
                super().__init__()
                self.expert_gate = ReplicatedLinear(hidden_size, 1, bias=False)

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                out = x
                out = fused_shared_expert_gate(x, self.expert_gate.weight, out)
                return out
        """
    )
)

# The same, with a wrapper that asks vLLM's platform.
NEEDS_PLATFORM = INLINE_MODEL.replace(
    "from vllm.logger import init_logger",
    "from vllm.logger import init_logger\nfrom vllm.platforms import current_platform",
).replace(
    "    y = torch.empty_like(out)\n",
    "    assert current_platform.is_cuda_alike()\n    y = torch.empty_like(out)\n",
)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _check_computes(fn) -> None:
    if not RUNS_KERNELS:
        return
    x = torch.randn(5, 48, device=DEVICE)
    weight = torch.randn(1, 48, device=DEVICE) / 48**0.5
    out = torch.randn(5, 48, device=DEVICE)
    torch.testing.assert_close(fn(x, weight, out), torch.sigmoid(x @ weight.T) * out)


def test_a_kernel_file_loads_standalone_and_computes(tmp_path):
    path = _write(tmp_path, "gate_file.py", FILE_MODULE)
    fn = load_impl(f"{path}::fused_shared_expert_gate")
    assert fn.__name__ == "fused_shared_expert_gate"
    assert Path(fn.__code__.co_filename) != path, "built standalone: the file's dir is not on sys.path"
    _check_computes(fn)


def test_a_file_on_sys_path_is_imported_by_its_name(tmp_path, monkeypatch):
    path = _write(tmp_path, "gate_on_path.py", FILE_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    fn = load_impl(f"{path}::fused_shared_expert_gate")
    assert fn.__module__ == "gate_on_path" and sys.modules["gate_on_path"].__file__ == str(path)


def test_an_inline_definition_in_a_model_file_loads_without_vllm(tmp_path):
    path = _write(tmp_path, "qwen2_moe.py", INLINE_MODEL)
    fn = load_impl(f"{path}::fused_shared_expert_gate")
    # Built at its own lines: a traceback names the line of qwen2_moe.py.
    lines = INLINE_MODEL.splitlines()
    line = next(i for i, text in enumerate(lines, 1) if text.startswith("def fused_shared_expert_gate("))
    assert fn.__code__.co_firstlineno == line
    module = sys.modules[fn.__module__]
    assert not hasattr(module, "Qwen2MoeMLP") and not hasattr(module, "logger"), "only the op's closure"
    _check_computes(fn)


def test_a_closure_that_needs_vllm_is_a_clear_error(tmp_path):
    path = _write(tmp_path, "qwen2_moe.py", NEEDS_PLATFORM)
    with pytest.raises(
        ImplError, match=r"needs vLLM installed: imports vllm\.platforms \(current_platform\)"
    ):
        load_impl(f"{path}::fused_shared_expert_gate")


def test_with_another_vllm_installed_its_imports_serve_the_closure(tmp_path, monkeypatch):
    # vLLM importable from elsewhere than the file's tree (a worktree of another commit on one install).
    installed = tmp_path / "site" / "vllm"
    installed.mkdir(parents=True)
    (installed / "__init__.py").write_text("")
    (installed / "platforms.py").write_text(
        "class _Platform:\n    def is_cuda_alike(self):\n        return True\n\n\n"
        "current_platform = _Platform()\n"
    )
    monkeypatch.syspath_prepend(str(installed.parent))
    for name in [m for m in sys.modules if m == "vllm" or m.startswith("vllm.")]:
        monkeypatch.delitem(sys.modules, name)
    try:
        fn = load_impl(f"{_write(tmp_path, 'qwen2_moe.py', NEEDS_PLATFORM)}::fused_shared_expert_gate")
        assert sys.modules[fn.__module__].current_platform is sys.modules["vllm.platforms"].current_platform
        _check_computes(fn)
    finally:
        for name in [m for m in sys.modules if m == "vllm" or m.startswith("vllm.")]:
            del sys.modules[name]


def test_an_op_registered_through_vllm_is_a_clear_error(tmp_path):
    text = (
        "import torch\nfrom vllm.utils.torch_utils import direct_register_custom_op\n\n"
        "def _gate(x: torch.Tensor, weight: torch.Tensor, out: torch.Tensor) -> torch.Tensor:\n"
        "    return torch.sigmoid(x @ weight.T) * out\n\n"
        'direct_register_custom_op("kernel_impl_test_gate", _gate)\n\n'
        "def fused_shared_expert_gate(x, weight, out):\n"
        "    return torch.ops.vllm.kernel_impl_test_gate(x, weight, out)\n"
    )
    path = _write(tmp_path, "registered.py", text)
    with pytest.raises(ImplError, match=r"imports vllm\.utils\.torch_utils \(direct_register_custom_op\)"):
        load_impl(f"{path}::fused_shared_expert_gate")


def test_a_guarded_vllm_import_is_kept_as_written(tmp_path):
    text = (
        "import torch\ntry:\n    from vllm.platforms import current_platform\nexcept ImportError:\n"
        "    current_platform = None\n\n"
        "def fused_shared_expert_gate(x, weight, out):\n"
        "    assert current_platform is None\n"
        "    return torch.sigmoid(x @ weight.T) * out\n"
    )
    fn = load_impl(f"{_write(tmp_path, 'guarded.py', text)}::fused_shared_expert_gate")
    x, weight, out = torch.randn(2, 8), torch.randn(1, 8), torch.randn(2, 8)
    torch.testing.assert_close(fn(x, weight, out), torch.sigmoid(x @ weight.T) * out)


def test_two_files_registering_one_op_name_are_refused(tmp_path):
    text = (
        "import torch\n\n"
        "def _gate(x: torch.Tensor, weight: torch.Tensor, out: torch.Tensor) -> torch.Tensor:\n"
        "    return torch.sigmoid(x @ weight.T) * out\n\n"
        "def _register():\n"
        "    if not hasattr(torch.ops.kernel_impl_test, 'gate'):\n"
        "        torch.library.custom_op('kernel_impl_test::gate', _gate, mutates_args=())\n"
        "    return torch.ops.kernel_impl_test.gate.default\n\n"
        "_op = _register()\n\n"
        "def fused_shared_expert_gate(x, weight, out):\n"
        "    return _op(x, weight, out)\n"
    )
    first = _write(tmp_path, "first.py", text)
    load_impl(f"{first}::fused_shared_expert_gate")
    second = _write(tmp_path, "second.py", text + "\n# another version\n")
    with pytest.raises(ImplError, match="both register the custom op kernel_impl_test.gate.default"):
        load_impl(f"{second}::fused_shared_expert_gate")


@pytest.mark.parametrize(
    "spec,message",
    [
        ("kernel.py", "expected PATH::SYMBOL"),
        ("relative/kernel.py::op", "PATH must be absolute"),
        ("/nonexistent/kernel.py::op", "is not a .py file"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec, message):
    with pytest.raises(ImplError, match=message):
        load_impl(spec)


def test_a_missing_symbol_is_named(tmp_path):
    path = _write(tmp_path, "other.py", FILE_MODULE)
    with pytest.raises(ImplError, match="no top-level definition of fused_gate"):
        load_impl(f"{path}::fused_gate")


def test_definitions_that_fail_to_run_are_named(tmp_path):
    text = "import torch\n\n_SCALE = 1 / 0\n\n\ndef gate(x, weight, out):\n    return out * _SCALE\n"
    with pytest.raises(ImplError, match="running the op's definitions failed: ZeroDivisionError"):
        load_impl(f"{_write(tmp_path, 'broken.py', text)}::gate")
