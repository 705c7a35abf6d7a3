"""Run one node of a DAG flow on its own (``pfl flow test --node``, FLOW_FORMAT §1.7).

Inputs may be given by the node's parameter name, or by what a reference points at:
``inputs.<flow input>`` or ``<node>.output[.prop]``. Flow-input defaults fill the rest. For an
aggregation node, every per-line value is wrapped in a one-element list. With tracing on, the
node is a trace of its own (its model calls nest under it).
"""

from __future__ import annotations

import time
from typing import Any

from promptflow_lite.engine._inputs import convert_input
from promptflow_lite.engine._invoke import run_node
from promptflow_lite.engine._results import RUNNING, NodeRun
from promptflow_lite.errors import InputError, UserError
from promptflow_lite.flow._reference import InputRef, NodeRef


async def run_single_node(flow: "DagFlow", node_name: str, given: dict[str, Any], echo: Any = None) -> NodeRun:
    """Run ``node_name`` with ``given`` inputs: its ``NodeRun`` (output or error; ``trace_id`` when
    traced). ``echo`` also receives what the node prints."""
    nodes = {n.name: n for n in flow.plan.line_nodes + flow.plan.aggregation_nodes}
    node = nodes.get(node_name)
    if node is None:
        raise UserError(f"Node '{node_name}' is not in the flow.", hint=f"nodes: {', '.join(nodes)}.")

    def inputs() -> dict[str, Any]:
        kwargs = dict(node.literals)
        for key, ref in node.refs.items():
            kwargs[key] = _value(flow, node.name, key, ref, given)
            from_aggregation = isinstance(ref, NodeRef) and ref.node in nodes and nodes[ref.node].aggregation
            if node.aggregation and not from_aggregation:
                kwargs[key] = [kwargs[key]]  # one line's value, as the list aggregation expects
        return kwargs

    run = NodeRun(node.name, RUNNING, start_time=time.time())
    try:
        await run_node(run, node.spec.type or "python", inputs, node.invoke, echo=echo)
    except Exception:  # recorded in the run
        pass
    return run


def _value(flow, node: str, key: str, ref, given: dict[str, Any]) -> Any:
    if isinstance(ref, InputRef):  # converted to the flow input's type, as in a whole-flow test
        definition = flow.spec.inputs.get(ref.name)
        for candidate in (key, f"inputs.{ref.name}", ref.name):
            if candidate in given:
                return (convert_input(ref.name, definition, given[candidate], media=flow.media) if definition
                        else given[candidate])
        if definition is not None and definition.has_default:
            return convert_input(ref.name, definition, definition.default, media=flow.media)
        raise InputError(f"Input '{key}' of node '{node}' ({ref}) is not provided.",
                         hint=f"pass --inputs {key}=... or inputs.{ref.name}=...")
    text = str(ref)[2:-1]
    for candidate in (key, text, f"{ref.node}.output" if not ref.prop else text):
        if candidate in given:
            return given[candidate]
    raise InputError(f"Input '{key}' of node '{node}' ({ref}) is not provided.",
                     hint=f"pass --inputs {key}=... or {text}=...")
