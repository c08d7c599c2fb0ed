"""bench_session.py: vLLM's client imported once, a forked process per run; without it, the CLI per run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

SESSION = Path(__file__).with_name("bench_session.py")
ANSWER = "@@bench-session "

# what bench_session.py imports of vLLM: a subcommand that records its process and fails as the CLI does
FAKE_VLLM = {
    "vllm/__init__.py": "",
    "vllm/platforms/__init__.py": """
        class _Cuda:
            def is_unspecified(self):
                return False

        current_platform = _Cuda()
    """,
    "vllm/utils/__init__.py": "",
    "vllm/utils/argparse_utils.py": "from argparse import ArgumentParser as FlexibleArgumentParser\n",
    "vllm/entrypoints/__init__.py": "",
    "vllm/entrypoints/cli/__init__.py": "",
    "vllm/entrypoints/cli/benchmark/__init__.py": "",
    "vllm/entrypoints/cli/benchmark/serve.py": """
        import os

        with open(os.environ["IMPORTS"], "a") as f:
            f.write(f"{os.getpid()}\\n")

        class BenchmarkServingSubcommand:
            @staticmethod
            def add_cli_args(parser):
                parser.add_argument("--result", required=True)
                parser.add_argument("--fail", action="store_true")

            @staticmethod
            def cmd(args):
                print(f"benchmarking into {args.result}")
                if args.fail:
                    raise RuntimeError("server unreachable")
                with open(args.result, "w") as f:
                    f.write(str(os.getpid()))
    """,
}


def session(tmp_path: Path, vllm: str, requests: list[dict], env: dict[str, str]) -> list[dict]:
    lines = "".join(json.dumps(r) + "\n" for r in requests)
    out = subprocess.run(
        [sys.executable, str(SESSION), vllm],
        input=lines,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    return [json.loads(line[len(ANSWER) :]) for line in out.stdout.splitlines() if line.startswith(ANSWER)]


def test_the_client_is_imported_once_and_every_run_is_its_own_process(tmp_path):
    for name, text in FAKE_VLLM.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text))
    imports = tmp_path / "imports.txt"
    runs = [
        {"id": 1, "args": ["--result", str(tmp_path / "r1")], "log": str(tmp_path / "1.log")},
        {"id": 2, "args": ["--result", str(tmp_path / "r2"), "--fail"], "log": str(tmp_path / "2.log")},
        {
            "id": 3,
            "args": ["--result", str(tmp_path / "r3"), "--no-such-flag"],
            "log": str(tmp_path / "3.log"),
        },
        {"id": 4, "args": ["--result", str(tmp_path / "r4")], "log": str(tmp_path / "4.log")},
    ]
    answers = session(tmp_path, "vllm", runs, {"PYTHONPATH": str(tmp_path), "IMPORTS": str(imports)})
    assert answers[0] == {"ready": True, "inProcess": True}
    assert [(a["id"], a["exit"], a["inProcess"]) for a in answers[1:]] == [
        (1, 0, True),
        (2, 1, True),
        (3, 2, True),
        (4, 0, True),
    ]
    # imported once, in the session; each run wrote from a process of its own
    assert len(imports.read_text().split()) == 1
    pids = {(tmp_path / "r1").read_text(), (tmp_path / "r4").read_text()}
    assert len(pids) == 2 and imports.read_text().strip() not in pids
    assert "benchmarking into" in (tmp_path / "1.log").read_text()
    assert "RuntimeError: server unreachable" in (tmp_path / "2.log").read_text()
    assert "unrecognized arguments: --no-such-flag" in (tmp_path / "3.log").read_text()


def test_without_vllm_each_run_is_the_cli(tmp_path):
    cli = tmp_path / "vllm"
    cli.write_text('#!/bin/sh\necho "cli: $*"\nexit 3\n')
    cli.chmod(0o755)
    runs = [{"id": 7, "args": ["--port", "8000"], "log": str(tmp_path / "7.log")}]
    answers = session(tmp_path, str(cli), runs, {"PYTHONPATH": ""})
    assert answers[0] == {"ready": True, "inProcess": False}
    assert (answers[1]["id"], answers[1]["exit"], answers[1]["inProcess"]) == (7, 3, False)
    assert (tmp_path / "7.log").read_text() == "cli: bench serve --port 8000\n"
