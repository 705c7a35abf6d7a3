"""``DagFlow``: a ``flow.dag.yaml`` loaded, validated and prepared for execution.

Loading does the expensive work once: variant selection, validation, additional includes,
environment variables, tool imports, connections. ``arun`` then only schedules a line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

from promptflow_lite.engine._connections import connections_in_use
from promptflow_lite.engine._flow import Flow, line_context, working_directory
from promptflow_lite.engine._inputs import resolve_inputs
from promptflow_lite.engine._results import FAILED, AggregationResult, LineResult
from promptflow_lite.errors import FlowLoadError, InvalidFlowOverride, error_dict
from promptflow_lite.flow._model import FlowSpec
from promptflow_lite.tools._multimedia import InvalidMessageFormat, Multimedia


class DagFlow(Flow):
    kind = "dag"

    def __init__(self, spec: FlowSpec, run_dir: Path, plan, variant: str | None, connections: Any = None,
                 media: Multimedia | None = None):
        self.spec = spec
        self.connections = connections  # also the connections of prompties its python nodes load
        self.media = media or Multimedia()  # how this flow reads and writes images (its message_format)
        self.run_dir = run_dir
        self.plan = plan
        self.variant = variant
        self.name = spec.flow_name
        self.path = spec.path
        self.working_dir = spec.working_dir

    @classmethod
    def from_file(cls, file: Path, *, variant: str | None = None, connections: Any = None,
                  environment_variables: dict[str, Any] | None = None,
                  connection_overrides: dict[str, str] | None = None) -> "DagFlow":
        from promptflow_lite.flow._loader import load_dag

        return cls.from_spec(load_dag(file), variant=variant, connections=connections,
                             environment_variables=environment_variables, connection_overrides=connection_overrides)

    @classmethod
    def from_spec(cls, spec: FlowSpec, *, variant: str | None = None, connections: Any = None,
                  environment_variables: dict[str, Any] | None = None,
                  connection_overrides: dict[str, str] | None = None) -> "DagFlow":
        from promptflow_lite.engine._nodes import prepare_node
        from promptflow_lite.engine._scheduler import LinePlan
        from promptflow_lite.flow._includes import materialize
        from promptflow_lite.flow._validate import ensure_valid, topological_order
        from promptflow_lite.flow._variants import apply_variant

        resolved = apply_variant(spec, variant)
        ensure_valid(resolved)  # only the selected variants matter for running (as in promptflow)
        if connection_overrides:
            resolved = apply_connection_overrides(resolved, connection_overrides)
        media = flow_media(resolved)
        import_node_modules(resolved)
        run_dir = materialize(resolved)
        apply_environment(resolved, environment_variables, connections)
        with working_directory(run_dir):
            nodes = [prepare_node(node, resolved, run_dir, connections, media)
                     for node in topological_order(resolved.nodes)]
        return cls(resolved, run_dir, LinePlan(resolved, nodes), variant, connections, media)

    # interface ---------------------------------------------------------------------------
    @property
    def inputs(self) -> dict[str, Any]:
        return self.spec.inputs

    @property
    def output_names(self) -> list[str]:
        return list(self.plan.outputs)

    @property
    def has_aggregation(self) -> bool:
        return bool(self.plan.aggregation_nodes)

    async def arun(self, inputs: dict[str, Any], *, line_number: int | None = None, stream: bool = False,
                   timeout: float | None = None, echo=None, chat_mode: bool = False,
                   attributes: dict[str, Any] | None = None) -> LineResult:
        from promptflow_lite.engine._scheduler import run_line

        try:
            resolved = resolve_inputs(self.spec, inputs, line_number=line_number, chat_mode=chat_mode,
                                      media=self.media)
        except Exception as exc:  # noqa: BLE001 - a bad value fails its line, never the caller
            return LineResult(status=FAILED, inputs=dict(inputs), error=error_dict(exc), line_number=line_number)
        with connections_in_use(self.connections), working_directory(), line_context(self.spec.id, self.kind,
                                                                                     attributes):
            return await run_line(self.plan, resolved, line_number=line_number, stream=stream, timeout=timeout,
                                  echo=echo, attributes=attributes)

    async def aaggregate(self, lines: Iterable[LineResult], echo=None) -> AggregationResult:
        from promptflow_lite.engine._aggregation import run_aggregation

        with connections_in_use(self.connections), working_directory():
            return await run_aggregation(self.plan, lines, echo=echo)

    def node_names(self) -> list[str]:
        return [n.name for n in self.plan.line_nodes + self.plan.aggregation_nodes]


class FailedToImportModule(FlowLoadError):
    """A node's ``module`` (the provider module of legacy llm nodes) cannot be imported."""


