"""Put first on a `vllm serve` arm's PYTHONPATH: counts, in every process of that server, which gate ran.

Active only when KERNEL_CI_PROBE_DIR is set (kernel_ci_probe.py says what it records); then hands over to the
next sitecustomize on sys.path, so an environment's own one still runs.
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))

if os.environ.get("KERNEL_CI_PROBE_DIR"):
    sys.path.insert(0, _HERE)
    try:
        import kernel_ci_probe

        kernel_ci_probe.install()
    finally:
        sys.path.remove(_HERE)


def _chain() -> None:
    for entry in sys.path:
        if os.path.abspath(entry or ".") == _HERE:
            continue
        candidate = os.path.join(entry or ".", "sitecustomize.py")
        if os.path.isfile(candidate):
            with open(candidate, encoding="utf-8") as f:
                code = compile(f.read(), candidate, "exec")
            exec(code, {"__name__": "sitecustomize", "__file__": candidate})
            return


_chain()
