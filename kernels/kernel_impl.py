"""Loads an implementation of a kernel op from a spec ``PATH::SYMBOL`` (PATH an absolute path to a .py file).

- When PATH is importable under its own name (``vllm`` installed from the tree that holds PATH, or PATH's
  directory on ``sys.path``), the module is imported by its dotted name: the code runs as it runs in vLLM.
- Otherwise a standalone module is built from PATH: SYMBOL and the closure of the top-level statements it
  references (its ``@triton.jit`` kernels, helpers, constants, imports), each at its original line so that
  tracebacks point into PATH. ``from vllm.triton_utils import tl, triton`` becomes plain Triton; imports
  inside ``try: ... except ImportError`` stay as written (guarded); any other vLLM import the closure needs
  stays as written when some vLLM is installed, else is an ``ImplError`` naming it.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.util
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["IMPL_ENV", "ImplError", "load_impl", "parse_spec"]

# The env var through which the conformance suite, microbench and e2e driver receive the spec.
IMPL_ENV = "VLLM_KERNEL_CI_IMPL"

# What `vllm.triton_utils` re-exports, as plain Triton.
_TRITON_UTILS = {"triton": "import triton", "tl": "import triton.language"}

_GUARD_EXCEPTIONS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}

# Custom-op names held by implementations already loaded in this process, with the file that holds them.
_LOADED_OPS: dict[str, str] = {}


class ImplError(Exception):
    """A spec that cannot be loaded; the message says what was wrong and what to do."""


def parse_spec(spec: str) -> tuple[Path, str]:
    path, sep, symbol = spec.rpartition("::")
    if not sep or not path or not symbol.isidentifier():
        raise ImplError(
            f"implementation spec {spec!r}: expected PATH::SYMBOL, e.g. /abs/path/kernel.py::my_op"
        )
    file = Path(path)
    if not file.is_absolute():
        raise ImplError(f"implementation spec {spec!r}: PATH must be absolute")
    if file.suffix != ".py" or not file.is_file():
        raise ImplError(f"implementation spec {spec!r}: {file} is not a .py file")
    return file.resolve(), symbol


def load_impl(spec: str) -> Callable:
    """The callable SYMBOL of PATH, imported or built standalone (see the module's docstring)."""
    path, symbol = parse_spec(spec)
    name = _importable_name(path)
    if name is not None:
        try:
            module = importlib.import_module(name)
        except Exception as error:
            raise ImplError(f"{path}: importing {name} failed: {type(error).__name__}: {error}") from error
    else:
        module = _import_file(_standalone_source(path, symbol), path)
    fn = getattr(module, symbol, None)
    if not callable(fn):
        raise ImplError(f"{path}: {symbol} is not a callable of the module")
    _claim_ops(module, path)
    return fn


def _importable_name(path: Path) -> str | None:
    """The dotted name under which `import` finds exactly this file, or None."""
    candidates = []
    vllm = importlib.util.find_spec("vllm")
    for root in (vllm.submodule_search_locations or []) if vllm else []:
        root = Path(root).resolve()
        if path.is_relative_to(root):
            candidates.append(".".join(["vllm", *path.relative_to(root).with_suffix("").parts]))
    if path.parent in {Path(p or ".").resolve() for p in sys.path}:
        candidates.append(path.stem)
    for name in candidates:
        try:
            found = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if found is not None and found.origin and Path(found.origin).resolve() == path:
            return name
    return None


def _statement_lines(node: ast.stmt) -> tuple[int, int]:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)]), node.end_lineno or node.lineno


