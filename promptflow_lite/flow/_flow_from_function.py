"""A flow around an existing Python function (``pfl flow init --entry FILE --function NAME``), as
``pf flow init --entry``: one python node calling the function, a prompt node per ``--prompt-template``."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from promptflow_lite.errors import UserError

_TYPES = {"str": "string", "int": "int", "float": "double", "bool": "bool", "list": "list", "List": "list",
          "dict": "object", "Dict": "object"}


def init_flow_from_function(folder: str | Path, entry: str, function: str,
                            prompt_templates: dict[str, str] | None = None) -> list[Path]:
    """Write ``flow.dag.yaml`` and ``<function>_tool.py`` in ``folder`` (which holds ``entry``) and return them.

    The function's parameters become flow inputs (typed from their annotations, literal defaults kept) except
    those given a prompt template: each of those is a prompt node rendering the template, whose own
    variables are flow inputs too. The entry file is read, not run."""
    import yaml

    from promptflow_lite.flow._new_flow import refuse_existing_flow

    folder = Path(folder).expanduser()
    refuse_existing_flow(folder)
    params = _parameters(folder / entry, function)
    templates = dict(prompt_templates or {})
    unknown = sorted(set(templates) - {name for name, _ in params})
    if unknown:
        raise UserError(f"--prompt-template names {', '.join(unknown)}, not parameters of {function}().",
                        hint=f"use PARAM=FILE with one of: {', '.join(name for name, _ in params)}.")
    inputs = {name: spec for name, spec in params if name not in templates}
    nodes = []
    for param, template in templates.items():
        variables = _template_variables(folder / template)
        for variable in variables:
            inputs.setdefault(variable, {"type": "string"})
        nodes.append({"name": param, "type": "prompt", "source": {"type": "code", "path": template},
                      "inputs": {v: f"${{inputs.{v}}}" for v in variables}})
    tool_file = folder / f"{function}_tool.py"
    nodes.append({"name": function, "type": "python", "source": {"type": "code", "path": tool_file.name},
                  "inputs": {name: f"${{{name}.output}}" if name in templates else f"${{inputs.{name}}}"
                             for name, _ in params}})
    flow = {"inputs": inputs, "outputs": {"output": {"type": "string", "reference": f"${{{function}.output}}"}},
            "nodes": nodes}
    flow_file = folder / "flow.dag.yaml"
    flow_file.write_text(yaml.safe_dump(flow, sort_keys=False, allow_unicode=True), encoding="utf-8")
    module = Path(entry).with_suffix("").as_posix().replace("/", ".")
    names = [name for name, _ in params]
    tool_file.write_text(
        f"from promptflow.core import tool\n\nfrom {module} import {function}\n\n\n@tool\n"
        f"def {function}_tool({', '.join(names)}):\n"
        f"    return {function}({', '.join(f'{n}={n}' for n in names)})\n", encoding="utf-8")
    return [flow_file, tool_file]


def _parameters(entry: Path, function: str) -> list[tuple[str, dict[str, Any]]]:
    """``(name, flow input spec)`` of each parameter of ``function`` in ``entry``, read from its syntax tree."""
    if not entry.is_file():
        raise UserError(f"Entry file '{entry}' not found.", hint="give --entry relative to the --flow folder.")
    tree = ast.parse(entry.read_text(encoding="utf-8"), filename=str(entry))
    found = next((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                  and n.name == function), None)
    if found is None:
        raise UserError(f"'{entry}' has no top-level function '{function}'.", hint="check --function.")
    args = found.args.posonlyargs + found.args.args + found.args.kwonlyargs
    defaults = [None] * (len(found.args.posonlyargs + found.args.args) - len(found.args.defaults))
    defaults += list(found.args.defaults) + list(found.args.kw_defaults)
    params = []
    for arg, default in zip(args, defaults):
        annotation = arg.annotation
        base = annotation.value if isinstance(annotation, ast.Subscript) else annotation
        type_name = base.id if isinstance(base, ast.Name) else base.attr if isinstance(base, ast.Attribute) else "str"
        spec: dict[str, Any] = {"type": _TYPES.get(type_name, "object" if annotation is not None else "string")}
        try:
            value = ast.literal_eval(default) if default is not None else None
        except ValueError:
            value = None
        if value is not None:
            spec["default"] = value
        params.append((arg.arg, spec))
    return params


def _template_variables(template: Path) -> list[str]:
    """The variables a Jinja template reads, in order of appearance."""
    import jinja2
    from jinja2 import meta

    if not template.is_file():
        raise UserError(f"Prompt template '{template}' not found.", hint="give PARAM=FILE relative to --flow.")
    source = template.read_text(encoding="utf-8")
    variables = meta.find_undeclared_variables(jinja2.Environment().parse(source))
    return sorted(variables, key=lambda v: source.find(v))
