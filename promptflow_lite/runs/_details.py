"""Per-line details of a run: inputs, outputs, status, error, cache hit, trace id — one row per line.

Read from the run folder (inputs, outputs and the line journal), so they work for a finished,
a canceled, a crashed or a still-running run. A line that has not run has status ``NotStarted``;
a failed line has no outputs (None) and its error message.
"""

from __future__ import annotations

from typing import Any, Iterable

from promptflow_lite.engine._results import COMPLETED, FAILED, upgraded
from promptflow_lite.runs._journal_index import JournalIndex
from promptflow_lite.runs._records import entry_duration, error_code, error_message
from promptflow_lite.runs._store import RunFolder

NOT_STARTED = "NotStarted"


def detail_rows(folder: RunFolder, *, failed_only: bool = False, max_results: int | None = None) -> list[dict[str, Any]]:
    """Flat rows: ``line_number``, ``inputs.<k>``…, ``outputs.<k>``…, ``status``, ``error``, ``error_code``,
    ``cached``, ``duration``, ``trace_id``. Lines are read one at a time (the journal through its index), so only
    the rows returned are held: ``max_results`` lines of a million-line run come back at once."""
    index = JournalIndex.build(folder.journal_file)
    lines = []  # (the columns before the outputs, the outputs, the columns after them)
    with index.reader() as read:
        for number, inputs in folder.read_inputs():
            found = read(number)
            entry = upgraded(found) if found else {}
            status = entry.get("status", NOT_STARTED)
            if failed_only and status != FAILED:
                continue
            head = {"line_number": number,
                    **{f"inputs.{k}": v for k, v in {**inputs, **(entry.get("inputs") or {})}.items()}}
            error = entry.get("error")
            tail = {"status": status, "error": error_message(error) or None, "error_code": error_code(error) or None,
                    "cached": bool(entry.get("cached")), "duration": entry_duration(entry),
                    "trace_id": entry.get("trace_id")}
            lines.append((head, (entry.get("outputs") or {}) if status == COMPLETED else {}, tail))
            if max_results and len(lines) >= max_results:
                break
        first = next((n for n in index.numbers() if index.completed(n)), None)  # names the columns if none shown
        sample = [(read(first) or {}).get("outputs") or {}] if first is not None else []
    names = _output_names([*(outputs for _, outputs, _ in lines), *sample])
    return [{**head, **{f"outputs.{k}": outputs.get(k) for k in names}, **tail} for head, outputs, tail in lines]


def detail_frame(folder: RunFolder, *, failed_only: bool = False, max_results: int | None = None):
    """``detail_rows`` as a pandas DataFrame (columns in the order above)."""
    import pandas as pd

    rows = detail_rows(folder, failed_only=failed_only, max_results=max_results)
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return pd.DataFrame(rows, columns=list(columns) or ["line_number", "status"])


def _output_names(outputs: Iterable[dict[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for row in outputs:
        names.update(dict.fromkeys(k for k in row if k != "line_number"))
    return list(names)
