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
from promptflow_lite.engine._results import COMPLETED, FAILED, NodeRun
from promptflow_lite.engine._scheduler import _invoke, user_traceback
from promptflow_lite.errors import InputError, PflError, ToolExecutionError, UserError, error_dict
from promptflow_lite.flow._reference import InputRef, NodeRef
from promptflow_lite.tools._observe import calls_collector
from promptflow_lite.engine import _hooks as spans


async def run_single_node(flow: "DagFlow", node_name: str, given: dict[str, Any]) -> tuple[NodeRun, str | None]:
    """Run ``node_name`` with ``given`` inputs: the ``NodeRun`` (output or error) and its trace id."""
    nodes = {n.name: n for n in flow.plan.line_nodes + flow.plan.aggregation_nodes}
    node = nodes.get(node_name)
    if node is None:
        raise UserError(f"Node '{node_name}' is not in the flow.", hint=f"nodes: {', '.join(nodes)}.")
    run = NodeRun(node.name, "Running", start_time=time.time())
    tracer, span, calls = spans.active(), None, []
    token = calls_collector.set(calls)
    try:
        kwargs = dict(node.literals)
        for key, ref in node.refs.items():
            kwargs[key] = _value(flow, node.name, key, ref, given)
            from_aggregation = isinstance(ref, NodeRef) and ref.node in nodes and nodes[ref.node].aggregation
            if node.aggregation and not from_aggregation:
                kwargs[key] = [kwargs[key]]  # one line's value, as the list aggregation expects
        run.inputs = kwargs
        if tracer:
            span = tracer.start_node(node.name, node.spec.type or "python", kwargs)
        try:
            run.output = await _invoke(node, kwargs)
        except PflError:
            raise
        except Exception as exc:
            raise ToolExecutionError(node.name, exc, user_traceback(exc)) from exc
        run.status = COMPLETED
    except Exception as exc:
        run.status, run.error = FAILED, error_dict(exc)
    run.end_time = time.time()
    calls_collector.reset(token)
    if calls:
        run.record_model_calls(calls)
    return run, tracer.end_node(span, run) if span is not None else None


def _value(flow, node: str, key: str, ref, given: dict[str, Any]) -> Any:
    if isinstance(ref, InputRef):  # converted to the flow input's type, as in a whole-flow test
        definition = flow.spec.inputs.get(ref.name)
        for candidate in (key, f"inputs.{ref.name}", ref.name):
            if candidate in given:
                return convert_input(ref.name, definition, given[candidate]) if definition else given[candidate]
        if definition is not None and definition.has_default:
            return convert_input(ref.name, definition, definition.default)
        raise InputError(f"Input '{key}' of node '{node}' ({ref}) is not provided.",
                         hint=f"pass --inputs {key}=... or inputs.{ref.name}=...")
    text = str(ref)[2:-1]
    for candidate in (key, text, f"{ref.node}.output" if not ref.prop else text):
        if candidate in given:
            return given[candidate]
    raise InputError(f"Input '{key}' of node '{node}' ({ref}) is not provided.",
                     hint=f"pass --inputs {key}=... or {text}=...")
