"""Checking a flex or prompty flow without running it: no class instance, no connection, no secret.

``script_flow_problems`` is what ``pfl flow validate`` reports for them. A flex flow: its YAML, its
entry (imported, never called or instantiated), the YAML's ``init`` / ``inputs`` against the
signatures, ``__aggregate__``, and - when init arguments are given - their names and shapes (a
model configuration's fields, a connection given by name) without fetching any connection. A
prompty: its front matter, the model configuration's shape and type, and its template's syntax.
"""

from __future__ import annotations

import functools
import inspect
import types
from pathlib import Path
from typing import Any, Callable

from promptflow_lite.errors import PflError, ValidationProblem


def script_flow_problems(file: Path, init: dict[str, Any] | None = None) -> list[ValidationProblem]:
    """Every problem found in the flex flow or prompty ``file``; ``init`` are the init arguments to check."""
    try:
        if file.suffix == ".prompty":
            return _prompty_problems(file, init or {})
        return _flex_problems(file, init or {})
    except PflError as exc:  # the file cannot be read far enough to check more
        return [_problem(exc)]


def _problem(exc: PflError) -> ValidationProblem:
    return ValidationProblem(exc.message, hint=exc.hint, file=exc.file, node=exc.node, line=exc.line)


# ---------------------------------------------------------------------------------------------
# flex flows


def _flex_problems(file: Path, init: dict[str, Any]) -> list[ValidationProblem]:
    from promptflow_lite.engine._entry import check_entry_interface, import_entry
    from promptflow_lite.flow._flex import load_flex_yaml
    from promptflow_lite.engine._flow import working_directory
    from promptflow_lite.flow._includes import merge_includes, resolve_includes

    flex = load_flex_yaml(file)
    where = str(flex.path)
    run_dir = merge_includes(flex.working_dir, resolve_includes(flex.path.parent, flex.data.get("additional_includes")),
                             flex.path)
    with working_directory(run_dir):
        target = import_entry(flex.entry, run_dir, where)
    try:
        check_entry_interface(target, where)
    except PflError as exc:
        return [_problem(exc)]
    if not inspect.isclass(target):
        problems = _unknown(flex.declared("inputs"), target, "`inputs:` declares", where)
        if init or flex.declared("init"):
            problems.append(ValidationProblem(f"The entry '{flex.entry}' is a function; init arguments only apply to "
                                              "a class entry.", file=where,
                                              hint="drop --init and `init:`, or make the entry a class."))
        return problems
    problems = _unknown(flex.declared("init"), target.__init__, "`init:` declares", where)
    if init:
        problems += _init_problems(target, init, flex.declared("init"), where)
    problems += _unknown(flex.declared("inputs"), target.__call__, "`inputs:` declares", where)
    try:
        from promptflow_lite.engine._entry import check_aggregate

        check_aggregate(_bound(target, "__aggregate__"), where)
    except PflError as exc:
        problems.append(_problem(exc))
    return problems


def _parameters(func: Callable[..., Any]) -> tuple[dict[str, inspect.Parameter], bool]:
    """The named parameters of ``func`` (without ``self``) and whether it takes ``**kwargs``."""
    params = inspect.signature(func).parameters
    named = {n: p for n, p in params.items() if n != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    return named, any(p.kind == p.VAR_KEYWORD for p in params.values())


def _unknown(names: Any, func: Callable[..., Any], what: str, where: str) -> list[ValidationProblem]:
    params, open_ended = _parameters(func)
    if open_ended:
        return []
    taken = ", ".join(params) or "none"
    return [ValidationProblem(f"{what} '{name}', which {func.__qualname__} does not take.", file=where,
                              hint=f"remove it or add the parameter (parameters: {taken}).")
            for name in names if name not in params]


def _init_problems(cls: type, init: dict[str, Any], declared: dict[str, dict[str, Any]],
                   where: str) -> list[ValidationProblem]:
    """The given init arguments against ``__init__``: names, required ones, and each value's shape."""
    from promptflow_lite.engine._entry import classify_init

    problems = _unknown(init, cls.__init__, "--init gives", where)
    params, _ = _parameters(cls.__init__)
    defaults = {n for n, spec in declared.items() if spec.get("default", "") != ""}
    missing = [n for n, p in params.items() if p.default is p.empty and n not in init and n not in defaults]
    if missing:
        problems.append(ValidationProblem(f"{cls.__name__}.__init__ needs {', '.join(missing)}, which --init does "
                                          "not give.", file=where, hint="add them: --init name=value ..."))
    for name, value, kind, detail in classify_init(cls, init, declared):
        try:
            _check_init_value(name, value, kind, detail)
        except PflError as exc:
            problems.append(_problem(exc.locate(file=where)))
    return problems


def _check_init_value(name: str, value: Any, kind: str, detail: Any) -> None:
    from promptflow_lite.connections._model_config import parse_model_config
    from promptflow_lite.connections._types import Connection
    from promptflow_lite.engine._entry import CONNECTION, CONVERTED, MODEL_CONFIG
    from promptflow_lite.errors import UserError
    from promptflow_lite.tools._coercion import ConversionError, parse_value

    if kind == MODEL_CONFIG:
        parse_model_config(value, detail, param=name)  # its fields; a named connection is not fetched
    elif kind == CONNECTION and not isinstance(value, (str, Connection)):
        raise UserError(f"Init argument '{name}' must name a connection, not give a {type(value).__name__}.",
                        hint=f"pass --init {name}=<connection name>.")
    elif kind == CONVERTED:
        try:
            parse_value(value, detail)
        except ConversionError as exc:
            raise UserError(f"Init argument '{name}' is not a valid {detail}: {exc}.",
                            hint=f"pass a {detail} value for '{name}'.") from None


def _bound(cls: type, name: str) -> Callable[..., Any] | None:
    """``cls.name`` as an instance would see it (``self`` bound), without creating an instance."""
    raw = inspect.getattr_static(cls, name, None)
    if raw is None:
        return None
    method = getattr(cls, name)
    return functools.partial(method, None) if isinstance(raw, types.FunctionType) else method


# ---------------------------------------------------------------------------------------------
# prompty


def _prompty_problems(file: Path, overrides: dict[str, Any]) -> list[ValidationProblem]:
    from promptflow_lite.connections._model_config import AZURE_TYPES, OPENAI_TYPES
    from promptflow_lite.flow._prompty_file import load_prompty_file
    from promptflow_lite.tools._template import check_template

    prompty = load_prompty_file(file, **overrides)
    where = str(prompty.path)
    problems = []
    configuration = prompty.configuration
    if isinstance(configuration, dict) and not configuration.get("connection") \
            and configuration.get("type") not in AZURE_TYPES + OPENAI_TYPES:
        problems.append(ValidationProblem(
            f"model.configuration has type {configuration.get('type')!r} and names no connection.", file=where,
            hint="set model.configuration.type to azure_openai or openai, or name a connection."))
    try:
        check_template(prompty.template, where)
    except PflError as exc:
        problems.append(_problem(exc))
    return problems


__all__ = ["script_flow_problems"]
