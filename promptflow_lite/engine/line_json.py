"""A finished line as JSON, encoded once: the run journal and the trace writer share the text.

``line_entry(result)`` is a line as a plain dict (status, inputs, outputs or error, aggregation
inputs, usage, cache hit, trace id and its node runs); ``encode_line(result)`` is that dict's JSON
text, computed once per ``LineResult`` and kept on it (a result does not change once its line
has ended), so a traced batch run encodes each line once. ``dumps`` encodes every run record:
values JSON cannot hold become promptflow's image dicts, lists (numpy), ISO times or their
``repr``; ``EncodedLine.plain`` says no such value was met (the text holds the values exactly).
The text is masked (:func:`~promptflow_lite.masking.mask_secrets`): no known secret is written.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, NamedTuple

from promptflow_lite.engine.results import COMPLETED, LineResult, NodeRun
from promptflow_lite.masking import mask_secrets


class EncodedLine(NamedTuple):
    text: str
    plain: bool  # every value was plain JSON (no repr or other stand-in)


def _fallback(value: Any) -> Any:
    from promptflow_lite.tools.multimedia import Multimedia, PFBytes, Text

    if isinstance(value, PFBytes):  # a run writes images as files before; this keeps any other image whole
        return Multimedia().base64_reference(value)
    if isinstance(value, Text):
        return value.serialize()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "model_dump"):
        try:
            return value.model_dump()
        except Exception:  # noqa: BLE001 - fall through to repr
            pass
    return repr(value)


_strict = json.JSONEncoder(ensure_ascii=False).encode
_lenient = json.JSONEncoder(ensure_ascii=False, default=_fallback).encode


def dumps(value: Any) -> str:
    """One line of JSON; images as promptflow dicts, numpy as lists, anything else as repr."""
    return _lenient(value)


def node_entry(run: NodeRun) -> dict[str, Any]:
    """A node run as kept in the journal (``models`` and ``reused_from`` only when there are any)."""
    entry = {"node": run.node, "status": run.status, "inputs": run.inputs, "output": run.output, "error": run.error,
             "start_time": run.start_time, "end_time": run.end_time, "usage": run.usage, "cached": run.cached,
             "model_calls": run.model_calls, "logs": run.logs}
    if run.models:
        entry["models"] = run.models
    if run.reused_from:
        entry["reused_from"] = run.reused_from
    return entry


def line_entry(result: LineResult) -> dict[str, Any]:
    """What a run writes for a finished line (``line_results.jsonl``)."""
    entry = {"line_number": result.line_number, "status": result.status, "inputs": result.inputs,
             "start_time": result.start_time, "end_time": result.end_time, "usage": result.usage,
             "cached": result.cached, "trace_id": result.trace_id,
             "nodes": [node_entry(run) for run in result.node_runs.values()]}
    if result.status == COMPLETED:
        entry["outputs"] = result.outputs
        entry["aggregation_inputs"] = result.aggregation_inputs
    else:
        entry["error"] = result.error
    return entry


def encode_line(result: LineResult) -> EncodedLine:
    """``dumps(line_entry(result))`` masked, computed on first use and kept on the result."""
    encoded = result.encoded
    if encoded is None:
        entry = line_entry(result)
        try:
            encoded = EncodedLine(mask_secrets(_strict(entry), tokens=False), True)
        except TypeError:  # a value JSON cannot hold
            encoded = EncodedLine(mask_secrets(_lenient(entry), tokens=False), False)
        result.encoded = encoded
    return encoded


def decode_line(encoded: EncodedLine) -> LineResult:
    """The ``LineResult`` whose ``encode_line`` is ``encoded`` (a line finished in another process):
    its status, inputs, outputs or error, aggregation inputs, trace id and node runs; encoding it
    again gives the same text, masked with this process's secrets too."""
    encoded = EncodedLine(mask_secrets(encoded.text, tokens=False), encoded.plain)
    entry = json.loads(encoded.text)
    nodes = {node["node"]: NodeRun(
        node=node["node"], status=node["status"], inputs=node.get("inputs"), output=node.get("output"),
        error=node.get("error"), start_time=node.get("start_time") or 0.0, end_time=node.get("end_time") or 0.0,
        usage=node.get("usage") or {}, cached=bool(node.get("cached")), model_calls=node.get("model_calls") or 0,
        logs=node.get("logs") or "") for node in entry.get("nodes") or []}
    result = LineResult(status=entry["status"], inputs=entry.get("inputs") or {}, outputs=entry.get("outputs"),
                        error=entry.get("error"), node_runs=nodes, line_number=entry.get("line_number"),
                        start_time=entry.get("start_time") or 0.0, end_time=entry.get("end_time") or 0.0,
                        aggregation_inputs=entry.get("aggregation_inputs") or {}, trace_id=entry.get("trace_id"))
    result.encoded = encoded
    return result
