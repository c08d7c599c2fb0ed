"""`vllm bench serve`, run many times from one process that imports the client once.

Each `vllm bench serve` spends most of a short run importing vLLM's client (about 6 s on a 2-core machine,
before its tokenizer and warm-ups); an e2e runs it a hundred times or more. This session imports
`vllm.entrypoints.cli.benchmark.serve` once and forks a child per run, so every run is still a fresh process
(its own event loop, tokenizer, seeds and exit status) without paying the imports again.

    python bench_session.py VLLM_EXECUTABLE

Reads one JSON object per line on stdin, {"id": N, "args": [...the arguments after `vllm bench serve`...],
"log": PATH}, runs it with the child's stdout and stderr in PATH, and answers one line on stdout,
"@@bench-session " + {"id": N, "exit": CODE, "seconds": WALL, "inProcess": BOOL}. Where the client does not
import (no vLLM here, or a vLLM without the subcommand), each child runs VLLM_EXECUTABLE bench serve instead.
Ends at the end of stdin.
"""

from __future__ import annotations

import json
import os
import sys
import time

ANSWER = "@@bench-session "


def load_client():
    """vLLM's parser and command for `bench serve`, as its CLI builds them; None where they do not import."""
    try:
        from vllm.entrypoints.cli.benchmark.serve import BenchmarkServingSubcommand

        try:
            from vllm.utils.argparse_utils import FlexibleArgumentParser
        except ImportError:  # before vLLM 0.11
            from vllm.utils import FlexibleArgumentParser
        from vllm import platforms
    except Exception as e:  # noqa: BLE001 - any failure means: run the CLI instead
        print(f"bench session: vLLM's client does not import ({type(e).__name__}: {e}); one CLI run each")
        return None
    # a bench needs no device; vLLM's CLI would stop at an unknown platform before parsing
    if platforms.current_platform.is_unspecified():
        from vllm.platforms.cpu import CpuPlatform

        platforms.current_platform = CpuPlatform()

    def run(argv):
        parser = FlexibleArgumentParser(prog="vllm bench serve")
        BenchmarkServingSubcommand.add_cli_args(parser)
        BenchmarkServingSubcommand.cmd(parser.parse_args(argv))

    return run


def child(client, vllm, argv, log):
    """The run in the forked child, output to `log`; exits as the CLI would (1: an exception, 2: usage)."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    if client is None:
        os.execvp(vllm, [vllm, "bench", "serve", *argv])
    code = 0
    try:
        client(argv)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:  # noqa: BLE001 - reported as the CLI reports it: a traceback and exit 1
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main() -> int:
    vllm = sys.argv[1] if len(sys.argv) > 1 else "vllm"
    client = load_client()
    print(f"{ANSWER}{json.dumps({'ready': True, 'inProcess': client is not None})}", flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            child(client, vllm, [str(a) for a in request["args"]], request["log"])
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        answer = {
            "id": request["id"],
            "exit": code,
            "seconds": round(time.monotonic() - started, 3),
            "inProcess": client is not None,
        }
        print(f"{ANSWER}{json.dumps(answer)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
