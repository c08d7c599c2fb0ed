"""Structural rewrite of kernel call sites in a vLLM tree, driven by a bundle's manifest.

Reads one JSON request on stdin, writes one JSON answer on stdout. Standard library only, any
Python >= 3.8: it runs under whatever interpreter the runner has, without torch or vLLM.

Sites are found with Python's own parser and spliced by byte offsets, so untouched code keeps its
formatting. A rewritten site keeps the original expression verbatim as its fallback branch: that
makes a second run recognise it ("already-applied") and lets revert restore the exact bytes.
"""

from __future__ import annotations

import ast
import bisect
import json
import os
import re
import stat
import sys
from pathlib import Path

PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_]*$")
PY_VERSION = f"{sys.version_info[0]}.{sys.version_info[1]}"
SELF_CALL = re.compile(rb"self\.(\w+)\s*\(")
# vLLM's largest source file is ~0.3 MB: a bigger one is not source to scan (a link to /dev/zero, padding)
MAX_FILE_BYTES = 8 * 1024 * 1024
# what one hostile file can raise in the parser or the analysis: the file becomes an unmatched site, no crash
PARSE_ERRORS = (SyntaxError, ValueError, RecursionError, MemoryError)


class Refused(Exception):
    """A tree path the tool does not read or write: a link, not a regular file, too large, or outside."""


def refusal(root: Path, path: Path) -> str | None:
    """Why `path` may not be read as a file of the tree `root`, or None."""
    rel = path.relative_to(root)
    current = root
    for part in rel.parts:
        current = current / part
        if current.is_symlink():
            return f"{current.relative_to(root).as_posix()} is a symbolic link"
    info = os.lstat(path)
    if not stat.S_ISREG(info.st_mode):
        return "is not a regular file"
    if info.st_size > MAX_FILE_BYTES:
        return f"is larger than {MAX_FILE_BYTES} bytes ({info.st_size})"
    real = os.path.realpath(path)
    if os.path.commonpath([real, os.path.realpath(root)]) != os.path.realpath(root):
        return f"leaves the tree (its real path is {real})"
    return None


def read_tree_file(root: Path, path: Path) -> bytes:
    """The bytes of a tree file, never through a link; raises Refused saying why."""
    why = refusal(root, path)
    if why:
        raise Refused(why)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise Refused("is not a regular file")
        return f.read(MAX_FILE_BYTES + 1)[:MAX_FILE_BYTES]


def write_tree_file(path: Path, data: bytes) -> None:
    """Replaces a regular tree file, never writing through a link."""
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def refused_site(rel: str, why: str) -> dict:
    return {
        "file": rel,
        "line": 0,
        "status": "unmatched",
        "source": "",
        "reason": f"not read: {why}",
    }


def parse_failure(error: Exception) -> str:
    if isinstance(error, RecursionError):
        return f"too deeply nested for Python {PY_VERSION}'s parser or this analysis ({error})"
    if isinstance(error, MemoryError):
        return f"Python {PY_VERSION} ran out of memory parsing it"
    return f"Python {PY_VERSION} cannot parse it: {error}"


class Source:
    """One file's bytes with line offsets, so AST positions (UTF-8 byte columns) become byte offsets."""

    def __init__(self, data: bytes):
        self.data = data
        self.line_starts = [0] + [m.end() for m in re.finditer(b"\n", data)]

    def offset(self, line: int, col: int) -> int:
        return self.line_starts[line - 1] + col

    def span(self, node: ast.AST) -> tuple[int, int]:
        return (
            self.offset(node.lineno, node.col_offset),
            self.offset(node.end_lineno, node.end_col_offset),
        )

    def text(self, node: ast.AST) -> str:
        start, end = self.span(node)
        return self.data[start:end].decode("utf-8")

    def line(self, number: int) -> str:
        start = self.line_starts[number - 1]
        end = self.line_starts[number] if number < len(self.line_starts) else len(self.data)
        return self.data[start:end].decode("utf-8", "replace").rstrip("\r\n")


def unwrap_index(node: ast.AST) -> ast.AST:
    # Python 3.8 wraps subscripts in ast.Index
    index_type = getattr(ast, "Index", None)
    if index_type is not None and isinstance(node, index_type):
        return node.value  # type: ignore[attr-defined]
    return node


