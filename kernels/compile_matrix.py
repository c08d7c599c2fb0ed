"""Compile matrix: the op's kernels compiled for AMD and NVIDIA targets on any machine, no GPU needed.

The op's public function is called over the conformance grid's K values and dtypes while a stand-in driver
reports the target being compiled for, so the launcher picks its settings for that target and Triton's own
JIT binder derives the specialisation it would use at run time (``tt.divisibility`` on 16-byte aligned
pointers and integers divisible by 16, integers equal to 1 folded to constants, AMD's ``tt.pointer_range``).
Triton's ``jit_cache_hook`` stops each launch before it compiles; every distinct launch is then compiled with
``triton.compile`` for the target, and the matrix records registers, spills, shared memory, the width of
every global load and store, and the compile time.

    python compile_matrix.py [--impl PATH::SYMBOL] [--targets gfx950,sm_90] --json matrix.json

Exit 0 when the matrix was written: failed configurations and targets are in it, for the caller to judge;
2 for bad usage.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_IMPL = f"{HERE / 'fused_shared_expert_gate' / 'shared_expert_gate.py'}::fused_shared_expert_gate"

# (name, backend, arch, warp size): MI355X, MI300X; A100, L40S, H100/H200, B200, RTX 50xx.
TARGETS = {
    "gfx950": ("hip", "gfx950", 64),
    "gfx942": ("hip", "gfx942", 64),
    "sm_80": ("cuda", 80, 32),
    "sm_89": ("cuda", 89, 32),
    "sm_90": ("cuda", 90, 32),
    "sm_100": ("cuda", 100, 32),
    "sm_120": ("cuda", 120, 32),
}

# The conformance grid's hidden sizes and dtypes (test_conformance.py / test_fused_shared_expert_gate.py).
GRID_K = (1024, 2048, 2880, 3584, 4096, 7168, 16384)
GRID_DTYPES = ("bf16", "fp16", "fp32")
# Rows only set the grid; a few keep the probe cheap without making any stride equal to 1.
PROBE_ROWS = 4

SCHEMA = "vllm-kernel-ci/compile-matrix@1"
NO_LAUNCH = {
    "cpu": "the op launched no Triton kernel for CPU tensors (TRITON_INTERPRET=1), so none was compiled",
    "cuda": "the op launched no Triton kernel for GPU tensors, so none was compiled",
}


def _prepare_triton():
    """Imports Triton to compile, not interpret, while the op's module sees TRITON_INTERPRET=1."""
    os.environ.pop("TRITON_INTERPRET", None)
    import triton

    triton.knobs.runtime.interpret = False  # the knob wins over the environment for @triton.jit
    os.environ["TRITON_INTERPRET"] = "1"  # what the op's module reads to launch on CPU tensors
    return triton


def _load_impl(spec: str):
    """The op's public function from PATH::SYMBOL: the bundle's loader when present, else the file."""
    sys.path.insert(0, str(HERE))
    try:
        from kernel_impl import load_impl  # noqa: PLC0415
    except ImportError:
        load_impl = None
    if load_impl is not None:
        return load_impl(spec)
    path, _, symbol = spec.rpartition("::")
    if not path or not symbol:
        raise SystemExit(f"compile_matrix: --impl {spec!r} must be PATH::SYMBOL")
    file = Path(path)
    if not file.is_file():
        raise SystemExit(f"compile_matrix: --impl {spec!r}: no file {file}")
    sys.path.insert(0, str(file.parent))
    module_spec = importlib.util.spec_from_file_location(file.stem, file)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[file.stem] = module
    module_spec.loader.exec_module(module)
    if not hasattr(module, symbol):
        raise SystemExit(f"compile_matrix: {file} defines no {symbol}")
    return getattr(module, symbol)


@dataclass
class Launch:
    target: str
    key: tuple
    kernel: object  # the JITFunction
    signature: dict
    constexprs: dict
    attrs: dict
    options: dict
    dtypes: list
    ks: list


# Pointer types by element size: launches that differ only in these compile to the same memory code.
_ELEMENT_SIZES = {"*bf16": "*16b", "*fp16": "*16b", "*fp32": "*32b"}


def _target_driver(triton, target, index: int):
    """A driver that reports ``target`` as the current device's, so launchers and Triton's binder see it."""
    import torch
    from triton.backends import DriverBase

    class TargetDriver(DriverBase):
        @classmethod
        def is_active(cls):
            return False

        def get_current_target(self):
            return target

        def get_current_device(self):
            return index  # one device per target, so per-device caches in launchers stay right

        def get_current_stream(self, device=None):
            return 0

        def get_active_torch_device(self):
            return torch.device("cpu")

        def get_benchmarker(self):
            raise RuntimeError("compile_matrix: nothing runs, nothing is timed")

        def map_python_to_cpp_type(self, ty):
            raise RuntimeError("compile_matrix: nothing is launched")

    return TargetDriver()


