"""The local trace store: one SQLite file (``PFL_HOME/traces.sqlite``), two tables.

``spans`` holds spans (attributes and events as JSON text). A flow line's span row also carries
its node spans in ``children`` (a JSON list; see :mod:`promptflow_lite.tracing._write.line_spans`): one row per line instead
of one per node keeps tracing cheap. ``line_runs`` holds one row per trace root - a flow line,
a served request, a ``@trace`` entry point - with what a trace list shows: flow, run, line
number, status, times, token counts, inputs/outputs and the base run line an evaluation line
refers to. :func:`expand_span_row` turns a stored row back into span dicts. Several processes write at
once (WAL, busy timeout: :mod:`promptflow_lite._sqlite`); writers append in batches inside one
``BEGIN IMMEDIATE`` transaction. Schema changes are the numbered ``MIGRATIONS``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Collection, Iterable, Iterator, Mapping, Sequence

from promptflow_lite._sqlite import Migration, connect, retry_locked, transaction
from promptflow_lite.tracing._names import COMPLETION, LINE_STATUS, NODE_STATUS, PROMPT, TOTAL

SPAN_COLUMNS = ("trace_id", "span_id", "parent_id", "name", "span_type", "kind", "start_time", "end_time",
                "status", "status_message", "attributes", "events", "children")
LINE_COLUMNS = ("trace_id", "root_span_id", "flow", "collection", "kind", "run", "line_number", "status",
                "start_time", "end_time", "duration", "prompt_tokens", "completion_tokens", "total_tokens",
                "inputs", "outputs", "error", "referenced_run", "referenced_line_number")
MIGRATIONS = [
    Migration("create the spans and line_runs tables", f"""
    CREATE TABLE IF NOT EXISTS spans ({', '.join(SPAN_COLUMNS)});
    CREATE INDEX IF NOT EXISTS spans_by_trace ON spans(trace_id);
    CREATE TABLE IF NOT EXISTS line_runs ({', '.join(LINE_COLUMNS)});
    CREATE INDEX IF NOT EXISTS line_runs_by_trace ON line_runs(trace_id);
    CREATE INDEX IF NOT EXISTS line_runs_by_start ON line_runs(start_time);
    CREATE INDEX IF NOT EXISTS line_runs_by_run ON line_runs(run, line_number);
    CREATE INDEX IF NOT EXISTS line_runs_by_reference ON line_runs(referenced_run, referenced_line_number);
    """),
    Migration("list traces by run or flow, newest first, from one index range", """
    CREATE INDEX IF NOT EXISTS line_runs_by_run_start ON line_runs(run, start_time);
    CREATE INDEX IF NOT EXISTS line_runs_by_flow_start ON line_runs(flow, start_time);
    """),
    Migration("index only the evaluation lines by the line they refer to (one index insert less per line)", """
    DROP INDEX IF EXISTS line_runs_by_reference;
    CREATE INDEX IF NOT EXISTS line_runs_by_reference_only ON line_runs(referenced_run, referenced_line_number)
        WHERE referenced_run IS NOT NULL;
    """),
]
# a node span as stored in its line's ``children`` list; times in epoch microseconds, output
# only meaningful when status is OK, attributes holds only what is not derived from the fields
NODE_FIELDS = ("span_id", "name", "node_type", "start_us", "end_us", "status", "status_message", "inputs", "output",
               "attributes", "events")
CANCELLED = "Execution cancelled."
_MAX_VARIABLES = 32766 if sqlite3.sqlite_version_info >= (3, 32) else 999


def default_path() -> Path:
    from promptflow_lite.home import pfl_home

    return pfl_home() / "traces.sqlite"


class TraceStore:
    """A connection to a trace store file; safe to share between threads of one process."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._pid = 0
        self._connection: sqlite3.Connection | None = None
        self._conn  # noqa: B018  (open now: a bad path fails here, not in a background thread)

    @property
    def _conn(self) -> sqlite3.Connection:
        """This process's connection (a forked child opens its own)."""
        if self._connection is None or self._pid != os.getpid():
            if not self.path.exists():
                _create(self.path)
            self._connection = connect(self.path, MIGRATIONS, synchronous="NORMAL", check_same_thread=False)
            self._pid = os.getpid()
        return self._connection

    def close(self) -> None:
        with self._lock:
            if self._connection is not None and self._pid == os.getpid():
                self._connection.close()
            self._connection = None

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock, transaction(self._conn):
            yield

    # writing ------------------------------------------------------------------------------
    def write(self, spans: Sequence[tuple], line_runs: Sequence[tuple] = ()) -> None:
        """Append span rows (``SPAN_COLUMNS`` order) and line-run rows (``LINE_COLUMNS``)."""
        with self._transaction():
            _insert(self._conn, "spans", len(SPAN_COLUMNS), spans)
            _insert(self._conn, "line_runs", len(LINE_COLUMNS), line_runs)

    def delete(self, *, run: str | None = None, before: float | None = None, collection: str | None = None) -> int:
        """Delete the traces of ``run`` / ``collection`` and/or started before epoch ``before``; returns how many."""
        where, params = _where(run=run, before=before, collection=collection)
        with self._transaction():
            traces = "SELECT trace_id FROM line_runs WHERE " + where
            count = self._conn.execute(f"SELECT COUNT(DISTINCT trace_id) FROM line_runs WHERE {where}",
                                       params).fetchone()[0]
            self._conn.execute(f"DELETE FROM spans WHERE trace_id IN ({traces})", params)
            if before is not None and run is None and collection is None:  # spans whose root never arrived
                self._conn.execute("DELETE FROM spans WHERE start_time < ?", (before,))
            self._conn.execute(f"DELETE FROM line_runs WHERE {where}", params)
        return count

    # pruning (see tracing._prune) ---------------------------------------------------------------
    def used_bytes(self) -> int:
        """Bytes of the file in use (free pages not counted: they are reused or given back)."""
        with self._lock:
            conn = self._conn
            pages = conn.execute("PRAGMA page_count").fetchone()[0] - conn.execute("PRAGMA freelist_count").fetchone()[0]
            return pages * conn.execute("PRAGMA page_size").fetchone()[0]

    def oldest_traces(self, before: float, skip_runs: Collection[str] = (), limit: int = 1000,
                      offset: int = 0) -> list[dict[str, Any]]:
        """``trace_id, run, start_time`` of the oldest traces started before ``before`` that are not of
        ``skip_runs``, oldest first (``offset``: skip that many)."""
        skip = f" AND (run IS NULL OR run NOT IN ({', '.join('?' * len(skip_runs))}))" if skip_runs else ""
        return self._query(f"SELECT trace_id, run, start_time FROM line_runs INDEXED BY line_runs_by_start "
                           f"WHERE start_time < ?{skip} ORDER BY start_time LIMIT ? OFFSET ?",
                           [before, *skip_runs, limit, offset])

    def count_older(self, before: float, skip_runs: Collection[str] = ()) -> int:
        """How many traces :meth:`oldest_traces` could return."""
        skip = f" AND (run IS NULL OR run NOT IN ({', '.join('?' * len(skip_runs))}))" if skip_runs else ""
        return self._query(f"SELECT COUNT(*) AS n FROM line_runs WHERE start_time < ?{skip}",
                           [before, *skip_runs])[0]["n"]

    def runs_traced_since(self, since: float) -> set[str]:
        """The runs with a line started at or after ``since`` (from the run index alone)."""
        rows = self._query("SELECT run FROM line_runs WHERE run IS NOT NULL GROUP BY run HAVING MAX(start_time) >= ?",
                           [since])
        return {row["run"] for row in rows}

    def delete_trace_ids(self, trace_ids: Sequence[str]) -> None:
        """Delete these traces (their line-run rows and every span), in one transaction."""
        marks = ", ".join("?" * len(trace_ids))
        with self._transaction():
            self._conn.execute(f"DELETE FROM spans WHERE trace_id IN ({marks})", trace_ids)
            self._conn.execute(f"DELETE FROM line_runs WHERE trace_id IN ({marks})", trace_ids)

    def reclaim(self, *, full: bool = False, pages: int | None = None) -> int:
        """Give free pages back to the disk: incremental vacuum (stores made since it exists: all, or at
        most ``pages`` at a time), or with ``full`` a whole ``VACUUM`` that also converts an older store
        to incremental vacuum. Returns how many free pages are left."""
        with self._lock:
            conn = self._conn
            if conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:
                # a script runs the pragma to the end (``execute`` steps it once: one page)
                script = f"PRAGMA incremental_vacuum({int(pages)});" if pages else "PRAGMA incremental_vacuum;"
                retry_locked(lambda: conn.executescript(script))
            elif full:
                conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
                retry_locked(lambda: conn.execute("VACUUM"))
            left = conn.execute("PRAGMA freelist_count").fetchone()[0]
            if not left or not pages:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            return left if conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2 else 0

    # reading ------------------------------------------------------------------------------
    def line_runs(self, *, run: str | None = None, flow: str | None = None, status: str | None = None,
                  since: float | None = None, until: float | None = None, text: str | None = None,
                  trace_ids: Iterable[str] | None = None, referenced: tuple[str, int | None] | None = None,
                  line: int | None = None, limit: int | None = 100, offset: int = 0) -> list[dict[str, Any]]:
        """Line runs, newest first, matching every filter given (``text``: in inputs, outputs or error;
        ``line``: that line number)."""
        where, params = _where(run=run, flow=flow, status=status, since=since, before=until, text=text,
                               trace_ids=trace_ids, referenced=referenced, line=line)
        sql = f"SELECT * FROM line_runs WHERE {where} ORDER BY start_time DESC"
        if limit:
            sql += f" LIMIT {int(limit)} OFFSET {max(int(offset), 0)}"
        return self._query(sql, params)

    def count_line_runs(self, **filters: Any) -> int:
        """How many line runs match ``filters`` (those of :meth:`line_runs`)."""
        where, params = _where(**filters)
        return self._query(f"SELECT COUNT(*) AS n FROM line_runs WHERE {where}", params)[0]["n"]

    def recent_values(self, column: str, limit: int = 200) -> list[str]:
        """Distinct values of ``column`` (``run`` or ``flow``), the most recently traced first."""
        if column not in ("run", "flow"):
            raise ValueError(column)
        rows = self._query(f"SELECT {column} AS value, MAX(start_time) AS latest FROM line_runs "
                           f"WHERE {column} IS NOT NULL GROUP BY {column} ORDER BY latest DESC LIMIT ?", [limit])
        return [row["value"] for row in rows]

    def spans(self, trace_ids: Iterable[str]) -> list[dict[str, Any]]:
        """Every span of these traces, in start order."""
        ids = list(trace_ids)
        rows: list[dict[str, Any]] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows += self._query(f"SELECT * FROM spans WHERE trace_id IN ({', '.join('?' * len(chunk))})", chunk)
        rows.sort(key=lambda r: (r["start_time"] or 0))
        return rows

    def trace_ids_like(self, prefix: str) -> list[str]:
        """Trace ids starting with ``prefix`` (a user may paste a shortened id)."""
        prefix = prefix.lower().removeprefix("0x")
        rows = self._query("SELECT DISTINCT trace_id FROM spans WHERE trace_id >= ? AND trace_id < ? LIMIT 5",
                           (prefix, prefix + "g"))
        return [r["trace_id"] for r in rows]

    def _query(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(row) for row in self._conn.execute(sql, list(params))]


