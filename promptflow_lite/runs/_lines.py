"""A run's lines a page at a time, read from its journal through an index of byte offsets.

The journal (``line_results.jsonl``) holds one entry per finished line, in completion order.
Readers keep in the run index each line's status and the byte range of its latest entry
(tables ``run_lines`` and ``run_journals``). Indexing reads only what was appended since the
last look - a running run costs a few new lines per refresh, and the run itself writes nothing
extra - and starts over when the journal was rewritten (a resumed run is compacted at its end).
A page then decodes just its own entries, so a 100,000-line run opens as fast as a 10-line one.
A text search scans the journal's bytes once and decodes only the lines holding the text.

    page = line_page("my_run", status="Failed", search="timeout")
    page.rows[0]["error"], page.total, page.counts
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from promptflow_lite._sqlite import transaction
from promptflow_lite.runs._errors import RunNotFoundError
from promptflow_lite.runs._index import RunIndex
from promptflow_lite.runs._records import entry_duration, error_code, error_message
from promptflow_lite.runs._journal import record_head, unframe
from promptflow_lite.runs._store import RunFolder

PAGE_SIZE = 50
NOT_STARTED = "NotStarted"
_TAIL_BYTES = 64  # the bytes before the indexed end: if they changed, the journal was rewritten
_SEARCH_CACHE: dict[tuple, list[int]] = {}
_SEARCH_CACHE_SIZE = 16


@dataclass
class LinePage:
    """One page of a run's lines: ``rows`` (see :func:`line_row`), how many lines match the
    filters (``total``), and for the whole run the lines per status (``counts``) and ``total_lines``."""

    run: str
    rows: list[dict[str, Any]]
    total: int
    page: int
    page_size: int
    counts: dict[str, int] = field(default_factory=dict)
    total_lines: int = 0

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    @property
    def not_started(self) -> int:
        """Lines of the run with no result yet (not run, or still in flight)."""
        return max(self.total_lines - sum(self.counts.values()), 0)


def line_page(run: str, *, page: int = 0, page_size: int = PAGE_SIZE, status: str | None = None,
              search: str | None = None, home: str | Path | None = None) -> LinePage:
    """Lines of run ``run`` in line order, ``page_size`` per page (``page`` counts from 0).

    ``status`` keeps the lines with that status (``"Failed"``: failed only); ``search`` keeps the
    lines whose inputs, outputs or error contain the text (case-insensitive) or whose number it is.
    A page past the end is the last page.
    """
    index, row = _run(run, home)
    journal = RunFolder(row["output_path"]).journal_file
    with index.connect() as db:
        refresh(db, run, journal)
        counts = dict(db.execute("SELECT status, COUNT(*) FROM run_lines WHERE run = ? GROUP BY status", (run,)))
        where, params = "run = ?", [run]
        if status:
            where += " AND status = ?"
            params.append(status)
        if search and search.strip():
            hits = _search(db, run, journal, search.strip())
            db.execute("CREATE TEMP TABLE IF NOT EXISTS hits (line_number INTEGER PRIMARY KEY)")
            db.execute("DELETE FROM hits")
            db.executemany("INSERT INTO hits VALUES (?)", ((n,) for n in hits))
            where += " AND line_number IN (SELECT line_number FROM hits)"
        total = db.execute(f"SELECT COUNT(*) FROM run_lines WHERE {where}", params).fetchone()[0]
        page_size = max(int(page_size), 1)
        page = min(max(int(page), 0), max(-(-total // page_size) - 1, 0))
        located = db.execute(f"SELECT line_number, byte_offset, byte_length FROM run_lines WHERE {where} "
                             "ORDER BY line_number LIMIT ? OFFSET ?", [*params, page_size, page * page_size]).fetchall()
    rows = [line_row(entry) for entry in _read_entries(journal, located)]
    return LinePage(run, rows, total, page, page_size, counts, int(row.get("total_lines") or 0))


def line_entries(run: str, line_numbers: Iterable[int], *, home: str | Path | None = None) -> dict[int, dict[str, Any]]:
    """The journal entries (as the run wrote them, with node runs) of some lines of ``run``."""
    index, row = _run(run, home)
    journal = RunFolder(row["output_path"]).journal_file
    wanted = sorted({int(n) for n in line_numbers})
    located = []
    with index.connect() as db:
        refresh(db, run, journal)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            located += db.execute(f"SELECT line_number, byte_offset, byte_length FROM run_lines WHERE run = ? AND "
                                  f"line_number IN ({', '.join('?' * len(chunk))})", [run, *chunk]).fetchall()
    return {entry["line_number"]: entry for entry in _read_entries(journal, located)}


def line_row(entry: dict[str, Any]) -> dict[str, Any]:
    """What a line table shows of a journal entry: ``line_number, status, inputs, outputs, error,
    error_code, duration, prompt_tokens, completion_tokens, total_tokens, cached, trace_id, start_time``."""
    usage = entry.get("usage") or {}
    error = entry.get("error")
    completed = entry.get("status") == "Completed"
    return {"line_number": entry.get("line_number"), "status": entry.get("status"),
            "inputs": entry.get("inputs") or {}, "outputs": (entry.get("outputs") or {}) if completed else None,
            "error": error_message(error) or None, "error_code": error_code(error) or None,
            "duration": entry_duration(entry), "prompt_tokens": usage.get("prompt_tokens"),
            "completion_tokens": usage.get("completion_tokens"), "total_tokens": usage.get("total_tokens"),
            "cached": bool(entry.get("cached")), "trace_id": entry.get("trace_id"),
            "start_time": entry.get("start_time")}


# the index ---------------------------------------------------------------------------------
def refresh(db: sqlite3.Connection, run: str, journal: Path) -> None:
    """Index what was appended to ``journal`` since the last call (all of it if it was rewritten)."""
    try:
        stat = journal.stat()
    except FileNotFoundError:
        return
    state = db.execute("SELECT inode, indexed_bytes, tail FROM run_journals WHERE run = ?", (run,)).fetchone()
    if state is not None and state["inode"] == stat.st_ino and state["indexed_bytes"] == stat.st_size:
        return  # nothing new (the common case: a finished run)
    with transaction(db):  # one indexer at a time; runs wait for it (busy timeout)
        state = db.execute("SELECT inode, indexed_bytes, tail FROM run_journals WHERE run = ?", (run,)).fetchone()
        with open(journal, "rb") as handle:
            start = _resume_point(handle, state, os.fstat(handle.fileno()))
            if start == 0:
                db.execute("DELETE FROM run_lines WHERE run = ?", (run,))
            handle.seek(start)
            rows, end = _scan(handle, start, run)
            tail = _tail(handle, end)
        db.executemany("INSERT OR REPLACE INTO run_lines VALUES (?, ?, ?, ?, ?)", rows)
        db.execute("INSERT OR REPLACE INTO run_journals VALUES (?, ?, ?, ?)",
                   (run, os.stat(journal).st_ino, end, tail))


def _resume_point(handle, state: sqlite3.Row | None, stat: os.stat_result) -> int:
    """Where indexing goes on: the indexed end, or 0 when the journal is another file than the one indexed."""
    if state is None or state["inode"] != stat.st_ino or stat.st_size < state["indexed_bytes"]:
        return 0
    return state["indexed_bytes"] if _tail(handle, state["indexed_bytes"]) == state["tail"] else 0


def _tail(handle, end: int) -> bytes:
    start = max(end - _TAIL_BYTES, 0)
    handle.seek(start)
    return handle.read(end - start)


def _scan(handle, start: int, run: str) -> tuple[list[tuple], int]:
    """Index rows of the complete lines from ``start``; returns them and where the last one ends."""
    rows, offset = [], start
    for raw in handle:
        if not raw.endswith(b"\n"):
            break  # a line being written (or torn): indexed once it is complete
        head = record_head(raw[:-1]) if raw.strip() else None
        if head is not None:  # a damaged record is no result: its line runs again on resume
            rows.append((run, head[0], head[1], offset, len(raw)))
        offset += len(raw)
    return rows, offset


def _read_entries(journal: Path, located: Iterable[tuple[int, int, int]]) -> Iterator[dict[str, Any]]:
    """The entries at those byte ranges, in the order given; an unreadable one is shown as such."""
    located = list(located)
    if not located:
        return
    with open(journal, "rb") as handle:
        for number, offset, length in located:
            handle.seek(offset)
            entry = unframe(handle.read(length).rstrip(b"\n"))
            if entry is None or entry.get("line_number") != number:
                entry = {"line_number": number, "status": "Unreadable",
                         "error": {"message": f"The journal record of line {number} cannot be read "
                                              f"({journal}, byte {offset}); reopen the page, or resume the run."}}
            yield entry


def _run(run: str, home: str | Path | None) -> tuple[RunIndex, dict[str, Any]]:
    from promptflow_lite.home import pfl_home

    index = RunIndex(Path(home or pfl_home()) / "runs.sqlite")
    row = index.get(run)
    if row is None:
        raise RunNotFoundError(f"Run '{run}' does not exist.", hint="see `pfl run list`.")
    return index, row


# search ------------------------------------------------------------------------------------
def _search(db: sqlite3.Connection, run: str, journal: Path, text: str) -> list[int]:
    """Line numbers whose inputs, outputs or error contain ``text`` (or whose number it is), sorted."""
    stat = journal.stat()
    key = (str(journal), stat.st_ino, stat.st_size, text.casefold())
    if key not in _SEARCH_CACHE:
        latest = dict(db.execute("SELECT byte_offset, line_number FROM run_lines WHERE run = ?", (run,)).fetchall())
        needle = text.casefold()
        raw_needle = json.dumps(needle, ensure_ascii=False)[1:-1].encode()
        found = {int(text)} & set(latest.values()) if text.isdigit() else set()
        with open(journal, "rb") as handle:
            offset = 0
            for raw in handle:
                number = latest.get(offset)
                offset += len(raw)
                if number is None or number in found:
                    continue
                candidate = raw.lower() if raw_needle.isascii() else raw.decode("utf-8", "replace").casefold().encode()
                if raw_needle in candidate and _holds(unframe(raw.rstrip(b"\n")), needle):
                    found.add(number)
        if len(_SEARCH_CACHE) >= _SEARCH_CACHE_SIZE:
            _SEARCH_CACHE.pop(next(iter(_SEARCH_CACHE)))
        _SEARCH_CACHE[key] = sorted(found)
    return _SEARCH_CACHE[key]


def _holds(entry: dict[str, Any] | None, needle: str) -> bool:
    """Whether a value of the entry's inputs, outputs or error contains ``needle`` (casefolded)."""
    if entry is None:
        return False
    values = (entry.get("inputs"), entry.get("outputs"), error_message(entry.get("error")))
    return any(needle in text.casefold() for text in _texts(values))


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _texts(item)
    elif value is not None:
        yield value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
