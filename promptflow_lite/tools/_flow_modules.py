"""The modules a flow's code imports from its own folder, kept apart from another flow's of the same name.

Flows import their siblings by plain name (``from helpers import judge``), as promptflow runs them. Python
caches a module by name in ``sys.modules``, so in one process (an evaluation run over a base run, ``pfl
eval``, the app, a Ray worker) the second flow would get the first one's ``helpers``. ``own_modules(folder)``
wraps the loading of a flow's code: other flows' modules are out of ``sys.modules`` meanwhile and this
folder's from earlier loads are back, the folder is first on ``sys.path``, and the modules imported from
it are remembered. Only names the flow's folder has a file for are kept apart: a flow importing a module
it does not have (a sub-flow using its parent flow's module) shares the one loaded. Each flow's code
keeps the module objects it imported; a name both flows have is left to the flow loaded last, for
imports made later while lines run.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Iterator

_imported: dict[str, dict[str, ModuleType]] = {}  # a flow folder -> the modules imported from it, by name
_LIBRARY = ("promptflow_lite", "promptflow")  # never a flow's own, even when the flow folder holds the library


@contextmanager
def own_modules(folder: str | Path) -> Iterator[None]:
    """Load code from flow folder ``folder`` with its own modules (see the module docstring)."""
    key = os.path.realpath(folder)
    _forget_removed_folders()
    others = {name: module for owner, modules in _imported.items() if owner != key
              for name, module in modules.items() if _provides(key, name)}
    set_aside = {name: sys.modules.pop(name) for name, module in others.items() if sys.modules.get(name) is module}
    sys.modules.update(_imported.get(key, {}))
    _first_on_path(str(folder))
    before = set(sys.modules)
    try:
        yield
    finally:
        found = {name: sys.modules[name] for name in set(sys.modules) - before
                 if _from_folder(name, sys.modules[name], key)}
        if found:
            _imported.setdefault(key, {}).update(found)
        for name, module in set_aside.items():
            sys.modules.setdefault(name, module)


def _provides(folder: str, name: str) -> bool:
    """Whether ``folder`` has a module or package of its own for module ``name`` (never the library itself)."""
    top = name.partition(".")[0]
    return top not in _LIBRARY and (os.path.isfile(os.path.join(folder, top + ".py"))
                                    or os.path.isdir(os.path.join(folder, top)))


def _from_folder(name: str, module: ModuleType, folder: str) -> bool:
    """Whether ``module`` is ``folder``'s own (not an installed package that happens to live below it)."""
    file = getattr(module, "__file__", None)
    return _provides(folder, name) and bool(file) and os.path.realpath(file).startswith(folder + os.sep)


def _first_on_path(folder: str) -> None:
    if sys.path[:1] != [folder]:
        if folder in sys.path:
            sys.path.remove(folder)
        sys.path.insert(0, folder)


def _forget_removed_folders() -> None:
    """Drop what came from folders that are gone (a run's temporary copy of its flow)."""
    for folder in [folder for folder in _imported if not os.path.isdir(folder)]:
        del _imported[folder]
