"""The rewriter on small trees written here: each form, operand order, drift, and byte-exact revert."""

from __future__ import annotations

import json
import py_compile
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "src" / "patch"))
import rewrite  # noqa: E402

MANIFEST = Path(__file__).parents[2] / "kernels" / "fused_shared_expert_gate" / "manifest.json"
RULE = json.loads(MANIFEST.read_text())["rewrite"]
IMPORT = RULE["imports"][0]
MODEL = "vllm/model_executor/models/toy_moe.py"

HEADER = '''"""A toy MoE model."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

'''


def tree(tmp_path: Path, body: str, header: str = HEADER, newline: str = "\n") -> Path:
    (tmp_path / "vllm/model_executor/models").mkdir(parents=True)
    path = tmp_path / MODEL
    path.write_bytes((header + body).replace("\n", newline).encode())
    return path


def run(tmp_path: Path, mode: str, rule: dict | None = None) -> dict:
    # the toy trees have no qwen2_moe.py: that requirement has a test of its own
    return rewrite.run({"root": str(tmp_path), "mode": mode, "rule": rule or dict(RULE, required=[])})


def mlp(expression: str, gate_arg: str = "x") -> str:
    return f"""class ToyMLP(nn.Module):
    def __init__(self, expert_gate=None):
        super().__init__()
        self.expert_gate = expert_gate

    def forward(self, {gate_arg}):
        out = {gate_arg}
        if self.expert_gate is not None:
            out = {expression}
        return out
"""


@pytest.mark.parametrize(
    ("expression", "form"),
    [
        ("F.sigmoid(self.expert_gate(x)[0]) * out", "sigmoid(gate(x)[0]) * out"),
        ("out * torch.sigmoid(self.expert_gate(x)[0])", "sigmoid(gate(x)[0]) * out (operands swapped)"),
        ("F.sigmoid(self.expert_gate(x)) * out", "sigmoid(gate(x)) * out"),
        ("F.sigmoid(\n                self.expert_gate(x)) * out", "sigmoid(gate(x)) * out"),
    ],
)
def test_each_form_applies_once_and_reverts_byte_for_byte(tmp_path: Path, expression: str, form: str):
    path = tree(tmp_path, mlp(expression))
    original = path.read_bytes()

    first = run(tmp_path, "apply")
    assert [(s["status"], s["symbol"], s["form"]) for s in first["sites"]] == [
        ("applied", "ToyMLP.forward", form)
    ]
    patched = path.read_text()
    assert f"{IMPORT}  # {RULE['marker']}\n" in patched
    assert "fused_shared_expert_gate(x, self.expert_gate.weight, out)" in patched
    assert f"else {expression})" in patched
    py_compile.compile(str(path), doraise=True)

    second = run(tmp_path, "apply")
    assert [s["status"] for s in second["sites"]] == ["already-applied"]
    assert second["written"] == []
    assert path.read_text() == patched

    run(tmp_path, "revert")
    assert path.read_bytes() == original


def test_import_goes_after_the_leading_imports_and_keeps_a_future_import_first(tmp_path: Path):
    path = tree(tmp_path, mlp("F.sigmoid(self.expert_gate(x)[0]) * out"))
    run(tmp_path, "apply")
    lines = path.read_text().splitlines()
    assert lines.index("from __future__ import annotations") < lines.index(f"{IMPORT}  # {RULE['marker']}")
    assert lines[lines.index("from torch import nn") + 1] == f"{IMPORT}  # {RULE['marker']}"


def test_crlf_file_keeps_its_line_endings_and_reverts(tmp_path: Path):
    path = tree(tmp_path, mlp("F.sigmoid(self.expert_gate(x)[0]) * out"), newline="\r\n")
    original = path.read_bytes()
    run(tmp_path, "apply")
    data = path.read_bytes()
    assert data.count(b"\n") == data.count(b"\r\n")
    run(tmp_path, "revert")
    assert path.read_bytes() == original


def test_inside_a_larger_expression_precedence_is_kept(tmp_path: Path):
    path = tree(tmp_path, mlp("F.sigmoid(self.expert_gate(x)[0]) * out + 1"))
    original = path.read_bytes()
    sites = run(tmp_path, "apply")["sites"]
    assert [s["status"] for s in sites] == ["applied"]
    assert "out = (fused_shared_expert_gate(" in path.read_text()
    assert "* out) + 1" in path.read_text()
    run(tmp_path, "revert")
    assert path.read_bytes() == original


@pytest.mark.parametrize(
    "expression",
    [
        "out.mul(F.sigmoid(self.expert_gate(x)[0]))",
        "F.sigmoid(self.expert_gate(x)[0].float()) * out",
        "F.sigmoid(self.expert_gate(self.norm(x))[0]) * out",
    ],
)
def test_unknown_form_is_unmatched_with_its_line_and_left_alone(tmp_path: Path, expression: str):
    path = tree(tmp_path, mlp(expression))
    original = path.read_bytes()
    result = run(tmp_path, "apply")
    line = HEADER.count("\n") + 9
    assert [(s["status"], s["line"], s["source"]) for s in result["sites"]] == [
        ("unmatched", line, f"out = {expression}")
    ]
    assert path.read_bytes() == original


