"""@isolated: a case that crashes its process fails alone, with the crash named; the others still report."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent

CASES = textwrap.dedent(
    """
    import os
    import signal

    import pytest

    from isolated import isolated


    @isolated()
    def test_crashes(request):
        os.kill(os.getpid(), signal.SIGSEGV)


    @isolated()
    def test_fails(request):
        assert 1 + 1 == 3, "wrong sum"


    @isolated()
    def test_skips(request):
        pytest.skip("not enough memory here")


    @isolated()
    @pytest.mark.parametrize("n", [1, 2])
    def test_passes(n, request):
        assert os.environ["VLLM_KERNEL_CI_ISOLATED_NODE"] == request.node.nodeid


    def test_in_process():
        assert "VLLM_KERNEL_CI_ISOLATED_NODE" not in os.environ
    """
)


def test_each_isolated_case_reports_on_its_own(tmp_path):
    (tmp_path / "test_cases.py").write_text(CASES)
    junit = tmp_path / "junit.xml"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    env.pop("VLLM_KERNEL_CI_ISOLATED_NODE", None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={junit}",
            "test_cases.py",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    outcomes = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        result = next(iter(case), None)
        outcomes[case.get("name")] = (
            (result.tag, result.get("message", "")) if result is not None else ("passed", "")
        )
    assert outcomes["test_crashes"][0] == "failure"
    assert "was killed by SIGSEGV without a result (a crash)" in outcomes["test_crashes"][1]
    assert outcomes["test_fails"][0] == "failure" and "wrong sum" in outcomes["test_fails"][1]
    assert outcomes["test_skips"] == ("skipped", "not enough memory here")
    assert outcomes["test_passes[1]"] == outcomes["test_passes[2]"] == ("passed", "")
    assert outcomes["test_in_process"] == ("passed", "")