def is_pure(node: ast.AST) -> bool:
    """A name or an attribute chain on a name: safe to evaluate twice (guard and call)."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name)


def self_attribute(node: ast.AST) -> str | None:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
        return node.attr
    return None


class Rule:
    """The manifest's rewrite rule, compiled."""

    def __init__(self, spec: dict):
        self.search: list[str] = spec["search"]
        self.required: list[str] = spec.get("required", [])
        self.activation: str = spec["activation"]
        self.gate_attribute = re.compile(spec["gate"]["attributePattern"])
        self.gate_constructors: list[str] = spec["gate"]["constructors"]
        # `self.name = Ctor(` or `self.name: T = mod.Ctor(`, found in the bytes before any file is parsed
        ctors = "|".join(re.escape(c) for c in self.gate_constructors).encode()
        self.gate_assignment = re.compile(
            rb"self\.(\w+)\s*(?::[^=\n]*)?=\s*(?:[\w.]+\.)?(?:" + ctors + rb")\s*\("
        )
        self.gate_output_size: int = spec["gate"]["outputSize"]
        self.placeholders: dict[str, str] = spec["placeholders"]
        self.forms = [
            {"name": f["name"], "pattern": ast.parse(f["pattern"], mode="eval").body} for f in spec["forms"]
        ]
        self.replacement: str = spec["replacement"]
        self.marker: str = spec["marker"]
        self.import_lines: list[str] = [f"{line}  # {self.marker}" for line in spec["imports"]]
        # functions the replacement calls: a conditional calling them is a rewrite, ours or edited by hand
        self.replacement_calls = set(re.findall(r"\b([a-z_][a-z0-9_]*)\(", self.replacement))

    def is_gate_attribute(self, name: str | None) -> bool:
        return name is not None and self.gate_attribute.search(name) is not None

    def mentions_gate(self, pattern: re.Pattern, data: bytes) -> bool:
        return any(
            self.is_gate_attribute(m.group(1).decode("utf-8", "replace")) for m in pattern.finditer(data)
        )

    def is_activation(self, node: ast.AST) -> bool:
        if not isinstance(node, ast.Call):
            return False
        func = node.func
        return (isinstance(func, ast.Name) and func.id == self.activation) or (
            isinstance(func, ast.Attribute) and func.attr == self.activation
        )

    def is_candidate(self, node: ast.AST) -> bool:
        """An activation applied to something computed by calling a self.*gate* module: a gate site."""
        if not self.is_activation(node):
            return False
        for arg in node.args:  # type: ignore[attr-defined]
            for inner in ast.walk(arg):
                if isinstance(inner, ast.Call) and self.is_gate_attribute(self_attribute(inner.func)):
                    return True
        return False

    def placeholder_ok(self, name: str, node: ast.AST) -> bool:
        kind = self.placeholders.get(name, "any")
        if kind == "gate-module":
            return self.is_gate_attribute(self_attribute(node))
        if kind == "pure":
            return is_pure(node)
        return True

    def render(self, bindings: dict[str, str], original: str) -> str:
        values = dict(bindings, ORIGINAL=original)
        return re.sub(
            r"\b[A-Z][A-Z0-9_]*\b",
            lambda m: values.get(m.group(0), m.group(0)),
            self.replacement,
        )


