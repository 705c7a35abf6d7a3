"""Per-line details of a run: inputs, outputs, status, error, cache hit, trace id — one row per line.

Read from the run folder (inputs, outputs and the line journal), so they work for a finished,
a canceled, a crashed or a still-running run. A line that has not run has status ``NotStarted``;
a failed line has no outputs (None) and its error message.
"""

from __future__ import annotations

from typing import Any

from promptflow_lite.engine._results import COMPLETED, FAILED
from promptflow_lite.runs._records import entry_duration, error_code, error_message
from promptflow_lite.runs._store import RunFolder

NOT_STARTED = "NotStarted"


def detail_rows(folder: RunFolder, *, failed_only: bool = False, max_results: int | None = None) -> list[dict[str, Any]]:
    """Flat rows: ``line_number``, ``inputs.<k>``…, ``outputs.<k>``…, ``status``, ``error``, ``error_code``,
    ``cached``, ``duration``, ``trace_id``."""
    journal = folder.read_journal()
    outputs = folder.read_outputs()
    output_names = _output_names(outputs)
    rows = []
    for number, inputs in folder.read_inputs():
        entry = journal.get(number)
        status = entry["status"] if entry else NOT_STARTED
        if failed_only and status != FAILED:
            continue
        row: dict[str, Any] = {"line_number": number}
        row.update({f"inputs.{k}": v for k, v in {**inputs, **((entry or {}).get("inputs") or {})}.items()})
        produced = outputs.get(number) if status == COMPLETED else None
        row.update({f"outputs.{k}": (produced or {}).get(k) for k in output_names})
        error = (entry or {}).get("error")
        row.update({"status": status, "error": error_message(error) or None, "error_code": error_code(error) or None,
                    "cached": bool((entry or {}).get("cached")), "duration": entry_duration(entry),
                    "trace_id": (entry or {}).get("trace_id")})
        rows.append(row)
        if max_results and len(rows) >= max_results:
            break
    return rows


def detail_frame(folder: RunFolder, *, failed_only: bool = False, max_results: int | None = None):
    """``detail_rows`` as a pandas DataFrame (columns in the order above)."""
    import pandas as pd

    rows = detail_rows(folder, failed_only=failed_only, max_results=max_results)
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return pd.DataFrame(rows, columns=list(columns) or ["line_number", "status"])


def _output_names(outputs: dict[int, dict[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for row in outputs.values():
        names.update(dict.fromkeys(k for k in row if k != "line_number"))
    return list(names)
