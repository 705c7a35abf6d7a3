"""Reading the local trace store: list traces, show one as a span tree, delete old ones.

Every function flushes this process's pending spans first, so a trace is readable as soon
as the flow call that made it returns. ``path`` defaults to ``PFL_HOME/traces.sqlite``.
"""

from __future__ import annotations

import json
import re
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from promptflow_lite.errors import UserError
from promptflow_lite.tracing._names import COMPLETION, PROMPT, TOTAL
from promptflow_lite.tracing._store import TraceStore, expand_span_row

_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class TraceNotFound(UserError):
    """No trace with that id in the store."""


def list_traces(run: str | None = None, flow: str | None = None, status: str | None = None, since: Any = None,
                limit: int | None = 100, *, until: Any = None, text: str | None = None, offset: int = 0,
                line: int | None = None, path: str | Path | None = None) -> list[dict[str, Any]]:
    """Line runs (one per trace), newest first: ``trace_id, flow, run, line_number, status, start_time,
    end_time, duration, prompt_tokens, completion_tokens, total_tokens, inputs, outputs, error...``.

    ``since`` / ``until`` are ages (``"1h"``, ``"7d"``), dates or datetimes (``"2026-11-01"``), or epoch
    seconds; ``text`` keeps traces whose inputs, outputs or error contain it (case-insensitive for
    ASCII); ``line`` keeps that line number; ``offset`` skips that many of the newest (paging).
    """
    store = _store(path)
    try:
        rows = store.line_runs(run=run, flow=flow, status=status, since=to_epoch(since), until=to_epoch(until),
                               text=text or None, line=line, limit=limit, offset=offset)
    finally:
        store.close()
    return [_line_run(row) for row in rows]


def count_traces(run: str | None = None, flow: str | None = None, status: str | None = None, since: Any = None,
                 *, until: Any = None, text: str | None = None, path: str | Path | None = None) -> int:
    """How many traces :func:`list_traces` would list without a limit."""
    store = _store(path)
    try:
        return store.count_line_runs(run=run, flow=flow, status=status, since=to_epoch(since),
                                     before=to_epoch(until), text=text or None)
    finally:
        store.close()


def trace_filters(*, path: str | Path | None = None, limit: int = 200) -> dict[str, list[str]]:
    """The runs and flows that have traces, most recently traced first (choices for a filter)."""
    store = _store(path)
    try:
        return {"runs": store.recent_values("run", limit), "flows": store.recent_values("flow", limit)}
    finally:
        store.close()


def get_traces(run: str | None = None, flow: str | None = None, status: str | None = None, since: Any = None,
               limit: int | None = 1000, *, path: str | Path | None = None):
    """A pandas DataFrame with one row per span of the matching traces (at most ``limit`` traces).

    Columns: ``trace_id, span_id, parent_id, name, span_type, status, status_message, start_time,
    end_time`` (UTC datetimes), ``duration`` (seconds), ``inputs, output, prompt_tokens,
    completion_tokens, total_tokens`` (cumulative), ``model, node_name, flow, run, line_number,
    attributes, events``.
    """
    import pandas as pd

    store = _store(path)
    try:
        lines = store.line_runs(run=run, flow=flow, status=status, since=to_epoch(since), limit=limit)
        by_trace = {line["trace_id"]: line for line in lines}
        spans = [span for row in store.spans(by_trace) for span in expand_span_row(row)]
    finally:
        store.close()
    records = []
    for span in spans:
        attributes, line = span["attributes"], by_trace.get(span["trace_id"], {})
        records.append({
            **{k: span[k] for k in ("trace_id", "span_id", "parent_id", "name", "span_type", "status",
                                    "status_message", "start_time", "end_time", "duration", "inputs", "output")},
            "prompt_tokens": attributes.get(PROMPT), "completion_tokens": attributes.get(COMPLETION),
            "total_tokens": attributes.get(TOTAL), "model": attributes.get("gen_ai.request.model"),
            "node_name": attributes.get("node_name"), "flow": line.get("flow"), "run": line.get("run"),
            "line_number": line.get("line_number"), "attributes": attributes, "events": span["events"]})
    columns = ["trace_id", "span_id", "parent_id", "name", "span_type", "status", "status_message", "start_time",
               "end_time", "duration", "inputs", "output", "prompt_tokens", "completion_tokens", "total_tokens",
               "model", "node_name", "flow", "run", "line_number", "attributes", "events"]
    frame = pd.DataFrame.from_records(records, columns=columns)
    for column in ("start_time", "end_time"):
        frame[column] = pd.to_datetime(frame[column], unit="s", utc=True)
    for column in ("prompt_tokens", "completion_tokens", "total_tokens", "line_number"):
        frame[column] = frame[column].astype("Int64")
    for column in ("parent_id", "status_message", "model", "node_name", "flow", "run"):  # None, not NaN
        frame[column] = pd.Series([None if v is None or v != v else v for v in frame[column]], dtype=object,
                                  index=frame.index)
    return frame