class Matcher:
    """Matches a form (a Python expression with UPPERCASE placeholders) against a node."""

    def __init__(self, rule: Rule, source: Source):
        self.rule = rule
        self.source = source

    def match(self, pattern: ast.AST, node: ast.AST) -> tuple[dict[str, str], bool] | None:
        bindings: dict[str, str] = {}
        swapped = [False]
        if self._match(pattern, node, bindings, swapped):
            return bindings, swapped[0]
        return None

    def _match(
        self,
        pattern: ast.AST,
        node: ast.AST,
        bindings: dict[str, str],
        swapped: list[bool],
    ) -> bool:
        pattern, node = unwrap_index(pattern), unwrap_index(node)
        if isinstance(pattern, ast.Name):
            if PLACEHOLDER.match(pattern.id):
                if not self.rule.placeholder_ok(pattern.id, node):
                    return False
                text = self.source.text(node)
                return bindings.setdefault(pattern.id, text) == text
            # a plain name in a form also matches a qualified one: sigmoid ~ F.sigmoid, torch.sigmoid
            return (isinstance(node, ast.Name) and node.id == pattern.id) or (
                isinstance(node, ast.Attribute) and node.attr == pattern.id
            )
        if isinstance(pattern, ast.BinOp) and isinstance(pattern.op, ast.Mult):
            if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult)):
                return False
            for left, right, order_swapped in (
                (node.left, node.right, False),
                (node.right, node.left, True),
            ):
                trial = dict(bindings)
                if self._match(pattern.left, left, trial, swapped) and self._match(
                    pattern.right, right, trial, swapped
                ):
                    bindings.clear()
                    bindings.update(trial)
                    swapped[0] = swapped[0] or order_swapped
                    return True
            return False
        if type(pattern) is not type(node):
            return False
        for field in pattern._fields:
            if field in ("ctx", "type_comment", "kind"):
                continue
            p, n = getattr(pattern, field, None), getattr(node, field, None)
            if isinstance(p, list):
                if not isinstance(n, list) or len(p) != len(n):
                    return False
                pairs = zip(p, n)  # noqa: B905 (lengths checked; strict= needs 3.10)
                if not all(self._match(pi, ni, bindings, swapped) for pi, ni in pairs):
                    return False
            elif isinstance(p, ast.AST):
                if not isinstance(n, ast.AST) or not self._match(p, n, bindings, swapped):
                    return False
            elif p != n:
                return False
        return True


def one_line(text: str) -> str:
    return re.sub(r"\s*\n\s*", " ", text.strip())


