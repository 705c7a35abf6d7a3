"""A finished flow line as span data (FLOW_FORMAT §6.2), rendered by the trace writer.

:func:`render_line` turns a decoded ``LINE`` frame (:mod:`.frames`: the hooks' ``LineHeader``
and the line's journal entry) into a :class:`FinishedLine`: the line span's attributes
(promptflow's names, inputs/output as JSON text) and one entry per node span, laid out as
``store.NODE_FIELDS``. From it come

- :func:`store_rows` - one ``spans`` row whose ``children`` column holds the node entries (a
  JSON list: one encoder pass per line), plus a ``line_runs`` row when the line is a trace root;
- :func:`readable_spans` - OpenTelemetry ``ReadableSpan``s for OTLP export.

:func:`lone_node_rows` does the same for a ``NODE`` frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from promptflow_lite.engine._results import sum_usage
from promptflow_lite.tracing._write.frames import LineHeader, NodeHeader, started
from promptflow_lite.tracing._ids import new_span_id, span_hex
from promptflow_lite.tracing._names import LINE_STATUS, cumulative_attributes
from promptflow_lite.tracing._serialize import dumps, to_json, to_text
from promptflow_lite.tracing._store import CANCELLED, expand_span_row, line_run_row, node_span


@dataclass
class FinishedLine:
    trace_id: str
    span_id: str
    parent_id: str | None
    parent_is_remote: bool
    is_root: bool  # the first span of this trace recorded here (no parent, or not one of ours)
    name: str
    start_time: float
    end_time: float
    status: str  # OK / ERROR
    status_message: str | None
    attributes: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    nodes: list[list] = field(default_factory=list)


def render_line(header: LineHeader, entry: dict[str, Any]) -> FinishedLine:
    """The spans of a line from its frame: ``header`` from the hooks, ``entry`` its journal entry."""
    name = header.name
    inputs = header.inputs if header.inputs is not None else to_json(entry.get("inputs"))
    attributes: dict[str, Any] = {"framework": "promptflow", "span_type": "Flow", "function": name,
                                  "inputs": inputs, "collection": header.collection or name}
    for key, value in header.attributes.items():
        if value is not None:
            attributes[key] = value if isinstance(value, (str, bool, int, float)) else to_json(value)
    if entry.get("line_number") is not None:
        attributes.setdefault("line_number", entry["line_number"])
    if entry.get("outputs") is not None:
        attributes["output"] = to_json(entry["outputs"])
    attributes[LINE_STATUS] = entry["status"]
    runs = {run["node"]: run for run in entry.get("nodes") or ()}
    end_time = entry.get("end_time")
    ids, streamed, spanned = header.node_ids or {}, header.streamed or (), header.nodes
    if isinstance(spanned, dict):  # the engine made no node calls: the node runs that started, by name
        nodes = [node_entry([name, spanned.get(name, "python"), ids.get(name), name in streamed], run, end_time)
                 for name, run in runs.items() if started(run)]
    else:
        nodes = [node_entry([name, node_type, ids.get(index), index in streamed], runs.get(name), end_time)
                 for index, (name, node_type) in enumerate(spanned)]
    usages = [run["usage"] for run in runs.values() if run.get("usage")]
    if usages:
        attributes.update(cumulative_attributes(sum_usage(usages)))
    status, message, events = outcome(entry["status"], entry.get("error"), end_time)
    return FinishedLine(header.trace_id, header.span_id, header.parent_id, header.parent_is_remote, header.is_root,
                        name, entry.get("start_time"), end_time, status, message, attributes, events, nodes)


def node_entry(node: list, run: dict[str, Any] | None, line_end: float | None = None) -> list:
    """The stored entry (``store.NODE_FIELDS``) of a node span ``[name, node_type, span_id, streamed]``
    and its journal entry ``run`` (None: it never finished)."""
    name, node_type, span_id, streamed = node
    span_id = span_id or span_hex(new_span_id())  # nothing nested under the node asked for its id
    if run is None:
        end = _us(line_end)
        return [span_id, name, node_type, end, end, "ERROR", CANCELLED, None, None, None, None]
    extra = None
    usage, logs, calls = run.get("usage"), run.get("logs"), run.get("model_calls")
    if calls or logs or usage:
        extra = cumulative_attributes(usage)
        if calls:
            extra["model_calls"], extra["cached"] = calls, bool(run.get("cached"))
        if logs:
            extra["logs"] = to_text(logs)
    if run.get("reused_from"):  # taken from that run of the same line (a variant grid), not computed here
        extra = {**(extra or {}), "reused_from": run["reused_from"]}
    end = run.get("end_time") or line_end
    if run["status"] == "Completed":
        if streamed:
            extra = {**(extra or {}), "output_type": "iterated"}
        return [span_id, name, node_type, int(run["start_time"] * 1e6), _us(end),
                "OK", None, run.get("inputs") or {}, run.get("output"), extra, None]
    status, message, events = outcome(run["status"], run.get("error"), end)
    return [span_id, name, node_type, _us(run.get("start_time")), _us(end),
            status, message, run.get("inputs") or {}, None, extra, events or None]


def outcome(status: str, error: dict | None, end_time: float | None) -> tuple[str, str | None, list[dict]]:
    """Span status code, message and exception events for an engine status and error dict."""
    if status == "Completed":
        return "OK", None, []
    if status == "Canceled":
        return "ERROR", CANCELLED, []
    if not error:
        return "ERROR", status, []
    debug = error.get("debugInfo") or {}
    kind, inner = debug.get("type") or error.get("code") or "Error", error.get("innerError")
    while isinstance(inner, dict) and inner.get("code"):  # the user's exception type, innermost
        kind, inner = inner["code"], inner.get("innerError")
    message = to_text(error.get("message", ""))
    event = {"name": "exception", "timestamp": end_time,
             "attributes": {"exception.type": kind, "exception.message": message,
                            "exception.stacktrace": to_text(debug.get("stackTrace", "")),
                            "exception.escaped": "True"}}
    return "ERROR", f"{kind}: {message}", [event]


def _us(seconds: float | None) -> int | None:
    return int(seconds * 1e6) if seconds else None


# the store ----------------------------------------------------------------------------------
def store_rows(line: FinishedLine) -> tuple[tuple, tuple | None]:
    """The ``spans`` row of the line (node spans in ``children``) and its ``line_runs`` row."""
    row = (line.trace_id, line.span_id, line.parent_id, line.name, "Flow", "INTERNAL", line.start_time,
           line.end_time, line.status, line.status_message, dumps(line.attributes),
           dumps(line.events) if line.events else None, to_json(line.nodes) if line.nodes else None)
    return row, line_run_row(row, line.attributes, None) if line.is_root else None


def lone_node_rows(header: NodeHeader, run: dict[str, Any]) -> tuple[tuple, tuple | None]:
    """Rows for a node traced outside any line (a single-node test): a span of its own."""
    entry = node_entry([header.name, header.node_type, header.span_id, header.streamed], run)
    span = node_span(entry, header.trace_id, header.parent_id)
    attributes = {**span["attributes"], "inputs": to_json(span["inputs"])}
    if span["status"] == "OK":
        attributes["output"] = to_json(span["output"])
    row = (span["trace_id"], span["span_id"], span["parent_id"], span["name"], "Function", "INTERNAL",
           span["start_time"], span["end_time"], span["status"], span["status_message"], dumps(attributes),
           dumps(span["events"]) if span["events"] else None, None)
    return row, line_run_row(row, attributes, None) if header.is_root else None


# OTLP ----------------------------------------------------------------------------------------
def readable_spans(line: FinishedLine, resource: Any, scope: Any) -> list:
    """The line and its nodes as OpenTelemetry ``ReadableSpan``s (the OTLP exporter's input)."""
    row = {"trace_id": line.trace_id, "span_id": line.span_id, "parent_id": line.parent_id, "name": line.name,
           "span_type": "Flow", "kind": "INTERNAL", "start_time": line.start_time, "end_time": line.end_time,
           "status": line.status, "status_message": line.status_message, "attributes": None, "events": None,
           "children": to_json(line.nodes) if line.nodes else None}
    spans = expand_span_row(row)
    spans[0]["attributes"], spans[0]["events"] = line.attributes, line.events
    for node in spans[1:]:  # the line's collection names the project of its nodes too (see .projects)
        node["attributes"]["collection"] = line.attributes.get("collection")
    return [_readable(span, resource, scope, remote_parent=line.parent_is_remote and index == 0)
            for index, span in enumerate(spans)]


def _readable(span: dict[str, Any], resource: Any, scope: Any, remote_parent: bool):
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.trace import SpanContext, Status, StatusCode, TraceFlags

    sampled = TraceFlags(TraceFlags.SAMPLED)
    trace_id = int(span["trace_id"], 16)
    context = SpanContext(trace_id, int(span["span_id"], 16), is_remote=False, trace_flags=sampled)
    parent = None
    if span["parent_id"]:
        parent = SpanContext(trace_id, int(span["parent_id"], 16), is_remote=remote_parent, trace_flags=sampled)
    attributes = dict(span["attributes"])
    if "inputs" not in attributes and span["inputs"] is not None:
        attributes["inputs"] = to_json(span["inputs"])
    if "output" not in attributes and span["status"] == "OK" and span["output"] is not None:
        attributes["output"] = to_json(span["output"])
    code = StatusCode.OK if span["status"] == "OK" else StatusCode.ERROR
    events = [Event(e["name"], e["attributes"], _ns(e["timestamp"])) for e in span["events"]]
    return ReadableSpan(span["name"], context, parent, resource, attributes, events,
                        status=Status(code, span["status_message"] if code is StatusCode.ERROR else None),
                        start_time=_ns(span["start_time"]), end_time=_ns(span["end_time"]),
                        instrumentation_scope=scope)


def _ns(seconds: float | None) -> int | None:
    return int(seconds * 1e9) if seconds else None