def get_trace(trace_id: str, *, path: str | Path | None = None) -> dict[str, Any]:
    """One trace: ``{"trace_id", "line_run", "spans": [root span dicts with nested "children"],
    "evaluations": [line runs of evaluation lines that refer to this line]}``.

    ``trace_id`` may be shortened to a unique prefix (at least 8 hex digits).
    """
    store = _store(path)
    try:
        full_id = _resolve(store, trace_id)
        spans = [span for row in store.spans([full_id]) for span in expand_span_row(row)]
        lines = store.line_runs(trace_ids=[full_id], limit=1)
        line = _line_run(lines[0]) if lines else None
        evaluations = []
        if line and line.get("run") and line.get("line_number") is not None:
            evaluations = [_line_run(r) for r in store.line_runs(referenced=(line["run"], line["line_number"]),
                                                                  limit=None)]
    finally:
        store.close()
    return {"trace_id": full_id, "line_run": line, "spans": span_tree(spans), "evaluations": evaluations}


def delete_traces(run: str | None = None, older_than: Any = None, *, collection: str | None = None,
                  path: str | Path | None = None) -> int:
    """Delete the traces of batch run ``run`` or of ``collection`` (a flow test's ``--collection``, else
    the flow's name), and/or those started before ``older_than`` (an age like ``"7d"``, a date/datetime
    or epoch seconds); returns how many traces were deleted."""
    if run is None and older_than is None and collection is None:
        raise UserError("Say which traces to delete.", hint="pass run=<run name>, collection=... or older_than='7d'.")
    before = None
    if older_than is not None:
        before = to_epoch(older_than)
    store = _store(path)
    try:
        return store.delete(run=run, before=before, collection=collection)
    finally:
        store.close()


def prune_traces(max_size_mb: float | None = None, max_age_days: float | None = None, *, dry_run: bool = False,
                 path: str | Path | None = None) -> dict[str, Any]:
    """Delete the oldest traces until the store is within ``max_size_mb`` and holds none older than
    ``max_age_days`` (by default the caps in the settings ``trace.max_size_mb`` / ``trace.max_age_days``),
    sparing runs in progress; the space goes back to the disk. Returns ``{"traces": how many deleted (or,
    with ``dry_run``, would be), "until": start time of the newest of them, "bytes_before", "bytes_after"``
    (bytes in use), ``"file_bytes"}`` (the file's size now)."""
    from promptflow_lite.tracing._prune import Pruner, configured_limits, limits

    caps = limits(max_size_mb, max_age_days) if (max_size_mb or max_age_days) else configured_limits()
    if not caps:
        raise UserError("No cap to prune the traces to.",
                        hint="pass max_size_mb / max_age_days (`pfl trace prune --max-size-mb 500 --max-age-days 30`) "
                             "or set them: `pfl config set trace.max_size_mb=500 trace.max_age_days=30`.")
    store = _store(path)
    try:
        pruner = Pruner(store, caps)
        plan = pruner.plan()
        if dry_run:
            return {"traces": plan.count, "until": plan.until, "bytes_before": plan.used_bytes, "bytes_after": None,
                    "file_bytes": store.path.stat().st_size}
        deleted = pruner.run(full_vacuum=True)
        return {"traces": deleted, "until": plan.until if deleted else None, "bytes_before": plan.used_bytes,
                "bytes_after": store.used_bytes(), "file_bytes": store.path.stat().st_size}
    finally:
        store.close()


def span_tree(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Nest span dicts (each gets ``children``, ordered by start time); returns the roots."""
    by_id = {span["span_id"]: {**span, "children": []} for span in spans}
    roots = []
    for span in sorted(by_id.values(), key=lambda s: (s["start_time"] or 0)):
        parent = by_id.get(span["parent_id"]) if span["parent_id"] else None
        (parent["children"] if parent is not None else roots).append(span)
    return roots


def to_epoch(value: Any) -> float | None:
    """An age (``"90s"``, ``"30m"``, ``"1h"``, ``"7d"``, ``"2w"``, ``timedelta``: that long ago), a date or
    datetime (object or ISO text; naive means local time) or epoch seconds, as epoch seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, timedelta):
        return time.time() - value.total_seconds()
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day).timestamp()
    text = str(value).strip()
    age = _AGE.match(text)
    if age:
        return time.time() - float(age.group(1)) * _SECONDS[age.group(2).lower()]
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UserError(f"Cannot read the time '{value}'.",
                        hint="use an age like 30m, 1h, 7d, 2w or a date like 2026-11-01 (or 2026-11-01T09:30).") from None
    return moment.timestamp()


def _store(path: str | Path | None) -> TraceStore:
    from promptflow_lite.tracing._setup import flush_tracing

    flush_tracing()
    return TraceStore(path)


def _resolve(store: TraceStore, trace_id: str) -> str:
    wanted = str(trace_id).strip().lower().removeprefix("0x")
    if not re.fullmatch(r"[0-9a-f]{1,32}", wanted):
        raise TraceNotFound(f"'{trace_id}' is not a trace id.", hint="trace ids are 32 hex digits; see `pfl trace list`.")
    matches = store.trace_ids_like(wanted) if len(wanted) >= 8 else []
    if wanted in matches:
        return wanted
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise TraceNotFound(f"The trace id prefix '{trace_id}' matches several traces: {', '.join(matches)}.",
                            hint="give more digits.")
    raise TraceNotFound(f"No trace '{trace_id}' in the trace store.",
                        hint="see `pfl trace list` for the stored traces (was tracing off, PFL_TRACING=off?).")


def _line_run(row: dict[str, Any]) -> dict[str, Any]:
    line = dict(row)
    for key in ("inputs", "outputs"):
        if isinstance(line.get(key), str):
            try:
                line[key] = json.loads(line[key])
            except ValueError:
                pass
    return line
