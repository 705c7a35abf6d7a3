"""Load the tool of a python node from its source file (FLOW_FORMAT §1.6).

The file is executed as a fresh module named ``__pf_main__`` (``__file__`` set, the flow folder first on
``sys.path`` so sibling imports work - its own siblings, not another loaded flow's (:mod:`._flow_modules`) -,
promptflow imports served by the compatibility layer). It must define exactly one ``@tool`` function, or
one ``ToolProvider`` subclass with one ``@tool`` method.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from promptflow_lite.errors import ToolLoadError
from promptflow_lite.tools._decorator import ToolProvider, is_tool


MAIN_MODULE = "__pf_main__"  # promptflow runs each tool file as a script of this name


def load_module(file: Path, working_dir: Path) -> ModuleType:
    """Execute ``file`` as a new module named ``__pf_main__`` (as promptflow does; the last loaded one is
    ``sys.modules["__pf_main__"]``); errors name the file and the exception."""
    from promptflow_lite._compat import promptflow_alias
    from promptflow_lite.tools._flow_modules import own_modules

    spec = importlib.util.spec_from_file_location(MAIN_MODULE, file)
    if spec is None or spec.loader is None:
        raise ToolLoadError(f"Cannot load '{file.name}' as a python module.", file=str(file))
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(MAIN_MODULE)
    sys.modules[MAIN_MODULE] = module  # the module being loaded is the "main" one, as a script is
    try:
        with own_modules(working_dir), promptflow_alias():
            spec.loader.exec_module(module)
    except Exception as exc:
        if previous is None:
            sys.modules.pop(MAIN_MODULE, None)
        else:
            sys.modules[MAIN_MODULE] = previous
        raise ToolLoadError(f"Failed to load the module: ({type(exc).__name__}) {exc}", file=str(file),
                            hint="fix the error in this file (it runs when the flow is loaded).") from exc
    return module


def find_tool(module: ModuleType, file: Path) -> tuple[Any, type | None]:
    """``(function, None)`` for a ``@tool`` function, ``(unbound method, provider class)`` for a ToolProvider."""
    functions = [obj for obj in vars(module).values()
                 if inspect.isfunction(obj) and is_tool(obj) and obj.__module__ == module.__name__]
    providers = []
    for obj in vars(module).values():
        if inspect.isclass(obj) and issubclass(obj, ToolProvider) and obj.__module__ == module.__name__:
            methods = [m for m in vars(obj).values() if inspect.isfunction(m) and is_tool(m)]
            providers += [(m, obj) for m in methods]
    found = [(f, None) for f in functions] + providers
    if not found:
        raise ToolLoadError("No tool found: the file defines no @tool function.", file=str(file),
                            hint="decorate the node's function with @tool (from promptflow.core import tool).")
    if len(found) > 1:
        names = ", ".join(f.__name__ for f, _ in found)
        raise ToolLoadError(f"Multiple tools found ({names}); a node's file must define exactly one @tool.",
                            file=str(file), hint="move the other tools to their own files or drop their @tool.")
    return found[0]
