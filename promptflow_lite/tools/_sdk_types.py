"""The openai SDK's type packages, loaded a module at a time as they are used rather than all on import.

``import openai`` builds every API type the SDK has (~650 pydantic models in ~470 modules, ~40 % of the
import's CPU) because ``openai/types/__init__.py`` and each of its sub-packages re-export all of their
modules' names. A program that sends chat, completion and embedding requests needs a few dozen of them.
While :func:`lazy_types` is installed (``sys.meta_path``), a package under ``openai.types`` whose
``__init__`` only re-exports (``from .module import Name as Name``, as all of them do) is created empty
and imports a module when one of its names is first read (``openai.types.chat.ChatCompletion``,
``from openai.types import Batch``, ``dir()``, ``import *``). The names, classes and modules are the SDK's
own; only when they are built changes. A package whose ``__init__`` does anything else loads as it is.
"""

from __future__ import annotations

import __future__
import ast
import importlib
import importlib.machinery
import sys
from types import ModuleType
from typing import Any

PACKAGE = "openai.types"
FUTURE = "__future__"  # a name the package's ``from __future__ import ...`` binds (``annotations``)


class _LazyTypesFinder:
    """Finds packages under ``openai.types`` as the import system would, and loads them lazily."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != PACKAGE and not name.startswith(PACKAGE + "."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is None or spec.submodule_search_locations is None or not spec.has_location:
            return spec  # a module (not a package), or not found: the import system goes on as usual
        exports = _reexports(spec.origin)
        if exports is not None:
            spec.loader = _LazyPackageLoader(spec.loader, exports)
        return spec


class _LazyPackageLoader:
    """Creates the package without running its ``__init__``: its names resolve on first use."""

    def __init__(self, loader: Any, exports: dict[str, tuple[str, str]]):
        self.loader = loader
        self.exports = exports  # exported name -> (the submodule that defines it, its name there)

    def create_module(self, spec: Any) -> None:
        return None  # the default module object

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = module.__spec__.loader = self.loader  # reloads and tools see the SDK's own loader
        exports, package = self.exports, module.__name__
        for name, (where, _) in exports.items():
            if where == FUTURE:
                setattr(module, name, getattr(__future__, name))

        def __getattr__(name: str) -> Any:
            where = exports.get(name)
            if where is None:
                if name.startswith("__"):
                    raise AttributeError(f"module {package!r} has no attribute {name!r}")
                return _submodule(package, name)
            value = getattr(importlib.import_module(f"{package}.{where[0]}"), where[1])
            setattr(module, name, value)  # read from the module from now on
            return value

        module.__getattr__ = __getattr__
        module.__dir__ = lambda: sorted(set(vars(module)) | set(exports))
        module.__all__ = list(exports)  # ``from package import *`` brings every name, as before


def _submodule(package: str, name: str) -> ModuleType:
    """``package.name`` read as an attribute before anything imported it (the eager ``__init__`` had)."""
    try:
        return importlib.import_module(f"{package}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{package}.{name}":
            raise
    raise AttributeError(f"module {package!r} has no attribute {name!r}")


def _reexports(init_file: str) -> dict[str, tuple[str, str]] | None:
    """``{name: (submodule, its name there)}`` when ``init_file`` only re-exports names of its package's
    modules (none named as one of those modules, which importing it would overwrite), else None."""
    try:
        with open(init_file, encoding="utf-8") as f:
            tree = ast.parse(f.read(), init_file)
    except (OSError, SyntaxError, ValueError):
        return None
    exports: dict[str, tuple[str, str]] = {}
    futures: list[str] = []
    for statement in tree.body:
        if isinstance(statement, ast.ImportFrom) and statement.module == "__future__":
            futures.extend(alias.name for alias in statement.names)  # bound in the package, as the import does
            continue
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue  # a docstring
        if not (isinstance(statement, ast.ImportFrom) and statement.level == 1 and statement.module):
            return None
        for alias in statement.names:
            if alias.name == "*":
                return None
            exports[alias.asname or alias.name] = (statement.module, alias.name)
    modules = {module.split(".")[0] for module, _ in exports.values()}
    if modules & exports.keys():
        return None
    return {**exports, **{name: (FUTURE, name) for name in futures}}


_FINDER = _LazyTypesFinder()


def lazy_types() -> None:
    """From now on, packages of ``openai.types`` not yet imported load lazily (idempotent)."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