class FilePatch:
    """Everything found in one file, and the edits that move it to the mode's target state."""

    def __init__(self, rule: Rule, rel: str, data: bytes):
        self.rule = rule
        self.rel = rel
        self.source = Source(data)
        self.sites: list[dict] = []
        self.edits: list[tuple[int, int, bytes]] = []
        self.classes_with_sites: set[str] = set()
        self.tree = ast.parse(data, filename=rel)
        self.nodes = list(ast.walk(self.tree))
        self._parent: dict[int, ast.AST] | None = None

    def _ancestors(self, node: ast.AST):
        if self._parent is None:
            # built only for files that have a site: most files have none
            self._parent = {id(c): n for n in self.nodes for c in ast.iter_child_nodes(n)}
        while id(node) in self._parent:
            node = self._parent[id(node)]
            yield node

    def _symbol(self, node: ast.AST) -> str | None:
        names = [
            a.name
            for a in self._ancestors(node)
            if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        ]
        return ".".join(reversed(names)) or None

    def _statement(self, node: ast.AST) -> ast.AST:
        if isinstance(node, ast.stmt):
            return node
        return next((a for a in self._ancestors(node) if isinstance(a, ast.stmt)), node)

    def _site(
        self,
        node: ast.AST,
        status: str,
        form: str | None = None,
        reason: str | None = None,
    ) -> dict:
        stmt = self._statement(node)
        short = stmt.end_lineno - stmt.lineno < 6
        site = {
            "file": self.rel,
            "line": node.lineno,
            "status": status,
            "source": one_line(self.source.text(stmt)) if short else self.source.line(node.lineno).strip(),
            "symbol": self._symbol(node),
        }
        if form:
            site["form"] = form
        if reason:
            site["reason"] = reason
        return site

    def _form_name(self, form: dict, swapped: bool) -> str:
        return f"{form['name']} (operands swapped)" if swapped else form["name"]

    def analyse(self, mode: str) -> None:
        matcher = Matcher(self.rule, self.source)
        claimed: list[tuple[int, int]] = []
        data = self.source.data

        def is_claimed(node: ast.AST) -> bool:
            start, end = self.source.span(node)
            return any(a <= start and end <= b for a, b in claimed)

        # already rewritten: a parenthesised conditional whose fallback is a known form, rendered exactly
        for node in self.nodes:
            if not isinstance(node, ast.IfExp):
                continue
            for form in self.rule.forms:
                found = matcher.match(form["pattern"], node.orelse)
                if not found:
                    continue
                bindings, swapped = found
                start, end = self.source.span(node)
                expected = "(" + self.rule.render(bindings, self.source.text(node.orelse)) + ")"
                if start > 0 and data[start - 1 : end + 1].decode("utf-8", "replace") == expected:
                    claimed.append((start - 1, end + 1))
                    self._record_class(node)
                    if mode == "revert":
                        self.edits.append(
                            (
                                start - 1,
                                end + 1,
                                self.source.text(node.orelse).encode("utf-8"),
                            )
                        )
                        self.sites.append(self._site(node, "applied", self._form_name(form, swapped)))
                    else:
                        self.sites.append(self._site(node, "already-applied", self._form_name(form, swapped)))
                elif self._calls_replacement(node):
                    claimed.append((start, end))
                    self.sites.append(
                        self._site(
                            node,
                            "unmatched",
                            reason="a rewrite of this site was changed by hand",
                        )
                    )
                break

        # not yet rewritten: a known form anywhere else
        for node in self.nodes:
            if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult)) or is_claimed(node):
                continue
            for form in self.rule.forms:
                found = matcher.match(form["pattern"], node)
                if not found:
                    continue
                bindings, swapped = found
                start, end = self.source.span(node)
                claimed.append((start, end))
                self._record_class(node)
                if mode == "revert":
                    self.sites.append(self._site(node, "already-applied", self._form_name(form, swapped)))
                else:
                    text = "(" + self.rule.render(bindings, self.source.text(node)) + ")"
                    self.edits.append((start, end, text.encode("utf-8")))
                    self.sites.append(self._site(node, "applied", self._form_name(form, swapped)))
                break

        # anything else that applies the activation to a gate module: drift, never silent
        for node in self.nodes:
            if self.rule.is_candidate(node) and not is_claimed(node):
                claimed.append(self.source.span(node))
                self.sites.append(
                    self._site(
                        node,
                        "unmatched",
                        reason=f"{self.rule.activation} of a gate module in no known form",
                    )
                )

        patched = any(s["status"] in ("applied", "already-applied") for s in self.sites)
        self._imports(mode, patched)
        if not self.sites:
            self._gate_without_site()
        self.sites.sort(key=lambda s: s["line"])

    def _calls_replacement(self, node: ast.AST) -> bool:
        return any(
            isinstance(inner, ast.Call)
            and isinstance(inner.func, ast.Name)
            and inner.func.id in self.rule.replacement_calls
            for inner in ast.walk(node)
        )

    def _record_class(self, node: ast.AST) -> None:
        symbol = self._symbol(node) or ""
        if symbol:
            self.classes_with_sites.add(symbol.split(".")[0])

    def _imports(self, mode: str, patched: bool) -> None:
        data = self.source.data
        newline = b"\r\n" if b"\r\n" in data else b"\n"
        present = {
            line: self._find_line(line) for line in self.rule.import_lines
        }  # line text -> line number or None
        if mode == "revert":
            for number in present.values():
                if number is not None:
                    start = self.source.line_starts[number - 1]
                    self.edits.append((start, self._line_end(number), b""))
            return
        missing = [line for line, number in present.items() if number is None]
        if not patched or not missing:
            return
        at = self._import_offset()
        block = b"".join(line.encode("utf-8") + newline for line in missing)
        if at == len(data) and data and not data.endswith(b"\n"):
            block = newline + block
        self.edits.append((at, at, block))

    def _find_line(self, text: str) -> int | None:
        found = re.search(rb"(?m)^" + re.escape(text.encode("utf-8")) + rb"\r?$", self.source.data)
        return bisect.bisect_right(self.source.line_starts, found.start()) if found else None

    def _import_offset(self) -> int:
        """After the module's leading imports (past its docstring and any __future__ import)."""
        body = self.tree.body
        last: ast.stmt | None = None
        for index, stmt in enumerate(body):
            is_docstring = (
                index == 0
                and isinstance(stmt, ast.Expr)
                and isinstance(stmt.value, ast.Constant)
                and isinstance(stmt.value.value, str)
            )
            if is_docstring or isinstance(stmt, (ast.Import, ast.ImportFrom)):
                last = stmt
            else:
                break
        if last is None:
            return self.source.offset(body[0].lineno, 0) if body else len(self.source.data)
        return self._line_end(last.end_lineno)

    def _line_end(self, number: int) -> int:
        """Offset just past line `number` and its newline."""
        starts = self.source.line_starts
        return starts[number] if number < len(starts) else len(self.source.data)

    def _gate_without_site(self) -> None:
        """A file that builds a gate module but neither applies it in a known form nor hands it on."""
        handed_on: set[str] = set()
        for node in self.nodes:
            if isinstance(node, ast.Call):
                for value in [*node.args, *(k.value for k in node.keywords)]:
                    name = self_attribute(value)
                    if name:
                        handed_on.add(name)
        for node in self.nodes:
            target = None
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                target = node.target
            name = self_attribute(target) if target is not None else None
            if not self.rule.is_gate_attribute(name) or not self._builds_gate(node.value):
                continue
            if name not in handed_on:
                self.sites.append(
                    self._site(
                        node,
                        "unmatched",
                        reason=f"builds self.{name} but applies it in no known form and hands it to nothing",
                    )
                )

    def _builds_gate(self, value: ast.AST | None) -> bool:
        if not isinstance(value, ast.Call):
            return False
        func = value.func
        ctor = getattr(func, "id", None) or getattr(func, "attr", None)
        if ctor not in self.rule.gate_constructors:
            return False
        size = value.args[1] if len(value.args) > 1 else None
        for keyword in value.keywords:
            if keyword.arg in ("output_size", "out_features"):
                size = keyword.value
        return isinstance(size, ast.Constant) and size.value == self.rule.gate_output_size

    def result(self) -> bytes:
        data = self.source.data
        for start, end, text in sorted(self.edits, key=lambda e: (e[0], e[1]), reverse=True):
            data = data[:start] + text + data[end:]
        return data


