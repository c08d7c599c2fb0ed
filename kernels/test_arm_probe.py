"""The arm probe (arm_probe/) in real Python processes: the bundle's kernel, under Triton's interpreter."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PROBE = HERE / "arm_probe"
KERNEL = HERE / "fused_shared_expert_gate" / "shared_expert_gate.py"

DRIVER = """
import importlib, sys, torch
mod = importlib.import_module("gatepkg.shared_expert_gate")
from gatepkg.shared_expert_gate import fused_shared_expert_gate  # bound as a call site binds it
weights = [torch.randn(1, 64) for _ in range(int(sys.argv[1]))]
for _ in range(2):
    for w in weights:
        x, out = torch.randn(3, 64), torch.randn(3, 64)
        fused_shared_expert_gate(x, w, out) if sys.argv[2] == "fused" else torch.sigmoid(x @ w.t()) * out
"""


def run_driver(tmp_path: Path, layers: int, arm: str, probe: bool = True) -> list[dict]:
    pkg = tmp_path / "tree" / "gatepkg"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("")
    shutil.copy(KERNEL, pkg / "shared_expert_gate.py")
    out = tmp_path / f"probe-{arm}"
    env = {
        **os.environ,
        "TRITON_INTERPRET": "1",
        "PYTHONPATH": os.pathsep.join([str(PROBE), str(tmp_path / "tree")]),
        "KERNEL_CI_PROBE_OP": "gatepkg.shared_expert_gate:fused_shared_expert_gate",
    }
    if probe:
        env["KERNEL_CI_PROBE_DIR"] = str(out)
    subprocess.run([sys.executable, "-c", DRIVER, str(layers), arm], env=env, check=True, timeout=300)
    return [json.loads(p.read_text()) for p in sorted(out.glob("probe-*.json"))] if out.exists() else []


def test_fused_arm_counts_launches_calls_and_layers(tmp_path):
    (record,) = run_driver(tmp_path, layers=3, arm="fused")
    assert record["opCalls"] == 6
    assert record["weights"] == 3
    assert record["opModuleLaunches"] == 6
    assert record["launches"] == {"gatepkg.shared_expert_gate._shared_expert_gate_kernel": 6}
    assert record["errors"] == []


def test_original_expression_arm_launches_nothing_of_the_op(tmp_path):
    (record,) = run_driver(tmp_path, layers=3, arm="original")
    assert (record["opCalls"], record["weights"], record["opModuleLaunches"]) == (0, 0, 0)


def test_without_the_probe_directory_nothing_is_recorded(tmp_path):
    assert run_driver(tmp_path, layers=1, arm="fused", probe=False) == []


def test_an_environments_own_sitecustomize_still_runs(tmp_path):
    own = tmp_path / "own"
    own.mkdir()
    (own / "sitecustomize.py").write_text("import os\nos.environ['OWN_SITECUSTOMIZE'] = 'ran'\n")
    path = os.pathsep.join([str(PROBE), str(own)])
    env = {**os.environ, "PYTHONPATH": path, "KERNEL_CI_PROBE_DIR": str(tmp_path)}
    r = subprocess.run(
        [sys.executable, "-c", "import os; print(os.environ.get('OWN_SITECUSTOMIZE'))"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert r.stdout.strip() == "ran"


@pytest.mark.parametrize("start", ["fork"])
def test_a_forked_worker_writes_its_own_record(tmp_path, start):
    pkg = tmp_path / "tree" / "gatepkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    shutil.copy(KERNEL, pkg / "shared_expert_gate.py")
    code = (
        "import multiprocessing as mp, time, torch\n"
        "def work():\n"
        "    from gatepkg.shared_expert_gate import fused_shared_expert_gate as f\n"
        "    f(torch.randn(2, 32), torch.randn(1, 32), torch.randn(2, 32)); time.sleep(1.2)\n"
        f"p = mp.get_context('{start}').Process(target=work); p.start(); p.join()\n"
    )
    env = {
        **os.environ,
        "TRITON_INTERPRET": "1",
        "PYTHONPATH": os.pathsep.join([str(PROBE), str(tmp_path / "tree")]),
        "KERNEL_CI_PROBE_OP": "gatepkg.shared_expert_gate:fused_shared_expert_gate",
        "KERNEL_CI_PROBE_DIR": str(tmp_path / "out"),
    }
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=300)
    records = [json.loads(p.read_text()) for p in (tmp_path / "out").glob("probe-*.json")]
    assert len(records) == 2
    child = [r for r in records if r["opCalls"] > 0]
    assert len(child) == 1 and child[0]["opModuleLaunches"] == 1
