"""``pfl flow validate`` as a call: every problem of a flow at once, its tools loaded to check them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from promptflow_lite.errors import FlowValidationError, ToolLoadError, UserError, ValidationProblem
from promptflow_lite.flow._model import Node


def validate_flow(source: str | Path, init: dict[str, Any] | None = None) -> tuple[Path, list[ValidationProblem]]:
    """The flow file ``source`` names and its problems (none: valid). A DAG is checked as a whole,
    each python node's file loaded (running its code) to check it defines one tool; a flex flow or a
    prompty is checked without running it (:mod:`._flow_check`), with the init arguments ``init``."""
    from promptflow_lite.flow._loader import flow_kind, load_dag, resolve_flow_path
    from promptflow_lite.flow._validate import find_problems

    file, _ = resolve_flow_path(source)
    if flow_kind(file) != "dag":
        from promptflow_lite.engine._flow_check import script_flow_problems

        return file, script_flow_problems(file, init)
    if init:
        raise UserError("--init applies to flex flows and prompties; this is a DAG flow.", file=str(file),
                        hint="drop --init.")
    try:
        return file, find_problems(load_dag(file), check_tool=tool_problems)
    except FlowValidationError as exc:
        return file, exc.problems


def tool_problems(node: Node, run_dir: Path) -> list[ValidationProblem]:
    """What is wrong with a python node's tool file: it does not load, or defines no or several tools."""
    source = node.source
    if node.type != "python" or source is None or source.type == "package" or not source.path:
        return []
    path = run_dir / source.path
    from promptflow_lite.tools._python_tool import find_tool, load_module

    try:
        find_tool(load_module(path, run_dir), path)
    except ToolLoadError as exc:
        return [ValidationProblem(exc.message, file=exc.file, node=node.name, hint=exc.hint)]
    return []