def test_a_rewrite_changed_by_hand_is_unmatched_not_wrapped_again(tmp_path: Path):
    path = tree(tmp_path, mlp("F.sigmoid(self.expert_gate(x)[0]) * out"))
    run(tmp_path, "apply")
    edited = path.read_text().replace("use_fused_shared_expert_gate(self.expert_gate, x)", "True")
    path.write_text(edited)
    sites = run(tmp_path, "apply")["sites"]
    assert [(s["status"], s["reason"]) for s in sites] == [
        ("unmatched", "a rewrite of this site was changed by hand")
    ]
    assert path.read_text() == edited


def test_other_sigmoid_gates_are_not_sites(tmp_path: Path):
    body = """class Attention(nn.Module):
    def forward(self, x, gate):
        a = x * torch.sigmoid(gate)
        b = torch.sigmoid(self.residual_gate) * x
        c = F.sigmoid(self.gate_proj(x)) * x
        return a + b + c
"""
    path = tree(tmp_path, body)
    original = path.read_bytes()
    assert run(tmp_path, "apply")["sites"] == []
    assert path.read_bytes() == original


def test_a_gate_built_but_never_applied_in_a_known_form_is_unmatched(tmp_path: Path):
    body = """class Block(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.shared_expert_gate = torch.nn.Linear(hidden, 1, bias=False)

    def forward(self, x, out):
        g = self.shared_expert_gate(x)
        return torch.sigmoid(g) * out
"""
    tree(tmp_path, body)
    sites = run(tmp_path, "check")["sites"]
    assert [(s["status"], s["line"], s["symbol"]) for s in sites] == [
        ("unmatched", HEADER.count("\n") + 4, "Block.__init__")
    ]
    assert "self.shared_expert_gate" in sites[0]["reason"]


def test_a_gate_handed_to_a_reused_mlp_is_not_a_site(tmp_path: Path):
    body = """class Block(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.shared_expert_gate = ReplicatedLinear(hidden, 1, bias=False)
        self.shared_expert = Qwen2MoeMLP(expert_gate=self.shared_expert_gate)
"""
    tree(tmp_path, body)
    assert run(tmp_path, "check")["sites"] == []


def test_check_writes_nothing(tmp_path: Path):
    path = tree(tmp_path, mlp("F.sigmoid(self.expert_gate(x)[0]) * out"))
    original = path.read_bytes()
    result = run(tmp_path, "check")
    assert [s["status"] for s in result["sites"]] == ["applied"]
    assert result["written"] == []
    assert path.read_bytes() == original


def test_a_file_this_python_cannot_parse_is_reported(tmp_path: Path):
    tree(tmp_path, "def broken(:\n    return torch.sigmoid(self.expert_gate(x)) * out\n")
    sites = run(tmp_path, "apply")["sites"]
    assert [s["status"] for s in sites] == ["unmatched"]
    assert sites[0]["reason"].startswith(f"Python {rewrite.PY_VERSION} cannot parse it")


def test_models_reusing_a_patched_class_are_listed(tmp_path: Path):
    tree(tmp_path, mlp("F.sigmoid(self.expert_gate(x)[0]) * out"))
    models = tmp_path / "vllm/model_executor/models"
    (models / "next_moe.py").write_text("from .toy_moe import ToyMLP as NextMLP\n")
    (models / "other.py").write_text("from vllm.model_executor.models.toy_moe import ToyMLP\n")
    (models / "unrelated.py").write_text("from .toy_moe import something_else\n")
    assert run(tmp_path, "apply")["coveredModels"] == [
        "next_moe (ToyMLP as NextMLP from toy_moe)",
        "other (ToyMLP from toy_moe)",
    ]


def test_a_missing_required_file_is_reported(tmp_path: Path):
    tree(tmp_path, "")
    sites = run(tmp_path, "apply", RULE)["sites"]
    assert [(s["file"], s["status"]) for s in sites] == [
        ("vllm/model_executor/models/qwen2_moe.py", "missing-file")
    ]


OP = json.loads(MANIFEST.read_text())["op"]["name"]
KERNEL_FILE = "vllm/model_executor/layers/fused_moe/shared_expert_gate.py"


def scan(tmp_path: Path) -> dict:
    return rewrite.scan({"root": str(tmp_path), "mode": "scan", "op": OP})


def write(tmp_path: Path, rel: str, text: str) -> Path:
    path = tmp_path / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_scan_finds_the_pr_kernel_file_and_its_unconditional_call(tmp_path: Path):
    write(tmp_path, KERNEL_FILE, f"def {OP}(x, weight, out):\n    return out\n")
    model = tree(
        tmp_path,
        f"from vllm.model_executor.layers.fused_moe.shared_expert_gate import {OP}\n\n"
        + mlp(f"{OP}(x, self.expert_gate.weight, out)"),
    )
    before = model.read_bytes()
    result = scan(tmp_path)
    assert result["definitions"] == [
        {"file": KERNEL_FILE, "line": 1, "symbol": OP, "params": ["x", "weight", "out"]}
    ]
    assert result["sites"] == [
        {
            "file": MODEL,
            "line": 19,
            "status": "tree-native",
            "source": f"out = {OP}(x, self.expert_gate.weight, out)",
            "form": "call",
            "symbol": "ToyMLP.forward",
            # nothing in the file builds the module handed in as expert_gate: its shape is not told
            "args": [{"source": "x"}, {"source": "self.expert_gate.weight"}, {"source": "out"}],
        }
    ]
    assert model.read_bytes() == before