def _create(path: Path) -> None:
    """Start a new store file with incremental vacuum, so pruning gives the space back to the disk
    (``auto_vacuum`` can only be chosen before the first table exists)."""
    db = sqlite3.connect(path, timeout=30)
    try:
        db.execute("PRAGMA auto_vacuum = INCREMENTAL")
        db.execute("PRAGMA journal_mode = WAL")  # writes the header: the setting is kept
    finally:
        db.close()


def line_run_row(span_row: Sequence[Any], attributes: Mapping[str, Any], collection: str | None) -> tuple:
    """The ``line_runs`` row (``LINE_COLUMNS``) of a root span, from its ``spans`` row and attributes."""
    trace_id, span_id, _, name, span_type, _, start, end, status_code, message = span_row[:10]
    referenced_run = attributes.get("referenced.batch_run_id")
    referenced_line = attributes.get("referenced.line_number")
    if referenced_line is None and referenced_run:
        line_run_id = str(attributes.get("referenced.line_run_id") or "")  # promptflow's "<run>_<line>"
        suffix = line_run_id[len(referenced_run) + 1:] if line_run_id.startswith(f"{referenced_run}_") else ""
        referenced_line = int(suffix) if suffix.isdigit() else attributes.get("line_number")
    return (trace_id, span_id, attributes.get("function", name) if span_type == "Flow" else name,
            attributes.get("collection") or collection, (span_type or "Function").lower(),
            attributes.get("batch_run_id"), _int(attributes.get("line_number")),
            attributes.get(LINE_STATUS) or ("Failed" if status_code == "ERROR" else "Completed"),
            start, end, (end - start) if start and end else None,
            _int(attributes.get(PROMPT, attributes.get("llm.usage.prompt_tokens"))),
            _int(attributes.get(COMPLETION, attributes.get("llm.usage.completion_tokens"))),
            _int(attributes.get(TOTAL, attributes.get("llm.usage.total_tokens"))),
            attributes.get("inputs"), attributes.get("output"), message, referenced_run, _int(referenced_line))