def module_name(rel: str) -> str:
    name = rel[: -len(".py")].replace("/", ".")
    return name[: -len(".__init__")] if name.endswith(".__init__") else name


def covered_models(root: Path, files: list[Path], holders: dict[str, set[str]]) -> list[str]:
    """Model files that import a class holding a patched site (e.g. `Qwen2MoeMLP as Qwen3NextMLP`)."""
    covered: list[str] = []
    wanted = {cls.encode() for classes in holders.values() for cls in classes}
    for path in files:
        rel = path.relative_to(root).as_posix()
        try:
            data = read_tree_file(root, path)
        except Refused:
            continue  # run() reported it
        if not any(name in data for name in wanted):
            continue
        try:
            tree = ast.parse(data, filename=rel)
        except PARSE_ERRORS:
            continue
        package = module_name(rel).rsplit(".", 1)[0]
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            classes = holders.get(module, set())
            for alias in node.names:
                if alias.name in classes and module != module_name(rel):
                    shown = f"{alias.name} as {alias.asname}" if alias.asname else alias.name
                    covered.append(f"{Path(rel).stem} ({shown} from {module.rsplit('.', 1)[-1]})")
    return sorted(set(covered))


def run(request: dict) -> dict:
    root = Path(request["root"])
    mode = request["mode"]
    rule = Rule(request["rule"])
    files: list[Path] = []
    for pattern in rule.search:
        # a link counts too (is_file follows it), so it is refused by name below
        files.extend(p for p in root.glob(pattern) if p.is_file() or p.is_symlink())
    files = sorted(set(files))

    sites: list[dict] = []
    written: list[str] = []
    holders: dict[str, set[str]] = {}
    for rel in rule.required:
        if not (root / rel).is_file():
            sites.append(
                {
                    "file": rel,
                    "line": 0,
                    "status": "missing-file",
                    "source": "",
                    "reason": "the manifest expects a gate site in this file",
                }
            )
    activation = rule.activation.encode()
    for path in files:
        rel = path.relative_to(root).as_posix()
        try:
            data = read_tree_file(root, path)
        except Refused as why:
            sites.append(refused_site(rel, str(why)))
            continue
        has_activation = activation in data
        # only a file calling a gate module beside the activation, or building a gate, is parsed
        if not (has_activation and rule.mentions_gate(SELF_CALL, data)) and not rule.mentions_gate(
            rule.gate_assignment, data
        ):
            continue
        try:
            patch = FilePatch(rule, rel, data)
            patch.analyse(mode)
        except PARSE_ERRORS as error:
            if has_activation:
                line = getattr(error, "lineno", None) or 0
                sites.append(
                    {
                        "file": rel,
                        "line": line,
                        "status": "unmatched",
                        "source": Source(data).line(line).strip() if line else "",
                        "reason": parse_failure(error),
                    }
                )
            continue
        sites.extend(patch.sites)
        if patch.classes_with_sites:
            holders.setdefault(module_name(rel), set()).update(patch.classes_with_sites)
        if not patch.edits:
            continue
        new = patch.result()
        try:
            ast.parse(new, filename=rel)
        except PARSE_ERRORS as error:
            for site in patch.sites:
                if site["status"] == "applied":
                    site["status"] = "unmatched"
                    site["reason"] = f"the rewritten file would not parse ({error}); left unchanged"
            continue
        if mode != "check" and new != data:
            write_tree_file(path, new)
            written.append(rel)
    return {
        "sites": sites,
        "written": written,
        "coveredModels": covered_models(root, files, holders),
        "python": sys.version.split()[0],
    }


