"""Evaluators by name: ``evaluator_path("f1_score")`` → its flow folder.

``EVALUATORS`` holds the built-in evaluators - ordinary promptflow flow folders that ship as
``promptflow_lite.evaluators`` (``evaluators/`` at the top of a source checkout) - then what installed
packages register in the entry-point group ``promptflow_lite.evaluators`` (a flow folder's path, or
a package whose folder is the flow), then what ``register_evaluator`` adds in this process.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

from promptflow_lite._registry import Registry
from promptflow_lite.errors import UserError

_PACKAGE = Path(__file__).resolve().parent.parent


def evaluators_root() -> Path:
    """The folder holding the built-in evaluator flows: inside the installed package, or the checkout's."""
    for candidate in (_PACKAGE / "evaluators", _PACKAGE.parent / "evaluators"):
        if (candidate / "exact_match" / "flow.dag.yaml").is_file():
            return candidate
    raise UserError(
        "The built-in evaluators are missing from this installation.",
        hint="reinstall promptflow_lite, or pass the path of an evaluation flow instead of a built-in name.",
    )


def _builtins() -> dict[str, Path]:
    root = evaluators_root()
    return {p.name: p for p in sorted(root.iterdir()) if (p / "flow.dag.yaml").is_file()}


def _flow_folder(value: Any) -> Path:
    """What an entry point names: a path, or a package (module) whose folder is the flow."""
    if isinstance(value, ModuleType):
        return Path(next(iter(getattr(value, "__path__", []))) if hasattr(value, "__path__")
                    else Path(value.__file__).parent)
    return Path(value)


EVALUATORS: Registry[Path] = Registry("evaluator", "promptflow_lite.evaluators", builtins=_builtins,
                                      convert=_flow_folder)


def builtin_names() -> list[str]:
    """Names of the built-in evaluators, sorted."""
    return sorted(_builtins())


def evaluator_names() -> list[str]:
    """Every evaluator name known: built-in, installed and registered."""
    return EVALUATORS.names()


def evaluator_path(name: str) -> Path:
    """The flow folder of evaluator ``name``; an unknown name gets an error listing the known ones."""
    return EVALUATORS.get(name)


def register_evaluator(name: str, flow: str | Path) -> None:
    """Make the evaluation flow folder ``flow`` the evaluator ``name`` in this process (``-e name``)."""
    EVALUATORS.register(name, Path(flow).resolve())
