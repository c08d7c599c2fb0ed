"""Runs a pytest case in its own Python process, so a crash (a CUDA illegal address, a signal) fails that case
alone and every other case still reports.

    @isolated()
    def test_risky(request, ...):  # the test takes `request`
        ...

The parent re-invokes pytest on the case's node id with a marker in the environment; the child runs the body.
The child's outcome becomes the parent's: passed, skipped (with its reason) or failed (with its message); a
child that dies without a result fails the case with its exit status and the tail of its output.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

__all__ = ["CHILD_ENV", "isolated"]

CHILD_ENV = "VLLM_KERNEL_CI_ISOLATED_NODE"

_TAIL = 4000


def isolated(timeout_s: float = 900):
    def wrap(test):
        @functools.wraps(test)
        def run(*args, **kwargs):
            request = kwargs.get("request")
            if request is None:
                raise TypeError(f"{test.__name__}: an @isolated test must take the `request` fixture")
            if os.environ.get(CHILD_ENV) == request.node.nodeid:
                return test(*args, **kwargs)
            return _run_in_child(request, timeout_s)

        return run

    return wrap


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited {code}"


def _run_in_child(request: pytest.FixtureRequest, timeout_s: float) -> None:
    nodeid = request.node.nodeid
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        # What this process caches on the GPU, the child may need.
        torch.cuda.empty_cache()
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "case.xml"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        command += ["-o", "junit_family=xunit1", f"--junitxml={junit}", nodeid]
        try:
            done = subprocess.run(
                command,
                cwd=request.config.rootpath,
                env={**os.environ, CHILD_ENV: nodeid},
                capture_output=True,
                text=True,
                timeout=timeout_s,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"isolated case timed out after {timeout_s:.0f} s", pytrace=False)
        output = (done.stdout + done.stderr)[-_TAIL:]
        case = _case_result(junit)
    if case is None:
        pytest.fail(
            f"isolated case {_describe_exit(done.returncode)} without a result (a crash):\n{output}",
            pytrace=False,
        )
    kind, message, text = case
    if kind == "skipped":
        pytest.skip(message)
    if kind in ("failure", "error"):
        pytest.fail(f"{message}\n{text[-_TAIL:]}", pytrace=False)


def _case_result(junit: Path) -> tuple[str, str, str] | None:
    """(passed | skipped | failure | error, message, text) of the one case in a JUnit file, or None."""
    try:
        cases = list(ET.parse(junit).getroot().iter("testcase"))
    except (OSError, ET.ParseError):
        return None
    if len(cases) != 1:
        return None
    for child in cases[0]:
        if child.tag in ("skipped", "failure", "error"):
            return child.tag, child.get("message", ""), child.text or ""
    return "passed", "", ""
