"""Line and node results as the JSON records of a run folder (FLOW_FORMAT §4.6).

``line_record``/``node_record`` produce promptflow's ``flow_artifacts`` / ``node_artifacts``
shapes (``run_info`` with FlowRunInfo / RunInfo fields), so tools that read promptflow run
folders keep working. ``journal_entry`` is our compact per-line summary (status, error,
resolved inputs, aggregation inputs, usage, cache hit, trace id): enough to show details and
to resume a run without reading one file per line. Values that JSON cannot hold are stored
as their ``repr``.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from promptflow_lite.engine.results import COMPLETED, LineResult, NodeRun


def dumps(value: Any) -> str:
    """One line of JSON; images as promptflow dicts, numpy as lists, anything else as repr."""
    return json.dumps(value, ensure_ascii=False, default=_fallback)


def jsonable(value: Any) -> Any:
    """``value`` as it will read back from the run folder."""
    return json.loads(dumps(value))


def _fallback(value: Any) -> Any:
    from promptflow_lite.tools.multimedia import Image

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


def iso(timestamp: float | None, zulu: bool = True) -> str | None:
    """UTC ISO time as promptflow writes it (``...Z`` inside ``run_info``, naive outside)."""
    if not timestamp:
        return None
    text = datetime.fromtimestamp(timestamp, timezone.utc).replace(tzinfo=None).isoformat()
    return text + "Z" if zulu else text


def line_run_id(run_name: str, line_number: int) -> str:
    """promptflow's id of a line run: ``<run name>_<line number>``."""
    return f"{run_name}_{line_number}"


def line_record(run_name: str, result: LineResult) -> dict[str, Any]:
    """The ``flow_artifacts/<n>_<n>.jsonl`` record of a line."""
    number = result.line_number
    info = {
        "run_id": line_run_id(run_name, number), "status": result.status, "error": result.error,
        "inputs": {**result.inputs, "line_number": number}, "output": result.outputs, "metrics": None, "request": None,
        "parent_run_id": run_name, "root_run_id": run_name, "source_run_id": None, "flow_id": "default_flow_id",
        "start_time": iso(result.start_time), "end_time": iso(result.end_time), "index": number, "api_calls": None,
        "name": "", "description": "", "tags": None,
        "system_metrics": {"duration": result.duration, **result.usage}, "result": result.outputs,
        "upload_metrics": False, "otel_trace_id": result.trace_id, "message_format": "basic",
        "cached": result.cached,
    }
    return {"line_number": number, "run_info": info, "start_time": iso(result.start_time, False),
            "end_time": iso(result.end_time, False), "name": "", "description": "", "status": result.status, "tags": None}


def node_record(run_name: str, run: NodeRun, line_number: int | None) -> dict[str, Any]:
    """The ``node_artifacts/<node>/<n>.jsonl`` record of a node run (``line_number`` None: aggregation)."""
    parent = line_run_id(run_name, line_number) if line_number is not None else run_name
    suffix = line_number if line_number is not None else "reduce"
    info = {
        "node": run.node, "flow_run_id": run_name, "run_id": f"{run_name}_{run.node}_{suffix}", "status": run.status,
        "inputs": run.inputs, "output": run.output, "metrics": None, "error": run.error, "parent_run_id": parent,
        "start_time": iso(run.start_time), "end_time": iso(run.end_time), "index": line_number, "api_calls": None,
        "cached_run_id": None, "cached_flow_run_id": None, "logs": {"stdout": run.logs, "stderr": ""},
        "system_metrics": {"duration": run.duration, **run.usage}, "result": run.output, "message_format": "basic",
        "cached": run.cached, "model_calls": run.model_calls,
    }
    return {"NodeName": run.node, "line_number": line_number, "run_info": info, "start_time": iso(run.start_time, False),
            "end_time": iso(run.end_time, False), "status": run.status}


def journal_entry(result: LineResult) -> dict[str, Any]:
    """Our one-line summary of a finished line (``line_results.jsonl``)."""
    entry = {"line_number": result.line_number, "status": result.status, "inputs": result.inputs,
             "start_time": result.start_time, "end_time": result.end_time, "usage": result.usage,
             "cached": result.cached, "trace_id": result.trace_id}
    if result.status == COMPLETED:
        entry["aggregation_inputs"] = result.aggregation_inputs
    else:
        entry["error"] = result.error
    return entry


def result_from_journal(entry: dict[str, Any]) -> LineResult:
    """A line result rebuilt from its journal entry: enough for aggregation and counting."""
    return LineResult(status=entry["status"], inputs=entry.get("inputs") or {}, error=entry.get("error"),
                      line_number=entry["line_number"], start_time=entry.get("start_time") or 0.0,
                      end_time=entry.get("end_time") or 0.0,
                      aggregation_inputs=entry.get("aggregation_inputs") or {}, trace_id=entry.get("trace_id"))


def bulk_error(errors: list[dict[str, Any]], failed: int, total: int) -> dict[str, Any]:
    """``error.json`` in promptflow's BulkRunException shape (line errors and aggregation failures)."""
    first = next((e["error"] for e in errors if e.get("error")), {}) or {}
    message = f"First error message is: {error_message(first)}"
    if failed:
        message = f"Failed to run {failed}/{total} lines. " + message
    return {"code": "UserError", "message": message,
            "messageFormat": "Failed to run {failed_lines}/{total_lines} lines. First error message is: {error_message}",
            "messageParameters": {"failed_lines": str(failed), "total_lines": str(total),
                                  "error_message": error_message(first)},
            "referenceCode": "Runtime", "innerError": {"code": "BulkRunException", "innerError": None},
            "additionalInfo": [{"type": "BulkRunErrors", "info": {"errors": errors}}]}


def error_message(error: Any) -> str:
    """The message of a promptflow error dict (or the text of anything else)."""
    return str(error.get("message", "")) if isinstance(error, dict) else str(error or "")


def error_code(error: dict[str, Any] | None) -> str:
    """The most specific code: ``ToolExecutionError``, ``LineTimeoutError``..."""
    if not isinstance(error, dict):
        return ""
    inner = error.get("innerError") or {}
    return inner.get("code") or error.get("code", "")
