"""A finished line as JSON, encoded once: the run journal and the trace writer share the text.

``line_entry(result)`` is a line as a plain dict (status, inputs, outputs or error, aggregation
inputs, usage, cache hit, trace id and its node runs); ``encode_line(result)`` is that dict's JSON
text, computed once per ``LineResult`` and kept on it (a result does not change once its line
has ended), so a traced batch run encodes each line once. ``dumps`` encodes every run record:
values JSON cannot hold become promptflow's image dicts, lists (numpy), ISO times or their
``repr``; ``EncodedLine.plain`` says no such value was met (the text holds the values exactly).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, NamedTuple

from promptflow_lite.engine._results import COMPLETED, LineResult, NodeRun


class EncodedLine(NamedTuple):
    text: str
    plain: bool  # every value was plain JSON (no repr or other stand-in)


def _fallback(value: Any) -> Any:
    from promptflow_lite.tools._multimedia import Image

    if isinstance(value, Image):
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
    """A node run as kept in the journal."""
    return {"node": run.node, "status": run.status, "inputs": run.inputs, "output": run.output, "error": run.error,
            "start_time": run.start_time, "end_time": run.end_time, "usage": run.usage, "cached": run.cached,
            "model_calls": run.model_calls, "logs": run.logs}


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
    """``dumps(line_entry(result))``, computed on first use and kept on the result."""
    encoded = result.encoded
    if encoded is None:
        entry = line_entry(result)
        try:
            encoded = EncodedLine(_strict(entry), True)
        except TypeError:  # a value JSON cannot hold
            encoded = EncodedLine(_lenient(entry), False)
        result.encoded = encoded
    return encoded
