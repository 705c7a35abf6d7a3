"""Whole-flow checks: references, cycles, files, variants (FLOW_FORMAT §1.5-1.9).

``find_problems`` returns every problem at once (``pfl flow validate`` prints them all);
``ensure_valid`` raises ``FlowValidationError`` holding them. Each message names the file and
node and says how to fix it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from promptflow_lite.errors import FlowLoadError, FlowValidationError, ValidationProblem
from promptflow_lite.flow._includes import locate_source, materialize
from promptflow_lite.flow._model import FlowSpec, Node
from promptflow_lite.flow._reference import InputRef, NodeRef, Reference
from promptflow_lite.flow._variants import InvalidVariant, apply_variant

NODE_TYPES = ("python", "llm", "prompt", "custom_llm")


def ensure_valid(spec: FlowSpec, *, check_files: bool = True) -> None:
    problems = find_problems(spec, check_files=check_files)
    if problems:
        raise FlowValidationError(problems, file=_file(spec))


def find_problems(spec: FlowSpec, *, check_files: bool = True,
                  check_tool: Callable[[Node, Path], list[ValidationProblem]] | None = None) -> list[ValidationProblem]:
    """All problems of the flow with default variants, plus those of every variant node.

    ``check_tool(node, run_dir)`` also checks each node without other problems where the flow runs
    from (the includes merged in): the engine's check loads a python node's file, running the user's
    code, as ``pfl flow validate`` does; a flow load checks that by itself."""
    problems: list[ValidationProblem] = []
    try:
        resolved = apply_variant(spec)
    except InvalidVariant as exc:
        problems.append(ValidationProblem(exc.message, file=exc.file, node=exc.node, hint=exc.hint))
        resolved = spec
    file = _file(spec)
    if "nodes" not in spec.model_fields_set:  # promptflow cannot run it either (KeyError: 'nodes')
        problems.append(ValidationProblem("The flow has no `nodes:`.", file=file,
                                          hint="add the nodes (`nodes: []` for a flow whose outputs only read its "
                                               "inputs), or `entry:` for a flex flow."))
    problems += _duplicates(resolved, file)
    nodes = {n.name: n for n in resolved.nodes}
    checked: list[Node] = list(resolved.nodes)
    for name, entry in spec.node_variants.items():
        for variant_id, variant in entry.variants.items():
            try:
                checked.append(Node.model_validate({**variant.node, "name": name}))
            except Exception as exc:  # pydantic error inside a variant
                problems.append(ValidationProblem(f"Invalid variant '{variant_id}': {exc}", file=file, node=name))
    run_dir = None
    if check_tool is not None:
        try:
            run_dir = materialize(resolved)  # where the flow runs from: the includes merged in
        except FlowLoadError as exc:
            problems.append(ValidationProblem(exc.message, file=exc.file, hint=exc.hint))
    seen: set[str] = set()
    for node in checked:
        found = _node_problems(node, resolved, nodes, file, check_files)
        if run_dir is not None and not found:
            found = check_tool(node, run_dir)
        for problem in found:
            if str(problem) not in seen:
                seen.add(str(problem))
                problems.append(problem)
    problems += _output_problems(resolved, nodes, file)
    cycle = find_cycle(resolved.nodes)
    if cycle:
        problems.append(ValidationProblem(
            f"The nodes form a cycle: {' -> '.join(cycle)}.", file=file,
            hint="remove one of these references so the flow is a DAG."))
    return problems


def _duplicates(spec: FlowSpec, file: str | None) -> list[ValidationProblem]:
    seen, problems = set(), []
    for node in spec.nodes:
        if node.name in seen:
            problems.append(ValidationProblem("Duplicate node name.", file=file, node=node.name,
                                              hint="give every node a unique name."))
        seen.add(node.name)
    return problems


def _node_problems(node: Node, spec: FlowSpec, nodes: dict[str, Node], file, check_files) -> list[ValidationProblem]:
    def problem(message: str, hint: str | None = None) -> ValidationProblem:
        return ValidationProblem(message, file=file, node=node.name, hint=hint)

    problems = []
    if node.use_variants:
        return problems  # checked through its variants
    if node.type is None:
        problems.append(problem("The node has no type.", f"set type to one of {', '.join(NODE_TYPES)}."))
    elif node.type not in NODE_TYPES:
        problems.append(problem(f"Unknown node type '{node.type}'.", f"use one of {', '.join(NODE_TYPES)}."))
    prompty = bool(node.source and (node.source.path or "").endswith(".prompty"))
    if node.type == "llm" and not prompty:  # a .prompty source carries its own model settings
        if not node.connection:
            problems.append(problem("The llm node has no connection.", "add `connection: <connection name>`."))
        if node.api not in ("chat", "completion"):
            problems.append(problem(f"The llm node has api {node.api!r}.", "set `api: chat` or `api: completion`."))
    problems += _source_problems(node, spec, file, check_files)
    if node.activate is not None:
        given = node.activate.model_fields_set
        missing = [key for key, field in (("when", "when"), ("is", "is_")) if field not in given]
        if missing:
            problems.append(problem(f"activate needs both 'when' and 'is' (missing: {', '.join(missing)}).",
                                    "write `activate: {when: ${other_node.output}, is: true}`."))
    refs: list[tuple[str, Reference]] = list(node.input_refs().items())
    if node.activate_ref is not None:
        refs.append(("activate.when", node.activate_ref))
    for key, ref in refs:
        where = f"input '{key}'" if key != "activate.when" else "activate.when"
        if isinstance(ref, InputRef):
            if ref.name not in spec.inputs:
                known = ", ".join(spec.inputs) or "none"
                problems.append(problem(f"{where} refers to flow input '{ref.name}', which is not defined.",
                                        f"define it under inputs or fix the name (flow inputs: {known})."))
            continue
        target = nodes.get(ref.node)
        if target is None:
            known = ", ".join(n for n in nodes if n != node.name) or "none"
            problems.append(problem(f"{where} refers to node '{ref.node}', which does not exist.",
                                    f"fix the reference (nodes: {known})."))
        elif ref.section != "output":
            problems.append(problem(f"{where} uses '{ref}': only '.output' can be referenced.",
                                    f"write ${{{ref.node}.output...}}."))
        elif target.aggregation and not node.aggregation:
            problems.append(problem(f"{where} refers to aggregation node '{ref.node}' from a per-line node.",
                                    "only aggregation nodes may use the outputs of aggregation nodes."))
        elif key == "activate.when" and node.aggregation and not target.aggregation:
            problems.append(problem(f"activate.when of an aggregation node refers to per-line node '{ref.node}'.",
                                    "an aggregation node can only be activated by a flow input or aggregation node."))
    return problems


def _source_problems(node: Node, spec: FlowSpec, file, check_files: bool) -> list[ValidationProblem]:
    if node.type not in NODE_TYPES:
        return []
    source = node.source
    if source is None:
        return [ValidationProblem("The node has no source.", file=file, node=node.name,
                                  hint="add `source: {type: code, path: <file>}`.")]
    if source.type == "package":
        if not source.tool:
            return [ValidationProblem("A package source needs `tool:` (the package tool id).", file=file, node=node.name)]
        return []
    if not source.path:
        return [ValidationProblem("The node's source has no path.", file=file, node=node.name,
                                  hint="add `path: <file>` relative to the flow folder.")]
    if check_files and locate_source(spec, source.path) is None:
        return [ValidationProblem(f"Source file '{source.path}' does not exist.", file=file, node=node.name,
                                  hint=f"create it next to the flow file ({spec.working_dir}) or fix the path.")]
    return []


def _output_problems(spec: FlowSpec, nodes: dict[str, Node], file) -> list[ValidationProblem]:
    problems = []
    for name, output in spec.outputs.items():
        def problem(message: str, hint: str) -> ValidationProblem:
            return ValidationProblem(f"Output '{name}' {message}", file=file, hint=hint)

        if output.reference in (None, ""):
            problems.append(problem("has an empty reference.", "set `reference: ${node.output}`."))
            continue
        ref = output.ref
        if isinstance(ref, InputRef) and ref.name not in spec.inputs:
            problems.append(problem(f"refers to flow input '{ref.name}', which is not defined.",
                                    f"flow inputs: {', '.join(spec.inputs) or 'none'}."))
        elif isinstance(ref, NodeRef) and ref.node not in nodes:
            problems.append(problem(f"points to node '{ref.node}', which does not exist.",
                                    f"nodes: {', '.join(nodes) or 'none'}."))
    return problems


def find_cycle(nodes: list[Node]) -> list[str] | None:
    """One cycle as ``[a, b, c, a]``, or None when the nodes form a DAG."""
    names = {n.name for n in nodes}
    deps = {n.name: sorted(n.node_dependencies() & names) for n in nodes}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        stack.append(name)
        for dep in deps.get(name, ()):
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[name] = 2
        return None

    for name in sorted(deps):
        if name not in state:
            found = visit(name)
            if found:
                return list(reversed(found))
    return None


def topological_order(nodes: list[Node]) -> list[Node]:
    """Nodes sorted so dependencies come first, stable with respect to YAML order."""
    names = {n.name for n in nodes}
    remaining = list(nodes)
    done: set[str] = set()
    ordered = []
    while remaining:
        ready = [n for n in remaining if (n.node_dependencies() & names) <= done]
        if not ready:
            raise FlowValidationError([ValidationProblem(
                f"The nodes form a cycle: {' -> '.join(find_cycle(remaining) or sorted(n.name for n in remaining))}.")])
        for n in ready:
            ordered.append(n)
            done.add(n.name)
        remaining = [n for n in remaining if n.name not in done]
    return ordered


def _file(spec: FlowSpec) -> str | None:
    return str(spec.path) if spec.path else None

