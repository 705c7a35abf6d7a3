"""The package's layers run one way and no modules import each other (ARCHITECTURE.md, "Layers, checked").

An AST walk over ``promptflow_lite/`` (and ``ui/``, which ships as ``promptflow_lite.ui``) collects every ``import`` / ``from ... import`` - module-level and
inside functions (lazy imports) alike - and fails on an import of a higher layer or on any import
cycle. Imports under ``if TYPE_CHECKING:`` never run: they count for the direction of layers, not
for cycles. Names that faces resolve from strings (``_lazy.lazy_exports`` tables, the ``promptflow``
alias in ``_compat``) are data, checked by ``test_every_public_name_resolves``.
"""

from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass
from pathlib import Path

import promptflow_lite

PACKAGE = Path(promptflow_lite.__file__).parent
MAPPED = {"promptflow_lite.ui": PACKAGE.parent / "ui"}  # folders the wheel maps into the package

# lowest first: a module may import its own layer and the layers before it, never a later one
LAYERS = [
    {"_version", "_lazy", "_registry", "_sqlite", "_gc", "_build", "errors", "home", "masking", "settings"},
    {"_compat", "connections"},
    {"flow"},
    {"tools", "testing"},
    {"engine"},
    {"tracing"},
    {"runs"},
    {"evaluate"},
    {"serve"},
    {"cli", "ui"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


@dataclass(frozen=True)
class Import:
    source: str  # importing module
    target: str  # imported module
    line: int
    typing_only: bool  # under ``if TYPE_CHECKING:``


def modules() -> dict[str, Path]:
    found = {}
    for prefix, folder in [("promptflow_lite", PACKAGE), *MAPPED.items()]:
        for path in folder.rglob("*.py"):
            parts = prefix.split(".") + list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports() -> list[Import]:
    known = modules()
    found = []
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        typing_only = {id(n) for block in ast.walk(tree) if _is_type_checking_block(block)
                       for n in ast.walk(block)}
        for node in ast.walk(tree):
            for target in _targets(node, package, known):
                if target != name:
                    found.append(Import(name, target, node.lineno, id(node) in typing_only))
    return found


def _is_type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (getattr(test, "id", None) == "TYPE_CHECKING"
                                         or getattr(test, "attr", None) == "TYPE_CHECKING")


def _targets(node: ast.AST, package: str, known: dict[str, Path]) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in known]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([node.module] if node.module
                                                                                          else []))
    else:
        base = node.module or ""
    targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
    return [t for t in targets if t in known]


def layer(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def test_every_module_has_a_layer():
    unplaced = sorted({layer(m) for m in modules() if layer(m) and layer(m) not in RANK})
    assert not unplaced, (f"promptflow_lite.{unplaced[0]} is in no layer. Fix: add it to LAYERS in {__file__} "
                          "(and to ARCHITECTURE's order), below everything that imports it.")


def test_no_upward_import():
    upward = [f"{i.source} (line {i.line}) imports {i.target}: layer '{layer(i.source)}' may not import "
              f"'{layer(i.target)}', which is above it"
              for i in imports() if layer(i.source) and RANK.get(layer(i.source), 99) < RANK.get(layer(i.target), -1)]
    assert not upward, ("Upward imports (fix: move the shared piece down, or let the lower layer define a hook "
                        "that the higher one installs, as engine/_hooks.py does for tracing):\n  "
                        + "\n  ".join(upward))


def test_no_import_cycle():
    graph: dict[str, set[str]] = {}
    for i in imports():
        if not i.typing_only:
            graph.setdefault(i.source, set()).add(i.target)
    cycles = _cycles(graph)
    assert not cycles, ("Import cycles (fix: move what both need into a module below them):\n  "
                        + "\n  ".join(" -> ".join(c + [c[0]]) for c in cycles))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(_path_around(min(component), set(component), graph))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _path_around(start: str, component: set[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest cycle through ``start`` inside its component, as the modules along it."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for v in frontier:
            for w in sorted(graph.get(v, set()) & component):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return path[::-1]
                if w not in previous:
                    previous[w] = v
                    following.append(w)
        frontier = following
    return sorted(component)


def test_the_check_sees_lazy_imports_and_cycles(tmp_path):
    """The walk finds an import inside a function, and a cycle through it."""
    tree = ast.parse("def f():\n    from promptflow_lite.engine import _flow\n")
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom))
    assert _targets(node, "promptflow_lite.flow", modules()) == ["promptflow_lite.engine._flow"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_public_name_resolves():
    """Each package face (``__all__``) and the ``promptflow`` alias resolve every name they list."""
    from promptflow_lite._compat import NAMESPACES

    faces = ["promptflow_lite"] + [m for m, p in modules().items() if p.name == "__init__.py"
                                   and not any(part.startswith("_") for part in m.split("."))]
    for face in faces:
        module = importlib.import_module(face)
        for name in getattr(module, "__all__", []):
            assert getattr(module, name) is not None, f"{face}.{name}"
    for table in NAMESPACES.values():
        for target in table.values():
            module, _, attr = target.partition(":")
            assert getattr(importlib.import_module(module), attr) is not None, target
