"""The bundle's files where the manifest puts them in a vLLM tree: the test collects, reference found."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

BUNDLE = Path(__file__).resolve().parent / "fused_shared_expert_gate"


def test_the_copied_test_collects_in_a_tree_where_vllm_imports(tmp_path):
    manifest = json.loads((BUNDLE / "manifest.json").read_text())
    for f in manifest["files"]:
        target = tmp_path / f["to"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(BUNDLE / f["from"], target)
    # a vllm package that imports: the kernel's module path, nothing of vLLM's own
    packages = [
        "vllm",
        "vllm/model_executor",
        "vllm/model_executor/layers",
        "vllm/model_executor/layers/fused_moe",
    ]
    for pkg in packages:
        (tmp_path / pkg / "__init__.py").touch()
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "TRITON_INTERPRET": "1"}
    test = next(f["to"] for f in manifest["files"] if f["from"].startswith("test_"))
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", test],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "No module named 'reference'" not in r.stdout + r.stderr
    assert " tests collected" in r.stdout or "test_" in r.stdout
