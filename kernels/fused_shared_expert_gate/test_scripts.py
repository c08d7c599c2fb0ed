"""The bundle's microbenchmark and e2e driver: they run, fail when the kernel is wrong, and write the
documented JSON shapes (`Microbench` and `E2e` in src/results/run-result.ts).
Small CPU runs; no timing claims."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
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


def test_e2e_arms_run_the_gate_they_name(tmp_path):
    path = tmp_path / "counting.py"
    path.write_text(
        "import torch\n\nCALLS = []\n\n\ndef gate(x, weight, out):\n"
        "    CALLS.append(tuple(x.shape))\n    return torch.sigmoid(x @ weight.T) * out\n"
    )
    patched = e2e_model.arm_gate(f"{path}::gate")
    calls = sys.modules[e2e_model.load_impl(f"{path}::gate").__module__].CALLS
    model, sites = e2e_model.build_model("tiny", DEVICE, torch.bfloat16)
    step = e2e_model.Step(model, e2e_model.parse_cell("prefill-b2-s16"), DEVICE)
    step.forward(e2e_model.arm_gate("reference"))
    assert calls == [], "the reference arm runs the unfused expression"
    step.forward(patched)
    assert calls == [(32, 64)] * sites and sites == 2
    assert e2e_model.check_arms_agree(step, e2e_model.unfused, patched) is None
    wrong = e2e_model.arm_gate(_impl_file(tmp_path, "negated", "-100 * out"))
    assert "patched logits differ" in e2e_model.check_arms_agree(step, e2e_model.unfused, wrong)


@pytest.mark.parametrize(
    ("first_pair", "expected"),
    # the probe, one warm-up pair, then the four timed pairs; a re-run (--first-pair) goes on in the sequence
    [(0, "A" + "AB" + "ABBABAAB"), (2, "A" + "BA" + "BAABABBA")],
)
def test_e2e_pairs_run_in_counterbalanced_order(monkeypatch, first_pair, expected):
    model, sites = e2e_model.build_model("tiny", DEVICE, torch.bfloat16)
    # two distinct gates with the same result: the order is under test, not the kernel
    arms = {"baseline": e2e_model.unfused, "patched": lambda gate, x, out: e2e_model.unfused(gate, x, out)}
    names = {id(gate): name for name, gate in (("A", arms["baseline"]), ("B", arms["patched"]))}
    captured = []
    real = e2e_model.Step.runner

    def recording(self, gate):
        captured.append(names[id(gate)])
        return real(self, gate)

    monkeypatch.setattr(e2e_model.Step, "runner", recording)
    args = e2e_model.argparse.Namespace(
        device=DEVICE, warmup=1, repeats=4, sample_ms=1.0, first_pair=first_pair
    )
    cell = e2e_model.measure_cell(model, "prefill-b2-s16", args, sites, "tiny", arms)
    assert cell["status"] == "ok", cell.get("reason")
    assert "".join(captured) == expected


def test_e2e_rejects_a_malformed_cell():
    with pytest.raises(ValueError, match="prefill-b<batch>-s<seq>"):
        e2e_model.parse_cell("prefill-8-512")


def test_validate_pr_trees_runs_the_suite_per_implementation(tmp_path):
    """scripts/gpu/validate-pr-trees.sh on the CPU: a JUnit per implementation, a wrong one's cases named."""
    root = HERE.parent.parent
    out = tmp_path / "out"
    wrong = _impl_file(tmp_path, "half", "out * 0.5")
    env = {
        **os.environ,
        "OUT": str(out),
        "PYTHON": sys.executable,
        "SUITE_FILTER": "test_zero_tokens or test_weight_as_row_or_vector",
    }
    impls = [
        "bundle=kernels/fused_shared_expert_gate/shared_expert_gate.py::fused_shared_expert_gate",
        f"half={wrong}",
    ]
    script = root / "scripts" / "gpu" / "validate-pr-trees.sh"
    done = subprocess.run(["bash", script, *impls], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = (out / "summary.txt").read_text().splitlines()
    assert summary[0] == "bundle: pytest exited 0; 4 passed"
    assert summary[1] == "half: pytest exited 1; 2 failure, 2 passed", (
        "zero tokens pass even for a wrong gate"
    )
    assert summary[2:] == [f"  failure: test_weight_as_row_or_vector[{w}]" for w in ("1xK", "K")]
    for name in ("bundle", "half"):
        cases = list(ET.parse(out / f"junit-conformance-{name}.xml").getroot().iter("testcase"))
        assert len(cases) == 4 and {c.find("properties") is not None for c in cases} == {True}

    missing = subprocess.run(
        ["bash", script, "pr=test/fixtures/pr-shapes/missing.py::op"], env=env, capture_output=True, text=True
    )
    assert missing.returncode == 1
    assert "pr: no such implementation file" in (out / "summary.txt").read_text()


@pytest.mark.parametrize("name", ["gpu_check.sh", "gpu_validate.sh", "validate-pr-trees.sh", "carried.sh"])
def test_gpu_scripts_parse(name):
    script = HERE.parent.parent / "scripts" / "gpu" / name
    done = subprocess.run(["bash", "-n", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_gpu_check_finds_the_bundle_from_its_own_folder(tmp_path):
    script = HERE.parent.parent / "scripts" / "gpu" / "gpu_check.sh"
    env = {**os.environ, "OUT": str(tmp_path), "STEPS": ""}
    done = subprocess.run(["bash", "-x", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0 and "== done" in done.stdout
    assert f"bundle={HERE}" in done.stderr, "bundle is the kernel's folder, wherever the script is run from"