BLOCK = """

class ToyBlock(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.shared_expert_gate = ReplicatedLinear(config.hidden_size, {out}, bias=False)
        self.shared_expert = ToyMLP(expert_gate=self.shared_expert_gate)
        self.dense = ToyMLP()
"""


@pytest.mark.parametrize(("out", "shapes"), [("1", ["[1, K]"]), ("config.n", None)])
def test_scan_follows_the_weight_to_the_linear_that_builds_it(tmp_path: Path, out: str, shapes):
    # the module is a constructor parameter: the file's constructions hand it on from a ReplicatedLinear
    tree(tmp_path, mlp(f"{OP}(x, self.expert_gate.weight, out)") + BLOCK.format(out=out))
    (weight,) = [a for a in scan(tmp_path)["sites"][0]["args"] if a["source"] == "self.expert_gate.weight"]
    assert weight.get("shapes") == shapes
    assert ("origin" in weight) == (shapes is not None)


def test_scan_finds_an_inline_kernel_a_nested_one_and_calls_in_any_form(tmp_path: Path):
    body = f"""logger = object()


@triton.jit
def _kernel(x_ptr):
    pass


def {OP}(x, weight, out):
    return out


class Wrapper:
    def {OP}(self, x, weight, out):
        return {OP}(x, weight, out)


class ToyMLP(nn.Module):
    def forward(self, x):
        out = x
        a = {OP}(x, weight=self.expert_gate.weight, out=out)
        b = ops.{OP}(
            x, self.expert_gate.weight, out
        )
        c = ({OP}(x, self.expert_gate.weight, out) if use_it(self.expert_gate, x) else out)
        return a + b + c
"""
    tree(tmp_path, body)
    write(
        tmp_path,
        "vllm/unrelated.py",
        "def other():\n    return 'fused_shared_expert_gate is a string here'\n",
    )
    result = scan(tmp_path)
    assert [(d["file"], d["symbol"]) for d in result["definitions"]] == [
        (MODEL, OP),
        (MODEL, f"Wrapper.{OP}"),
    ]
    assert [(s["line"], s["symbol"], s["form"], s["source"]) for s in result["sites"]] == [
        (23, f"Wrapper.{OP}", "call", f"return {OP}(x, weight, out)"),
        (29, "ToyMLP.forward", "call", f"a = {OP}(x, weight=self.expert_gate.weight, out=out)"),
        (30, "ToyMLP.forward", "call", f"b = ops.{OP}("),
        (
            33,
            "ToyMLP.forward",
            "conditional call",
            f"c = ({OP}(x, self.expert_gate.weight, out) if use_it(self.expert_gate, x) else out)",
        ),
    ]
    assert all(s["status"] == "tree-native" for s in result["sites"])


def test_scan_sees_the_bundles_own_rewrite_as_tree_native_calls(tmp_path: Path):
    tree(tmp_path, mlp("F.sigmoid(self.expert_gate(x)[0]) * out"))
    run(tmp_path, "apply")
    sites = scan(tmp_path)["sites"]
    assert [(s["line"], s["form"]) for s in sites] == [
        (18, "conditional call")
    ]  # one line below: the import was added


def test_scan_of_a_tree_without_the_op_finds_nothing(tmp_path: Path):
    tree(tmp_path, mlp("F.sigmoid(self.expert_gate(x)[0]) * out"))
    write(tmp_path, "tests/test_x.py", f"{OP}(1, 2, 3)\n")  # outside vllm/: not the tree's code
    assert scan(tmp_path) == {"definitions": [], "sites": [], "python": rewrite.sys.version.split()[0]}


def test_scan_reports_a_file_naming_the_op_that_this_python_cannot_parse(tmp_path: Path):
    tree(tmp_path, f"def broken(:\n    return {OP}(x, w, out)\n")
    sites = scan(tmp_path)["sites"]
    assert [(s["status"], s["line"]) for s in sites] == [("unmatched", 9)]
    assert sites[0]["reason"].startswith(f"mentions {OP} but Python {rewrite.PY_VERSION} cannot parse it")


def test_scan_follows_an_import_of_the_op_under_another_name(tmp_path: Path):
    body = f"from vllm.model_executor.layers.fused_moe.shared_expert_gate import {OP} as fused_gate\n\n"
    tree(tmp_path, body + mlp("fused_gate(x, self.expert_gate.weight, out)"))
    sites = scan(tmp_path)["sites"]
    assert [(s["line"], s["symbol"], s["source"]) for s in sites] == [
        (19, "ToyMLP.forward", "out = fused_gate(x, self.expert_gate.weight, out)")
    ]