def _bound_names(node: ast.stmt) -> set[str]:
    """Top-level names a statement binds: imports, defs, assignment targets, also inside try/if blocks."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {alias.asname or alias.name.split(".")[0] for alias in node.names}
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    names: set[str] = set()
    blocks = [getattr(node, f, []) for f in ("body", "orelse", "finalbody")]
    blocks += [h.body for h in getattr(node, "handlers", [])]
    for block in blocks:
        for sub in block:
            names |= _bound_names(sub)
    return names


def _used_names(node: ast.AST, lazy_annotations: bool) -> set[str]:
    """Names a statement reads; annotations are skipped when `from __future__ import annotations` holds."""
    used: set[str] = set()
    stack = [node]
    while stack:
        sub = stack.pop()
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
            used.add(sub.id)
        for field, value in ast.iter_fields(sub):
            if lazy_annotations and field in ("annotation", "returns"):
                continue
            if isinstance(value, ast.AST):
                stack.append(value)
            elif isinstance(value, list):
                stack.extend(v for v in value if isinstance(v, ast.AST))
    return used


def _is_guarded(node: ast.stmt) -> bool:
    if not isinstance(node, ast.Try):
        return False
    for handler in node.handlers:
        if handler.type is None:
            return True
        types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if any(isinstance(t, ast.Name) and t.id in _GUARD_EXCEPTIONS for t in types):
            return True
    return False


def _vllm_module(node: ast.stmt) -> str | None:
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        module = node.module
    elif isinstance(node, ast.Import):
        module = next((a.name for a in node.names if a.name.split(".")[0] == "vllm"), "")
    else:
        return None
    return module if module.split(".")[0] == "vllm" else None


def _rewrite_import(node: ast.stmt, needed: set[str], path: Path) -> str:
    """The text replacing a top-level vLLM import; ImplError when what the closure takes needs vLLM."""
    module = _vllm_module(node)
    wanted = sorted(_bound_names(node) & needed)
    lines = []
    if module == "vllm.triton_utils" and isinstance(node, ast.ImportFrom):
        for alias in node.names:
            if (alias.asname or alias.name) in wanted and alias.name in _TRITON_UTILS:
                wanted.remove(alias.asname or alias.name)
                lines.append(f"{_TRITON_UTILS[alias.name]} as {alias.asname or alias.name}")
    if wanted:
        raise ImplError(
            f"{path}:{node.lineno}: the implementation needs vLLM installed: imports {module}"
            f" ({', '.join(wanted)}); install vLLM from the tree that holds {path.name}, or define the op"
            " without it"
        )
    return "; ".join(lines)


def _standalone_source(path: Path, symbol: str) -> str:
    text = path.read_text()
    original = text.splitlines()
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as error:
        raise ImplError(f"{path}:{error.lineno}: not valid Python: {error.msg}") from error
    lazy = any(
        isinstance(n, ast.ImportFrom)
        and n.module == "__future__"
        and any(a.name == "annotations" for a in n.names)
        for n in tree.body
    )
    statements = [n for n in tree.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
    binders: dict[str, list[int]] = {}
    for i, node in enumerate(statements):
        for name in _bound_names(node):
            binders.setdefault(name, []).append(i)
    if symbol not in binders:
        raise ImplError(f"{path}: no top-level definition of {symbol}")

    def closure(roots: set[str]) -> tuple[set[int], set[str]]:
        chosen: set[int] = set()
        names: set[str] = set()
        todo = list(roots)
        while todo:
            name = todo.pop()
            if name in names:
                continue
            names.add(name)
            for i in binders.get(name, []):
                if i not in chosen:
                    chosen.add(i)
                    todo.extend(_used_names(statements[i], lazy))
        return chosen, names

    vllm_installed = importlib.util.find_spec("vllm") is not None

    def render(chosen: set[int], needed: set[str]) -> dict[int, list[str]]:
        out = {}
        for i in chosen:
            node = statements[i]
            start, end = _statement_lines(node)
            source = original[start - 1 : end]
            module = _vllm_module(node)
            # An installed vLLM (another tree's) serves the imports; Triton's re-export is plain Triton.
            if module and not _is_guarded(node) and (module == "vllm.triton_utils" or not vllm_installed):
                source = [_rewrite_import(node, needed, path)] + [""] * (end - start)
            out[start] = source
        return out

    chosen, needed = closure({symbol})
    chosen |= {
        i for i, n in enumerate(statements) if isinstance(n, ast.ImportFrom) and n.module == "__future__"
    }
    parts = render(chosen, needed)
    # Bare top-level calls (an op registration) run too when they use what the op's closure uses.
    attributes = {
        n.attr for i in chosen for n in ast.walk(statements[i]) if isinstance(n, ast.Attribute)
    } | needed
    for i, node in enumerate(statements):
        if not isinstance(node, ast.Expr) or i in chosen:
            continue
        strings = {
            n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
        }
        if not (strings | _used_names(node, lazy)) & attributes:
            continue
        extra, extra_names = closure(_used_names(node, lazy))
        parts |= render(extra | {i}, needed | extra_names)
    lines = [""] * len(original)
    for start, source in parts.items():
        lines[start - 1 : start - 1 + len(source)] = source
    return "\n".join(lines) + "\n"


def _import_file(source: str, origin: Path):
    """Imports generated source from a real file: Triton's jit reads each kernel's source from its file."""
    digest = hashlib.sha256(f"{origin}\0{source}".encode()).hexdigest()[:16]
    name = f"vllm_kernel_ci_impl_{origin.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    directory = Path(tempfile.gettempdir()) / "vllm-kernel-ci-impl"
    directory.mkdir(parents=True, exist_ok=True)
    file = directory / f"{name}.py"
    if not file.exists():
        partial = file.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(f"{source.rstrip()}\n# built by kernel_impl.py from {origin}\n")
        partial.replace(file)
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except ImportError as error:
        del sys.modules[name]
        raise ImplError(
            f"{origin}: the op's definitions need a module that is not installed: {error}"
        ) from error
    except Exception as error:
        del sys.modules[name]
        raise ImplError(
            f"{origin}: running the op's definitions failed: {type(error).__name__}: {error}"
        ) from error
    return module


def _claim_ops(module, path: Path) -> None:
    """Refuses a second implementation whose custom op resolves to one another file registered."""
    import torch

    for value in vars(module).values():
        if isinstance(value, (torch._ops.OpOverload, torch._ops.OpOverloadPacket)):
            op = str(value)
            holder = _LOADED_OPS.setdefault(op, str(path))
            if holder != str(path):
                raise ImplError(
                    f"{path} and {holder} both register the custom op {op}: in one process the second would"
                    " call the first's kernel; load them in separate processes"
                )