class ModuleShapes:
    """What a file says about the shape of a `self.<module>.weight`: the Linear that builds the module,
    followed through constructor parameters to the classes of the same file that hand the module on."""

    def __init__(self, tree: ast.Module, rel: str):
        self.rel = rel
        self.attrs: dict[tuple[str, str], list[ast.AST]] = {}
        self.init_params: dict[str, list[str]] = {}
        self.constructions: dict[str, list[tuple[str | None, dict[str, ast.AST]]]] = {}
        classes = [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
        for cls in classes:
            for node in ast.walk(cls):
                if isinstance(node, ast.FunctionDef) and node.name == "__init__":
                    self.init_params[cls.name] = [a.arg for a in [*node.args.args, *node.args.kwonlyargs]][1:]
                target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None
                if isinstance(node, ast.AnnAssign) and node.value is not None:
                    target = node.target
                name = self_attribute(target) if target is not None else None
                if name:
                    self.attrs.setdefault((cls.name, name), []).append(node.value)  # type: ignore[attr-defined]
        names = {c.name for c in classes}
        for holder in [None, *classes]:
            for node in ast.walk(holder or tree):
                if not isinstance(node, ast.Call):
                    continue
                called = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if called in names:
                    self.constructions.setdefault(called, []).append((holder.name if holder else None, node))
        # a call inside a class is also inside the module: keep the innermost holder only
        for called, found in self.constructions.items():
            inner = {id(node) for holder, node in found if holder}
            self.constructions[called] = [(h, n) for h, n in found if h or id(n) not in inner]

    def passed(self, cls: str, param: str) -> list[tuple[str | None, ast.AST]]:
        """The values the file's constructions of `cls` pass for `param` (by keyword or position)."""
        params = self.init_params.get(cls, [])
        out = []
        for holder, call in self.constructions.get(cls, []):
            for keyword in call.keywords:
                if keyword.arg == param:
                    out.append((holder, keyword.value))
            if param in params and params.index(param) < len(call.args):
                out.append((holder, call.args[params.index(param)]))
        return out

    def module_shapes(self, cls: str | None, name: str, depth: int = 0) -> tuple[set[str], str] | None:
        """Shapes of `self.name.weight` in `cls` and where its Linear is built; None: cannot be told."""
        values = self.attrs.get((cls, name), []) if cls else []
        if not values or depth > 4:
            return None
        shapes: set[str] = set()
        origin = ""
        for value in values:
            if isinstance(value, ast.Constant) and value.value is None:
                continue
            found = None
            if isinstance(value, ast.Call):
                found = self._linear(value)
            elif isinstance(value, ast.Name) and value.id in self.init_params.get(cls or "", []):
                passed = self.passed(cls or "", value.id)
                parts = [self.module_shapes(h, self_attribute(v) or "", depth + 1) for h, v in passed]
                if passed and all(parts):
                    found = (set().union(*(p[0] for p in parts)), parts[0][1])  # type: ignore[index]
            if found is None:
                return None
            shapes |= found[0]
            origin = origin or found[1]
        return (shapes, origin) if shapes else None

    def _linear(self, call: ast.Call) -> tuple[set[str], str] | None:
        """A Linear module's weight is [out features, in features]: [1, K] for a gate of one output."""
        ctor = getattr(call.func, "id", None) or getattr(call.func, "attr", None) or ""
        if not ctor.endswith("Linear"):
            return None
        size = call.args[1] if len(call.args) > 1 else None
        for keyword in call.keywords:
            if keyword.arg in ("output_size", "out_features"):
                size = keyword.value
        if not (isinstance(size, ast.Constant) and isinstance(size.value, int)):
            return None
        return {f"[{size.value}, K]"}, f"{self.rel}:{call.lineno}"

    def argument(self, node: ast.AST, cls: str | None, name: str | None = None) -> dict:
        """One argument of a call of the op: its source and, for `self.<module>.weight`, its shapes."""
        arg: dict = {"source": ast.unparse(node)}
        if name:
            arg["name"] = name
        if isinstance(node, ast.Starred):
            arg["starred"] = True
        if isinstance(node, ast.Attribute) and node.attr == "weight" and self_attribute(node.value):
            found = self.module_shapes(cls, node.value.attr)  # type: ignore[attr-defined]
            if found:
                arg["shapes"], arg["origin"] = sorted(found[0]), found[1]
        return arg


class OpScan(ast.NodeVisitor):
    """Definitions of the op's name (at any level) and calls of it (by name or attribute, any arguments)."""

    def __init__(self, op: str, rel: str, source: Source, shapes: ModuleShapes | None = None):
        self.op = op
        self.rel = rel
        self.source = source
        self.shapes = shapes
        self.classes: list[str] = []
        self.scopes: list[str] = []
        self.conditional: list[ast.AST] = []
        self.definitions: list[dict] = []
        self.sites: list[dict] = []
        self.aliases: set[str] = set()

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        # `from ... import op as other`: calls of `other` are calls of the op
        self.aliases.update(a.asname for a in node.names if a.name == self.op and a.asname)

    def _scoped(self, node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == self.op:
            params = [a.arg for a in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]]
            self.definitions.append(
                {
                    "file": self.rel,
                    "line": node.lineno,
                    "symbol": ".".join([*self.scopes, node.name]),
                    "params": params[1:] if self.scopes and params[:1] == ["self"] else params,
                }
            )
        is_class = isinstance(node, ast.ClassDef)
        if is_class:
            self.classes.append(node.name)  # type: ignore[attr-defined]
        self.scopes.append(node.name)  # type: ignore[attr-defined]
        self.generic_visit(node)
        self.scopes.pop()
        if is_class:
            self.classes.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scoped  # noqa: N815 (NodeVisitor's names)

    def visit_IfExp(self, node: ast.IfExp) -> None:
        self.visit(node.test)
        self.conditional.append(node)
        self.visit(node.body)
        self.visit(node.orelse)
        self.conditional.pop()

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = (
            func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        )
        if name == self.op or (isinstance(func, ast.Name) and func.id in self.aliases):
            line = self.source.line(node.lineno).strip()
            self.sites.append(
                {
                    "file": self.rel,
                    "line": node.lineno,
                    "status": "tree-native",
                    "source": line,
                    "form": "conditional call" if self.conditional else "call",
                    "args": self._arguments(node),
                }
            )
            if self.scopes:
                self.sites[-1]["symbol"] = ".".join(self.scopes)
        self.generic_visit(node)

    def _arguments(self, node: ast.Call) -> list[dict]:
        shapes = self.shapes or ModuleShapes(ast.Module(body=[], type_ignores=[]), self.rel)
        cls = self.classes[-1] if self.classes else None
        return [shapes.argument(a, cls) for a in node.args] + [
            shapes.argument(k.value, cls, k.arg)
            if k.arg
            else {"source": f"**{ast.unparse(k.value)}", "starred": True}
            for k in node.keywords
        ]


def scan(request: dict) -> dict:
    """Where the tree defines the op and every call of it under vllm/: nothing is written."""
    root = Path(request["root"])
    op: str = request["op"]
    needle = op.encode()
    definitions: list[dict] = []
    sites: list[dict] = []
    for path in sorted((root / "vllm").rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if path.is_dir() and not path.is_symlink():
            continue
        try:
            data = read_tree_file(root, path)
        except Refused as why:
            sites.append(refused_site(rel, str(why)))
            continue
        if needle not in data:
            continue
        try:
            tree = ast.parse(data, filename=rel)
            visitor = OpScan(op, rel, Source(data), ModuleShapes(tree, rel))
            visitor.visit(tree)
        except PARSE_ERRORS as error:
            line = getattr(error, "lineno", None) or 0
            reason = f"mentions {op} but {parse_failure(error)}"
            source = Source(data).line(line).strip() if line else ""
            sites.append(
                {
                    "file": rel,
                    "line": line,
                    "status": "unmatched",
                    "source": source,
                    "reason": reason,
                }
            )
            continue
        definitions.extend(visitor.definitions)
        sites.extend(visitor.sites)
    return {
        "definitions": definitions,
        "sites": sites,
        "python": sys.version.split()[0],
    }


def main() -> int:
    request = json.load(sys.stdin)
    json.dump(scan(request) if request["mode"] == "scan" else run(request), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
