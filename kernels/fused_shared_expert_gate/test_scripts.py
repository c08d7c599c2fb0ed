"""The bundle's microbenchmark and e2e driver: they run, fail when the kernel is wrong, and write the
documented JSON shapes (`Microbench` and `E2e` in src/results/run-result.ts).
Small CPU runs; no timing claims."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import benchmark_shared_expert_gate as bench  # noqa: E402
import e2e_model  # noqa: E402

if not torch.cuda.is_available() and os.environ.get("TRITON_INTERPRET") != "1":
    pytest.skip("needs a GPU or TRITON_INTERPRET=1 on the CPU", allow_module_level=True)

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
IMPLS = ("eager", "compile", "fused") if DEVICE == "cuda" else ("eager", "fused")
FIXTURES = HERE.parent.parent / "fixtures" / "gpu"
SPREAD_KEYS = {"median", "p20", "p80"}


def assert_microbench_shape(doc: dict) -> None:
    assert doc["schema"] == "vllm-kernel-ci/microbench@1"
    assert isinstance(doc["device"]["name"], str) and doc["device"]["name"]
    assert doc["copyGbps"] > 0
    assert doc["cells"], "no cells"
    for cell in doc["cells"]:
        assert cell["impl"] in {"eager", "compile", "fused"}
        assert isinstance(cell["dtype"], str) and cell["k"] > 0 and cell["n"] >= 0
        for key in ("graphUs", "eventUs"):
            assert (
                set(cell[key]) >= SPREAD_KEYS and cell[key]["p20"] <= cell[key]["median"] <= cell[key]["p80"]
            )
        elt = torch.empty((), dtype=getattr(torch, cell["dtype"])).element_size()
        assert cell["bytes"] == 3 * cell["n"] * cell["k"] * elt + cell["k"] * elt
        assert cell["gbps"] == pytest.approx(cell["bytes"] / (cell["graphUs"]["median"] * 1e3))
        assert cell["pctOfCopy"] == pytest.approx(100 * cell["gbps"] / doc["copyGbps"])


def assert_e2e_shape(doc: dict, repeats: int) -> None:
    assert doc["backend"] == "model"
    assert isinstance(doc["method"], str) and doc["method"].endswith(".")
    assert isinstance(doc["model"], str) and doc["model"]
    for cell in doc["cells"]:
        assert set(cell) >= {
            "id",
            "params",
            "metric",
            "unit",
            "higherIsBetter",
            "baseline",
            "patched",
            "status",
        }
        assert cell["status"] == "ok", cell.get("reason")
        assert cell["unit"] == "tok/s" and cell["higherIsBetter"] is True
        assert all(isinstance(v, (str, int, float)) for v in cell["params"].values())
        assert len(cell["baseline"]) == len(cell["patched"]) == repeats
        assert all(v > 0 for v in cell["baseline"] + cell["patched"])


def test_microbenchmark_smoke_run_writes_its_json(tmp_path):
    path = tmp_path / "microbench.json"
    argv = [
        "--device",
        DEVICE,
        "--k",
        "256",
        "1000",
        "--n",
        "1",
        "3",
        "--reps",
        "2",
        "--copy-bytes",
        "1048576",
    ]
    assert bench.main([*argv, "--json", str(path)]) == 0
    doc = json.loads(path.read_text())
    assert_microbench_shape(doc)
    assert {(c["k"], c["n"], c["impl"]) for c in doc["cells"]} == {
        (k, n, impl) for k in (256, 1000) for n in (1, 3) for impl in IMPLS
    }
    assert doc["failures"] == []


def _impl_file(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / f"{name}.py"
    path.write_text(f"import torch\n\n\ndef gate(x, weight, out):\n    return {body}\n")
    return f"{path}::gate"


SMALL = ["--device", DEVICE, "--k", "256", "--n", "3", "--reps", "4", "--copy-bytes", "1048576"]


def test_microbenchmark_exits_non_zero_when_the_kernel_is_wrong(tmp_path):
    path = tmp_path / "microbench.json"
    wrong = _impl_file(tmp_path, "half", "out * 0.5")
    assert bench.main([*SMALL, "--impl", wrong, "--json", str(path)]) == 1
    doc = json.loads(path.read_text())
    assert [c["impl"] for c in doc["cells"]] == [i for i in IMPLS if i != "fused"], "a wrong one is not timed"
    assert "K=256 N=3 fused" in doc["failures"][0]
    assert doc["impls"] == {"fused": wrong, "base": None} and "ab" not in doc


def test_microbenchmark_times_base_against_head_in_counterbalanced_pairs(tmp_path, monkeypatch):
    path = tmp_path / "microbench.json"
    base = _impl_file(tmp_path, "eager", "torch.sigmoid(x @ weight.T) * out")
    order = []
    real = bench.wall_timer

    def recording(fn, weight, sets):
        arm = "A" if fn is bench.load_impl(base) else "B"
        timer = real(fn, weight, sets)
        return lambda: order.append(arm) or timer()

    monkeypatch.setattr(bench, "wall_timer", recording)
    assert bench.main([*SMALL, "--base-impl", base, "--json", str(path)]) == 0
    doc = json.loads(path.read_text())
    assert_microbench_shape(doc)
    assert doc["impls"]["base"] == base
    [cell] = doc["ab"]
    assert cell["id"] == "bf16-K256-N3" and cell["params"] == {"dtype": "bf16", "k": 256, "n": 3}
    assert [cell[key] for key in ("metric", "unit", "higherIsBetter", "status")] == [
        "graph_us",
        "us",
        False,
        "ok",
    ]
    assert len(cell["baseline"]) == len(cell["patched"]) == 4
    assert "".join(order[-8:]) == "ABBABAAB", "pairs A B, B A, B A, A B after the single-kernel cells"


def test_microbenchmark_reports_a_wrong_base_kernel_in_its_ab_cell(tmp_path):
    path = tmp_path / "microbench.json"
    wrong = _impl_file(tmp_path, "double", "out * 2")
    assert bench.main([*SMALL, "--base-impl", wrong, "--json", str(path)]) == 0, "the head kernel is right"
    [cell] = json.loads(path.read_text())["ab"]
    assert cell["status"] == "failed" and cell["reason"].startswith("base kernel: ")
    assert cell["baseline"] == cell["patched"] == []


def test_microbenchmark_refuses_an_impl_it_cannot_load(tmp_path, capsys):
    with pytest.raises(SystemExit):
        bench.main([*SMALL, "--impl", f"{tmp_path}/missing.py::gate"])
    assert "is not a .py file" in capsys.readouterr().err


@pytest.mark.skipif(not list(FIXTURES.glob("microbench*.json")), reason="no GPU microbench fixture committed")
def test_committed_gpu_microbench_fixtures_have_the_documented_shape():
    for path in FIXTURES.glob("microbench*.json"):
        assert_microbench_shape(json.loads(path.read_text()))


@pytest.mark.skipif(not list(FIXTURES.glob("e2e*.json")), reason="no GPU e2e fixture committed")
def test_committed_gpu_e2e_fixtures_have_the_documented_shape():
    for path in FIXTURES.glob("e2e*.json"):
        doc = json.loads(path.read_text())
        assert_e2e_shape(doc, len(doc["cells"][0]["baseline"]))


@pytest.mark.parametrize("aa", [False, True], ids=["ab", "aa"])
def test_e2e_tiny_model_writes_its_json(tmp_path, aa):
    path = tmp_path / "e2e.json"
    argv = ["--tiny", "--repeats", "2", "--warmup", "0", "--sample-ms", "1", "--json", str(path)]
    assert e2e_model.main(argv + (["--aa"] if aa else [])) == 0
    doc = json.loads(path.read_text())
    assert_e2e_shape(doc, repeats=2)
    assert [c["id"] for c in doc["cells"]] == ["prefill-b2-s16", "decode-b2-c16"]
    assert doc["cells"][0]["params"]["gateSites"] == 2
    assert ("A/A" in doc["method"]) == aa


def test_e2e_patched_arm_runs_the_fused_gate(monkeypatch):
    calls = []
    real = e2e_model.sg.fused_shared_expert_gate

    def counting(*args, **kwargs):
        calls.append(args[0].shape)
        return real(*args, **kwargs)

    monkeypatch.setattr(e2e_model.sg, "fused_shared_expert_gate", counting)
    model, sites = e2e_model.build_model("tiny", DEVICE, torch.bfloat16)
    step = e2e_model.Step(model, e2e_model.parse_cell("prefill-b2-s16"), DEVICE)
    step.forward(False)
    assert calls == [], "the baseline arm must not call the fused gate"
    step.forward(True)
    assert len(calls) == sites == 2
    assert e2e_model.check_arms_agree(step) is None


def test_e2e_rejects_a_malformed_cell():
    with pytest.raises(ValueError, match="prefill-b<batch>-s<seq>"):
        e2e_model.parse_cell("prefill-8-512")
