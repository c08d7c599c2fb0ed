"""`vllm bench serve` from vLLM's own source, on a machine without vLLM's build.

What vllm/entrypoints/cli/main.py does for `vllm bench serve`, less the other subcommands (whose imports need
the server's dependencies): the CPU platform for a bench, the subcommand's own parser, and its cmd. An
exception ends the process with 1, as in the real CLI. The source (VLLM_SOURCE) comes first on the path.
"""

import os
import sys

sys.path.insert(0, os.environ["VLLM_SOURCE"])

from vllm.entrypoints.cli.benchmark.serve import BenchmarkServingSubcommand  # noqa: E402
from vllm.utils.argparse_utils import FlexibleArgumentParser  # noqa: E402

from vllm import platforms  # noqa: E402

if platforms.current_platform.is_unspecified():
    from vllm.platforms.cpu import CpuPlatform

    platforms.current_platform = CpuPlatform()

parser = FlexibleArgumentParser(prog="vllm bench serve")
BenchmarkServingSubcommand.add_cli_args(parser)
BenchmarkServingSubcommand.cmd(parser.parse_args(sys.argv[1:]))
