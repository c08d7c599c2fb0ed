"""Which gate implementation a server process ran, counted where it runs: Triton launches and calls of the op.

Environment (set by vllm-kernel-ci for each arm's server, nothing else reads them):
- KERNEL_CI_PROBE_DIR: where each process writes probe-<pid>.json (rewritten twice a second while it changes);
- KERNEL_CI_PROBE_OP: ``module:symbol`` of the op under test, e.g.
  ``vllm.model_executor.layers.fused_moe.shared_expert_gate:fused_shared_expert_gate``.

Recorded per process: every Triton kernel launched through Triton's JIT (or its interpreter), by defining
module and name, so a process that launched nothing of the op still shows the probe was alive; launches of
kernels defined in the op's module (the kernel under test); calls of the op outside torch.compile tracing, and
how many distinct gate weights they saw (one per model layer). Under CUDA graphs a replay launches nothing
from Python: the counts then come from warm-up, capture and eager batches, which is where the op is bound in.
The probe never raises into the server: a failure is recorded in the file instead.
"""

from __future__ import annotations

import atexit
import functools
import importlib.abc
import json
import os
import sys
import threading
import time

_STATE = {
    "pid": os.getpid(),
    "argv": sys.argv[:3],
    "op": os.environ.get("KERNEL_CI_PROBE_OP", ""),
    "launches": {},
    "opModuleLaunches": 0,
    "opCalls": 0,
    "opTraced": 0,
    "weights": 0,
    "errors": [],
}
_WEIGHTS: set[int] = set()
_LOCK = threading.Lock()
_DIRTY = threading.Event()


def _op_target() -> tuple[str, str]:
    module, _, symbol = _STATE["op"].partition(":")
    return module, symbol


def _note_error(where: str, error: BaseException) -> None:
    with _LOCK:
        if len(_STATE["errors"]) < 10:
            _STATE["errors"].append(f"{where}: {type(error).__name__}: {error}")
    _DIRTY.set()


def _count_launch(kernel) -> None:
    try:
        fn = getattr(kernel, "fn", None)
        module = getattr(fn, "__module__", None) or "?"
        name = getattr(fn, "__name__", None) or getattr(kernel, "__name__", "?")
        key = f"{module}.{name}"
        with _LOCK:
            _STATE["launches"][key] = _STATE["launches"].get(key, 0) + 1
            if module == _op_target()[0]:
                _STATE["opModuleLaunches"] += 1
        _DIRTY.set()
    except Exception as error:  # noqa: BLE001 - the server must not notice the probe
        _note_error("launch", error)


def _patch_run(cls) -> None:
    original = cls.run
    if getattr(original, "_kernel_ci_probe", False):
        return

    @functools.wraps(original)
    def run(self, *args, **kwargs):
        if not kwargs.get("warmup", False):
            _count_launch(self)
        return original(self, *args, **kwargs)

    run._kernel_ci_probe = True
    cls.run = run


def _is_compiling() -> bool:
    torch = sys.modules.get("torch")
    try:
        return bool(torch is not None and torch.compiler.is_compiling())
    except Exception:  # noqa: BLE001
        return False


def _wrap_op(module) -> None:
    _, symbol = _op_target()
    op = getattr(module, symbol, None)
    if op is None or getattr(op, "_kernel_ci_probe", False):
        return

    @functools.wraps(op)
    def counted(*args, **kwargs):
        if _is_compiling():
            _STATE["opTraced"] += 1
            return op(*args, **kwargs)
        try:
            weight = args[1] if len(args) > 1 else kwargs.get("weight")
            with _LOCK:
                _STATE["opCalls"] += 1
                if weight is not None and hasattr(weight, "data_ptr"):
                    _WEIGHTS.add(weight.data_ptr())
                    _STATE["weights"] = len(_WEIGHTS)
            _DIRTY.set()
        except Exception as error:  # noqa: BLE001
            _note_error("op", error)
        return op(*args, **kwargs)

    counted._kernel_ci_probe = True
    setattr(module, symbol, counted)


def _hooks() -> dict:
    hooks = {
        "triton.runtime.jit": lambda m: _patch_run(m.JITFunction),
        "triton.runtime.interpreter": lambda m: _patch_run(m.InterpretedFunction),
    }
    module, symbol = _op_target()
    if module and symbol:
        hooks[module] = _wrap_op
    return hooks


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs a hook on a module right after it executes, before any importer sees its names."""

    def __init__(self, hooks: dict) -> None:
        self.hooks = hooks

    def find_spec(self, name, path, target=None):
        hook = self.hooks.get(name)
        if hook is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
                exec_module = spec.loader.exec_module

                def exec_then_hook(module, exec_module=exec_module, hook=hook, name=name):
                    exec_module(module)
                    try:
                        hook(module)
                    except Exception as error:  # noqa: BLE001
                        _note_error(f"hook {name}", error)

                spec.loader.exec_module = exec_then_hook
                return spec
            if spec is not None:
                return spec
        return None


def _write() -> None:
    directory = os.environ.get("KERNEL_CI_PROBE_DIR")
    if not directory:
        return
    try:
        os.makedirs(directory, exist_ok=True)
        with _LOCK:
            _STATE["updated"] = time.time()
            text = json.dumps(_STATE, sort_keys=True)
        path = os.path.join(directory, f"probe-{os.getpid()}.json")
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except Exception:  # noqa: BLE001 - nowhere left to report it
        pass


def _writer() -> None:
    while True:
        _DIRTY.wait()
        _DIRTY.clear()
        _write()
        time.sleep(0.5)


def _start_writer() -> None:
    threading.Thread(target=_writer, name="kernel-ci-probe", daemon=True).start()
    _DIRTY.set()


def _after_fork() -> None:
    # a forked worker counts its own launches from zero and needs its own writer (threads do not survive fork)
    global _LOCK
    _LOCK = threading.Lock()
    _WEIGHTS.clear()
    _STATE.update(pid=os.getpid(), launches={}, opModuleLaunches=0, opCalls=0, opTraced=0, weights=0)
    _STATE["errors"] = []
    _start_writer()


def install() -> None:
    hooks = _hooks()
    for name, hook in hooks.items():
        if name in sys.modules:
            try:
                hook(sys.modules[name])
            except Exception as error:  # noqa: BLE001
                _note_error(f"hook {name}", error)
    sys.meta_path.insert(0, _AfterImport(hooks))
    os.register_at_fork(after_in_child=_after_fork)
    atexit.register(_write)
    _start_writer()