def probe_device() -> str:
    """GPU tensors where torch has a GPU (an op registered for the GPU only takes those), else CPU tensors."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def capture(triton, op, targets: list[str], ks, dtypes, device: str) -> tuple[list[Launch], dict[str, str]]:
    """Calls the op over the grid once per target: each distinct launch it would compile, and per target the
    first error the op raised."""
    import torch
    from triton.backends.compiler import GPUTarget

    torch_dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
    launches: dict[tuple, Launch] = {}
    errors: dict[str, str] = {}
    current: dict = {}

    def hook(*, key, repr, fn, compile, is_manual_warmup, already_compiled):
        spec = json.loads(compile["specialization_data"])
        # one configuration per launch setting: dtypes of one element size (bf16, fp16) share it
        sizes = {name: _ELEMENT_SIZES.get(ty, ty) for name, ty in compile["signature"].items()}
        ident = (current["target"], str(sizes), str(compile["constants"]), str(compile["configs"]))
        ident += (json.dumps(spec["options"], sort_keys=True),)
        if ident in launches:
            launch = launches[ident]
            if current["k"] not in launch.ks:
                launch.ks.append(current["k"])
            if current["dtype"] not in launch.dtypes:
                launch.dtypes.append(current["dtype"])
        else:
            launches[ident] = Launch(
                target=current["target"],
                key=ident,
                kernel=fn.jit_function,
                signature=compile["signature"],
                constexprs=compile["constants"],
                attrs=compile["configs"][0],
                options=spec["options"],
                dtypes=[current["dtype"]],
                ks=[current["k"]],
            )
        return True  # stop here: nothing is compiled for, or launched on, this machine

    triton.knobs.runtime.jit_cache_hook = hook
    try:
        for index, name in enumerate(targets):
            backend, arch, warp = TARGETS[name]
            triton.runtime.driver.set_active(_target_driver(triton, GPUTarget(backend, arch, warp), index))
            for dtype in dtypes:
                for k in ks:
                    current.update(target=name, dtype=dtype, k=k)
                    x = torch.randn(PROBE_ROWS, k, dtype=torch_dtypes[dtype], device=device)
                    w = torch.randn(1, k, dtype=torch_dtypes[dtype], device=device)
                    out = torch.randn(PROBE_ROWS, k, dtype=torch_dtypes[dtype], device=device)
                    try:
                        op(x, w, out)
                    except Exception as error:  # noqa: BLE001
                        line = (str(error).strip().splitlines() or [""])[0]
                        said = f"the op raised {type(error).__name__}: {line} at {dtype} K={k}"
                        errors.setdefault(name, said[:400])
    finally:
        triton.knobs.runtime.jit_cache_hook = None
    return list(launches.values()), errors


# AMD memory instructions: width in bytes by suffix (gfx9 names, then gfx11/12 names).
_AMD_WIDTHS = {
    "dwordx4": 16,
    "dwordx3": 12,
    "dwordx2": 8,
    "dword": 4,
    "short": 2,
    "ushort": 2,
    "sshort": 2,
    "short_d16": 2,
    "short_d16_hi": 2,
    "byte": 1,
    "ubyte": 1,
    "sbyte": 1,
    "b128": 16,
    "b96": 12,
    "b64": 8,
    "b32": 4,
    "b16": 2,
    "u16": 2,
    "i16": 2,
    "b8": 1,
    "u8": 1,
    "i8": 1,
}
_AMD_MEM = re.compile(r"^\s*(?:global|buffer|flat)_(load|store)_(\w+)", re.MULTILINE)
_PTX_MEM = re.compile(r"\b(ld|st)\.global((?:\.[\w:]+)*)")


def amd_accesses(asm: str) -> dict:
    """{'load': {bytes: count}, 'store': {...}} from AMDGCN assembly."""
    out: dict = {"load": {}, "store": {}}
    for kind, suffix in _AMD_MEM.findall(asm):
        width = _AMD_WIDTHS.get(suffix.removesuffix("_lds"), 0)
        out[kind][width] = out[kind].get(width, 0) + 1
    return out


def ptx_accesses(ptx: str) -> dict:
    """{'load': {bytes: count}, 'store': {...}} from PTX: vector count times the element width."""
    out: dict = {"load": {}, "store": {}}
    for op, suffix in _PTX_MEM.findall(ptx):
        parts = suffix.split(".")
        vec = next((int(p[1:]) for p in parts if re.fullmatch(r"v\d", p)), 1)
        bits = next((int(p[1:]) for p in reversed(parts) if re.fullmatch(r"[bsuf]\d+", p)), 0)
        width = vec * bits // 8
        kind = "load" if op == "ld" else "store"
        out[kind][width] = out[kind].get(width, 0) + 1
    return out


def _amd_meta(asm: str, field: str) -> int | None:
    m = re.search(rf"^\s*\.{field}:\s*(\d+)", asm, re.MULTILINE)
    return int(m.group(1)) if m else None


def _ptxas_numbers(log: str) -> dict:
    regs = re.search(r"Used (\d+) registers", log)
    spill = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", log)
    stack = re.search(r"(\d+) bytes stack frame", log)
    return {
        "registers": int(regs.group(1)) if regs else None,
        "spills": int(spill.group(1)) + int(spill.group(2)) if spill else None,
        "scratchBytes": int(stack.group(1)) if stack else None,
    }


def _assembler_missing(triton, backend: str, arch) -> str | None:
    if backend != "cuda":
        return None  # AMD links HSA code objects with the LLVM inside libtriton
    from triton.backends.nvidia.compiler import get_ptxas

    try:
        path = get_ptxas(arch).path
    except Exception as error:  # noqa: BLE001
        return f"ptxas for sm_{arch} not found: {error}"
    return None if path and Path(path).is_file() else f"ptxas for sm_{arch} not found at {path}"


def _constexpr_names(launch: Launch) -> dict:
    names = list(launch.signature)
    return {names[path[0]]: value for path, value in launch.constexprs.items() if len(path) == 1}


def _specialised(launch: Launch) -> list[str]:
    names = list(launch.signature)
    out = []
    for path, attrs in sorted(launch.attrs.items()):
        for attr, value in attrs:
            if attr == "tt.divisibility":
                out.append(f"{names[path[0]]}%{value}")
    return out


def compile_launch(triton, launch: Launch) -> dict:
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    backend, arch, warp = TARGETS[launch.target]
    constexprs = _constexpr_names(launch)
    shown = {k: v for k, v in constexprs.items() if launch.signature.get(k) == "constexpr"}
    settings = " ".join(f"{k}={v}" for k, v in shown.items())
    ident = f"{'/'.join(launch.dtypes)} {settings} warps={launch.options['num_warps']}"
    record = {
        "id": ident,
        "kernel": launch.kernel.fn.__name__,
        "dtype": launch.dtypes[0],
        "dtypes": launch.dtypes,
        "k": sorted(launch.ks),
        "numWarps": launch.options["num_warps"],
        "numStages": launch.options.get("num_stages"),
        "constexprs": {k: v for k, v in constexprs.items() if isinstance(v, (int, float, bool, str))},
        "specialisation": _specialised(launch),
    }
    options = _tuples(launch.options)
    source = ASTSource(
        fn=launch.kernel, signature=launch.signature, constexprs=launch.constexprs, attrs=launch.attrs
    )
    log = io.StringIO()
    start = time.perf_counter()
    with tempfile.TemporaryFile(mode="w+") as diagnostics:
        try:
            with contextlib.redirect_stdout(log), _stderr_to(diagnostics):
                compiled = triton.compile(source, target=GPUTarget(backend, arch, warp), options=options)
        except Exception as error:  # noqa: BLE001
            diagnostics.seek(0)
            # LLVM's assembler and linker print diagnostics on the process's stderr, not in the exception
            message = f"{str(error).strip() or type(error).__name__}\n{diagnostics.read()}"
            record.update(status="error", compileSeconds=round(time.perf_counter() - start, 3))
            record["error"] = _error_summary(message)
            return record
    record["compileSeconds"] = round(time.perf_counter() - start, 3)
    record["sharedBytes"] = compiled.metadata.shared
    if backend == "hip":
        asm = compiled.asm["amdgcn"]
        vgprs, agprs = _amd_meta(asm, "vgpr_count"), _amd_meta(asm, "agpr_count")
        record["registers"] = (vgprs or 0) + (agprs or 0)
        record["vgprs"], record["sgprs"] = vgprs, _amd_meta(asm, "sgpr_count")
        if agprs:
            record["agprs"] = agprs
        record["spills"] = (_amd_meta(asm, "vgpr_spill_count") or 0) + (
            _amd_meta(asm, "sgpr_spill_count") or 0
        )
        record["scratchBytes"] = _amd_meta(asm, "private_segment_fixed_size")
        accesses = amd_accesses(asm)
    else:
        record.update(_ptxas_numbers(log.getvalue()))
        accesses = ptx_accesses(compiled.asm["ptx"])
    record["loads"] = {str(w): n for w, n in sorted(accesses["load"].items())}
    record["stores"] = {str(w): n for w, n in sorted(accesses["store"].items())}
    widths = list(accesses["load"]) + list(accesses["store"])
    record["vector16"] = bool(widths) and all(w == 16 for w in widths)
    record["status"] = "spill" if (record.get("spills") or 0) > 0 else "ok"
    return record


@contextlib.contextmanager
def _stderr_to(file):
    """Sends file descriptor 2 (what native code writes to) into ``file`` for the duration."""
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(file.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _tuples(value):
    """JSON lists back to the tuples Triton's option classes hold."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    return value


