"""Line and node results as the JSON records of a run folder (FLOW_FORMAT §4.6).

A run's journal (``line_results.jsonl``) holds one record per finished line, the line result's own
(``LineResult.to_json``: status, inputs, outputs or error, aggregation inputs, usage, cache hit,
trace id and the line's node runs) - enough to show details, resume a run and rebuild everything
else. ``line_record`` / ``node_record`` turn those records into promptflow's ``flow_artifacts`` /
``node_artifacts`` shapes (``run_info`` with FlowRunInfo / RunInfo fields), so tools that read
promptflow run folders keep working. Values that JSON cannot hold are stored as their ``repr``.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from promptflow_lite.engine._results import dumps


def jsonable(value: Any) -> Any:
    """``value`` as it will read back from the run folder."""
    return json.loads(dumps(value))


_EPOCH = datetime(1970, 1, 1)


def iso(timestamp: float | None, zulu: bool = True) -> str | None:
    """UTC ISO time as promptflow writes it (``...Z`` inside ``run_info``, naive outside)."""
    if not timestamp:
        return None
    text = (_EPOCH + timedelta(seconds=timestamp)).isoformat()
    return text + "Z" if zulu else text


def _times(timestamp: float | None) -> tuple[str | None, str | None]:
    """``timestamp`` as promptflow writes it inside ``run_info`` and outside (converted once)."""
    naive = iso(timestamp, False)
    return (naive + "Z", naive) if naive is not None else (None, None)


def line_run_id(run_name: str, line_number: int) -> str:
    """promptflow's id of a line run: ``<run name>_<line number>``."""
    return f"{run_name}_{line_number}"


def line_record(run_name: str, entry: dict[str, Any]) -> dict[str, Any]:
    """The ``flow_artifacts`` record of a line, from its journal entry."""
    number, start, end = entry["line_number"], entry.get("start_time"), entry.get("end_time")
    outputs, (start_z, start_naive), (end_z, end_naive) = entry.get("outputs"), _times(start), _times(end)
    info = {
        "run_id": line_run_id(run_name, number), "status": entry["status"], "error": entry.get("error"),
        "inputs": {**(entry.get("inputs") or {}), "line_number": number}, "output": outputs, "metrics": None,
        "request": None, "parent_run_id": run_name, "root_run_id": run_name,
        "source_run_id": line_run_id(entry["source_run"], number) if entry.get("source_run") else None,
        "flow_id": "default_flow_id", "start_time": start_z, "end_time": end_z, "index": number,
        "api_calls": None, "name": "", "description": "", "tags": None,
        "system_metrics": {"duration": _duration(start, end), **(entry.get("usage") or {})}, "result": outputs,
        "upload_metrics": False, "otel_trace_id": entry.get("trace_id"), "message_format": "basic",
        "cached": entry.get("cached", False),
    }
    return {"line_number": number, "run_info": info, "start_time": start_naive, "end_time": end_naive,
            "name": "", "description": "", "status": entry["status"], "tags": None}


def node_record(run_name: str, node: dict[str, Any], line_number: int | None) -> dict[str, Any]:
    """The ``node_artifacts/<node>/...`` record of a node entry (``line_number`` None: aggregation)."""
    parent = line_run_id(run_name, line_number) if line_number is not None else run_name
    suffix = line_number if line_number is not None else "reduce"
    name, start, end = node["node"], node.get("start_time"), node.get("end_time")
    (start_z, start_naive), (end_z, end_naive) = _times(start), _times(end)
    info = {
        "node": name, "flow_run_id": run_name, "run_id": f"{run_name}_{name}_{suffix}", "status": node["status"],
        "inputs": node.get("inputs"), "output": node.get("output"), "metrics": None, "error": node.get("error"),
        "parent_run_id": parent, "start_time": start_z, "end_time": end_z, "index": line_number,
        "api_calls": None, "cached_flow_run_id": node.get("reused_from"),  # a result reused from that run
        "cached_run_id": f"{node['reused_from']}_{name}_{suffix}" if node.get("reused_from") else None,
        "logs": {"stdout": node.get("logs") or "", "stderr": ""},
        "system_metrics": {"duration": _duration(start, end), **(node.get("usage") or {})},
        "result": node.get("output"), "message_format": "basic", "cached": node.get("cached", False),
        "model_calls": node.get("model_calls", 0),
    }
    return {"NodeName": name, "line_number": line_number, "run_info": info, "start_time": start_naive,
            "end_time": end_naive, "status": node["status"]}


def _duration(start: float | None, end: float | None) -> float:
    return max((end or 0.0) - (start or 0.0), 0.0)


def entry_duration(entry: dict[str, Any] | None) -> float | None:
    """Seconds a journal entry's line took (None when it has no times)."""
    if not entry or not entry.get("end_time") or not entry.get("start_time"):
        return None
    return round(entry["end_time"] - entry["start_time"], 6)


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
