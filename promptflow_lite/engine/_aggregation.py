"""The aggregation step: aggregation nodes run once over the successful lines (FLOW_FORMAT §1.10).

Each aggregation input that references a per-line node becomes the list of that value across
the succeeded lines (in line order); flow-input references become the list of the lines'
input values; references between aggregation nodes are plain values. ``log_metric`` calls
made meanwhile become the run's metrics. A failing aggregation node never fails the run.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any, Iterable

from promptflow_lite.engine._invoke import run_node
from promptflow_lite.engine._nodes import PreparedNode
from promptflow_lite.engine._results import BYPASSED, FAILED, RUNNING, AggregationResult, LineResult, NodeRun
from promptflow_lite.engine._scheduler import LinePlan
from promptflow_lite.errors import error_dict
from promptflow_lite.flow._reference import InputRef, NodeRef, resolve_property
from promptflow_lite.tools._metrics import metrics_collector


async def run_aggregation(plan: LinePlan, lines: Iterable[LineResult], echo=None) -> AggregationResult:
    """Run the aggregation nodes over ``lines`` (failed lines are left out)."""
    result = AggregationResult()
    if not plan.aggregation_nodes:
        return result
    succeeded = sorted((line for line in lines if line.ok), key=lambda line: line.line_number or 0)
    values: dict[str, Any] = {}
    skipped: set[str] = set()
    token = metrics_collector.set(result.metrics)
    try:
        for node in plan.aggregation_nodes:  # already in dependency order
            run = NodeRun(node.name, RUNNING, start_time=time.time())
            result.node_runs[node.name] = run
            try:
                if _skip(node, plan, succeeded, values, skipped):
                    run.status, run.end_time = BYPASSED, time.time()
                    skipped.add(node.name)
                    continue
                values[node.name] = await run_node(
                    run, node.spec.type or "python", partial(_kwargs, node, plan, succeeded, values), node.invoke,
                    echo=echo, traced=False)  # no span: the step runs after the lines' traces have ended
            except Exception as exc:
                if run.status != FAILED:  # failed before the node ran (its activate condition)
                    run.status, run.error, run.end_time = FAILED, error_dict(exc), time.time()
                result.error, result.failed_node = run.error, node.name
                break
    finally:
        metrics_collector.reset(token)
    return result


def _column(lines: list[LineResult], key: str) -> list[Any]:
    return [line.aggregation_inputs.get(key) for line in lines]


def _resolve(ref, plan: LinePlan, lines: list[LineResult], values: dict[str, Any]) -> Any:
    if isinstance(ref, InputRef):
        default = plan.spec.inputs[ref.name].default if ref.name in plan.spec.inputs else None
        return [line.inputs.get(ref.name, default) for line in lines]
    if ref.node in values:
        return resolve_property(values[ref.node], ref.prop)
    return _column(lines, str(ref))


def _kwargs(node: PreparedNode, plan: LinePlan, lines: list[LineResult], values: dict[str, Any]) -> dict[str, Any]:
    kwargs = dict(node.literals)
    for key, ref in node.refs.items():
        kwargs[key] = _resolve(ref, plan, lines, values)
    return kwargs


def _skip(node: PreparedNode, plan: LinePlan, lines, values, skipped: set[str]) -> bool:
    activate = node.spec.activate
    if activate is None:
        aggregation_deps = [r.node for r in node.refs.values()
                            if isinstance(r, NodeRef) and (r.node in values or r.node in skipped)]
        return bool(aggregation_deps) and all(d in skipped for d in aggregation_deps)
    ref = node.spec.activate_ref
    if isinstance(ref, NodeRef) and ref.node in skipped:
        return True
    when = _resolve(ref, plan, lines, values) if ref is not None else activate.when
    return not (when == activate.is_)