def import_node_modules(spec: FlowSpec) -> None:
    """Import each node's ``module`` as promptflow does at load (``promptflow.tools.aoai`` is ours); one
    that does not exist fails the load, naming the node."""
    import importlib

    from promptflow_lite._compat import promptflow_alias

    for node in spec.nodes:
        if not node.module:
            continue
        try:
            with promptflow_alias():
                importlib.import_module(node.module)
        except Exception as exc:  # noqa: BLE001 - any import failure is the flow's problem
            raise FailedToImportModule(
                f"Failed to import modules with error: Import node {node.name!r} provider module {node.module!r} "
                f"failed. Root cause: {type(exc).__name__}({str(exc)!r}).", file=str(spec.path) if spec.path else None,
                node=node.name, hint="fix or remove the node's `module:` (llm nodes need none).") from None


def flow_media(spec: FlowSpec) -> Multimedia:
    """The image reader/writer for the flow's ``message_format`` (an unknown format fails the load)."""
    try:
        return Multimedia(spec.message_format)
    except InvalidMessageFormat as exc:
        raise FlowLoadError(str(exc), file=str(spec.path) if spec.path else None,
                            hint="set message_format to basic or openai-vision (or remove it).") from None


def apply_connection_overrides(spec: FlowSpec, overrides: dict[str, str]) -> FlowSpec:
    """``{"node.connection": c, "node.deployment_name": d, "node.model": m}`` applied to llm nodes (§3.5)."""
    nodes = {n.name: n for n in spec.nodes}
    updated = dict(nodes)
    for key, value in overrides.items():
        name, _, field = key.partition(".")
        node = updated.get(name)
        if node is None:
            raise InvalidFlowOverride(f"--connections names node '{name}', which is not in the flow.",
                                      hint=f"nodes: {', '.join(nodes)}.")
        if node.type == "llm" and field == "connection":
            node = node.model_copy(update={"connection": value})
        elif node.type == "llm" and field in ("deployment_name", "model"):
            node = node.model_copy(update={"inputs": {**node.inputs, field: value}})
        elif node.type != "llm" and field in node.inputs:
            node = node.model_copy(update={"inputs": {**node.inputs, field: value}})
        else:
            raise InvalidFlowOverride(f"Unsupported connection override '{key}'.",
                                      hint="for llm nodes use connection, deployment_name or model; for python "
                                           "nodes name a connection input of the tool.")
        updated[name] = node
    return spec.model_copy(update={"nodes": [updated[n.name] for n in spec.nodes]}).located(spec.path, spec.working_dir)


def apply_environment(spec: FlowSpec, overrides: dict[str, Any] | None, connections: Any) -> None:
    """Export the flow's ``environment_variables`` (plus overrides) into ``os.environ`` (§1.11)."""
    variables = spec.environment_variables if isinstance(spec.environment_variables, dict) else {}
    merged = {**variables, **(overrides or {})}
    if not merged:
        return
    from promptflow_lite.connections._provider import resolve_connection_references

    for key, value in resolve_connection_references(merged, connections).items():
        os.environ[str(key)] = value if isinstance(value, str) else json.dumps(value)
