"""Where the built-in evaluators live, by name: ``evaluator_path("f1_score")`` → the flow folder.

The evaluators are ordinary promptflow flow folders: ``evaluators/`` at the repository root in a
source checkout (and editable installs), ``promptflow_lite/evaluators/`` once pip-installed.
"""

from __future__ import annotations

from pathlib import Path

from promptflow_lite.errors import UserError

_PACKAGE = Path(__file__).resolve().parent.parent


def evaluators_root() -> Path:
    """The folder holding the built-in evaluator flows."""
    for candidate in (_PACKAGE / "evaluators", _PACKAGE.parent / "evaluators"):
        if (candidate / "exact_match" / "flow.dag.yaml").is_file():
            return candidate
    raise UserError(
        "The built-in evaluators are missing from this installation.",
        hint="reinstall promptflow_lite, or pass the path of an evaluation flow instead of a built-in name.",
    )


def builtin_names() -> list[str]:
    """Names of the built-in evaluators, sorted."""
    root = evaluators_root()
    return sorted(p.name for p in root.iterdir() if (p / "flow.dag.yaml").is_file())


def evaluator_path(name: str) -> Path:
    """The flow folder of built-in evaluator ``name``; an unknown name gets an error listing the built-ins."""
    names = builtin_names()
    if name not in names:
        raise UserError(
            f"Unknown evaluator '{name}'.",
            hint=f"use a built-in evaluator ({', '.join(names)}) or the path of an evaluation flow folder.",
        )
    return evaluators_root() / name