def expand_span_row(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A ``spans`` row as span dicts: the span, then the node spans stored in its ``children``.

    A span dict has ``trace_id, span_id, parent_id, name, span_type, kind, start_time, end_time,
    duration, status, status_message, attributes, events, inputs, output`` (inputs/output parsed
    from the JSON text attributes).
    """
    attributes = json.loads(row["attributes"]) if row["attributes"] else {}
    span = {key: row[key] for key in ("trace_id", "span_id", "parent_id", "name", "span_type", "kind",
                                      "start_time", "end_time", "status", "status_message")}
    span["duration"] = _duration(row["start_time"], row["end_time"])
    span["inputs"] = parse_json(attributes.get("inputs"))
    span["output"] = parse_json(attributes.get("output"))
    span["attributes"] = attributes
    span["events"] = json.loads(row["events"]) if row["events"] else []
    spans = [span]
    for entry in json.loads(row["children"]) if row["children"] else []:
        spans.append(node_span(entry, row["trace_id"], row["span_id"]))
    return spans


def node_span(entry: Sequence[Any], trace_id: str, parent_id: str) -> dict[str, Any]:
    """The span dict of a stored node entry (``NODE_FIELDS``)."""
    span_id, name, node_type, start_us, end_us, status, message, inputs, output, extra, events = entry
    node_status = "Completed" if status == "OK" else "Canceled" if message == CANCELLED else "Failed"
    attributes = {"framework": "promptflow", "span_type": "Function", "node_name": name, "node_type": node_type,
                  NODE_STATUS: node_status, **(extra or {})}
    start, end = (start_us / 1e6 if start_us else None), (end_us / 1e6 if end_us else None)
    return {"trace_id": trace_id, "span_id": span_id, "parent_id": parent_id, "name": name, "span_type": "Function",
            "kind": "INTERNAL", "start_time": start, "end_time": end, "status": status, "status_message": message,
            "duration": _duration(start, end), "inputs": inputs, "output": output if status == "OK" else None,
            "attributes": attributes, "events": events or []}


def _duration(start: float | None, end: float | None) -> float | None:
    return (end - start) if start and end else None


def parse_json(text: Any) -> Any:
    """A JSON text attribute's value (text that is not JSON stays as it is)."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _insert(conn: sqlite3.Connection, table: str, width: int, rows: Sequence[tuple]) -> None:
    """Insert rows with multi-row ``VALUES`` statements: one SQLite step (one GIL release) per chunk."""
    size = _MAX_VARIABLES // width
    placeholder = "(" + ", ".join("?" * width) + ")"
    for start in range(0, len(rows), size):
        chunk = rows[start:start + size]
        conn.execute(f"INSERT INTO {table} VALUES {', '.join([placeholder] * len(chunk))}",
                     [value for row in chunk for value in row])


def _where(*, run=None, flow=None, status=None, since=None, before=None, text=None, trace_ids=None,
           referenced=None, collection=None, line=None) -> tuple[str, list[Any]]:
    clauses, params = ["1=1"], []
    for column, value in (("run", run), ("flow", flow), ("collection", collection), ("line_number", line)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if status is not None:
        clauses.append("lower(status) = lower(?)")
        params.append(status)
    if since is not None:
        clauses.append("start_time >= ?")
        params.append(since)
    if before is not None:
        clauses.append("start_time < ?")
        params.append(before)
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        clauses.append("(inputs LIKE ? ESCAPE '\\' OR outputs LIKE ? ESCAPE '\\' OR error LIKE ? ESCAPE '\\')")
        params += [pattern] * 3
    if trace_ids is not None:
        ids = list(trace_ids)
        clauses.append(f"trace_id IN ({', '.join('?' * len(ids)) or 'NULL'})")
        params += ids
    if referenced is not None:
        clauses.append("referenced_run = ?")
        params.append(referenced[0])
        if referenced[1] is not None:
            clauses.append("referenced_line_number = ?")
            params.append(referenced[1])
    return " AND ".join(clauses), params