def _error_summary(message: str) -> str:
    """The lines that say what failed: the assembler's or compiler's error, not the echoed source."""
    lines = [line for line in message.splitlines() if line.strip()]
    wanted = [line for line in lines if re.search(r"error|fatal|invalid|unsupported|failed", line, re.I)]
    return "\n".join((wanted or lines)[:8])[:1500]


def run(spec: str, targets: list[str], ks, dtypes) -> dict:
    triton = _prepare_triton()
    cache = tempfile.mkdtemp(prefix="compile-matrix-")
    triton.knobs.cache.dir = cache  # a fresh cache: every compile is timed from source
    triton.knobs.nvidia.dump_ptxas_log = True  # ptxas -v prints registers and spills; compile_launch reads it
    op = _load_impl(spec)
    device = probe_device()
    launches, errors = capture(triton, op, targets, ks, dtypes, device)
    doc = {
        "schema": SCHEMA,
        "triton": triton.__version__,
        "impl": spec,
        "grid": {"k": list(ks), "dtypes": list(dtypes)},
        "targets": [],
    }
    for name in targets:
        backend, arch, warp = TARGETS[name]
        entry = {"target": name, "backend": backend, "arch": str(arch), "warpSize": warp, "configs": []}
        missing = _assembler_missing(triton, backend, arch)
        mine = [launch for launch in launches if launch.target == name]
        if missing:
            entry.update(status="unavailable", reason=missing)
        elif not mine and name not in errors:
            entry.update(status="unavailable", reason=NO_LAUNCH[device])
        else:
            entry["configs"] = [compile_launch(triton, launch) for launch in mine]
            bad = [c for c in entry["configs"] if c["status"] != "ok"]
            entry["status"] = "failed" if bad or name in errors else "ok"
            if name in errors:
                entry["reason"] = errors[name]
        doc["targets"].append(entry)
    return doc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impl", default=os.environ.get("VLLM_KERNEL_CI_IMPL") or DEFAULT_IMPL)
    parser.add_argument("--targets", default=",".join(TARGETS), help=f"comma list of {', '.join(TARGETS)}")
    parser.add_argument("--k", default=",".join(map(str, GRID_K)), help="hidden sizes, comma list")
    parser.add_argument("--dtypes", default=",".join(GRID_DTYPES), help="comma list of bf16, fp16, fp32")
    parser.add_argument("--json", required=True, help="where to write the matrix")
    args = parser.parse_args(argv)
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = [t for t in targets if t not in TARGETS]
    if unknown or not targets:
        parser.error(
            f"--targets: unknown {', '.join(unknown) or '(none given)'}; known: {', '.join(TARGETS)}"
        )
    dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    if not dtypes or any(d not in GRID_DTYPES for d in dtypes):
        parser.error(f"--dtypes {args.dtypes!r}: use a comma list of {', '.join(GRID_DTYPES)}")
    try:
        ks = [int(k) for k in args.k.split(",") if k.strip()]
    except ValueError:
        parser.error(f"--k {args.k!r}: use a comma list of positive integers")
    if not ks or any(k <= 0 for k in ks):
        parser.error(f"--k {args.k!r}: use a comma list of positive integers")
    doc = run(args.impl, targets, ks, dtypes)
    Path(args.json).write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    for t in doc["targets"]:
        worst = [c for c in t["configs"] if c["status"] != "ok"]
        print(
            f"{t['target']:7} {t['status']:11} {len(t['configs'])} configs {t.get('reason', '')}"
            f"{' ' + worst[0]['id'] + ': ' + worst[0]['status'] if worst else ''}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
