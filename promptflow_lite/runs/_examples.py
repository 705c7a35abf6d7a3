"""Turn a traced line into a dataset line: its inputs plus an expected value, appended to a JSONL file.

    add_to_dataset("tests/regressions.jsonl", "6b169858b07a9f42", output="category", column="ground_truth")

A failing production line becomes a regression test: the line's inputs and its current output
(or a corrected value) as the expected answer, appended to a data file that ``pfl run create`` /
``pfl eval --data`` read as they are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptflow_lite.runs._errors import DataError

_UNSET: Any = object()


@dataclass
class Example:
    """What was appended: the ``record``, its 1-based line in ``path``, and notes for the user."""

    path: Path
    record: dict[str, Any]
    line: int
    notes: list[str] = field(default_factory=list)


def traced_example(trace_id: str, *, trace_path: str | Path | None = None) -> dict[str, Any]:
    """``{"inputs": ..., "outputs": ..., "run": ..., "line_number": ...}`` of a traced line (its root span)."""
    from promptflow_lite.tracing._view import trace_view

    view = trace_view(trace_id, path=trace_path)
    line = view.line_run or {}
    root = view.spans[0] if view.spans else {}
    inputs = line.get("inputs") if isinstance(line.get("inputs"), dict) else root.get("inputs")
    outputs = line.get("outputs") if line.get("outputs") is not None else root.get("output")
    return {"trace_id": view.trace_id, "inputs": inputs if isinstance(inputs, dict) else {},
            "outputs": outputs, "run": line.get("run"), "line_number": line.get("line_number"),
            "flow": line.get("flow")}


def add_to_dataset(path: str | Path, trace_id: str, *, output: str | None = None, column: str = "ground_truth",
                   expected: Any = _UNSET, trace_path: str | Path | None = None) -> Example:
    """Append the traced line ``trace_id`` to the JSONL file ``path`` (created if missing).

    The record holds the line's inputs and, under ``column``, the expected value: ``expected`` when
    given (a corrected answer), else the line's output ``output`` (None: all its outputs, or the
    single one when there is only one).
    """
    example = traced_example(trace_id, trace_path=trace_path)
    if expected is _UNSET:
        expected = pick_output(example["outputs"], output)
    return append_example(path, example["inputs"], expected, column=column)


def pick_output(outputs: Any, output: str | None = None) -> Any:
    """One output of a line (``output``), its only output, or all of them."""
    if not isinstance(outputs, dict):
        return outputs
    if output is not None:
        if output not in outputs:
            raise DataError(f"The line has no output '{output}'.",
                            hint=f"its outputs are: {', '.join(outputs) or 'none'}.")
        return outputs[output]
    return next(iter(outputs.values())) if len(outputs) == 1 else outputs


def append_example(path: str | Path, inputs: dict[str, Any], expected: Any, *, column: str = "ground_truth") -> Example:
    """Append ``{**inputs, column: expected}`` as one JSON line to ``path``; notes say when its columns
    differ from the file's first line."""
    target = Path(path).expanduser()
    if target.suffix.lower() != ".jsonl":
        raise DataError("A dataset line can only be added to a .jsonl file.", file=str(target),
                        hint="pick a file ending in .jsonl (one JSON object per line).")
    if not column or not column.strip():
        raise DataError("Name the column that holds the expected value.", hint="e.g. ground_truth.")
    if column in inputs:
        raise DataError(f"'{column}' is already an input of the line.", hint="name the expected column otherwise.")
    record = {**inputs, column: expected}
    text = json.dumps(record, ensure_ascii=False, default=str)
    target.parent.mkdir(parents=True, exist_ok=True)
    existing = _first_record(target)
    notes = []
    if existing is not None and set(existing) != set(record):
        notes.append(f"The file's first line has the columns {', '.join(existing)}; this one has "
                     f"{', '.join(record)}.")
    with open(target, "a+b") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        if size:
            handle.seek(size - 1)
            if handle.read(1) != b"\n":
                text = "\n" + text
        handle.write((text + "\n").encode("utf-8"))
    return Example(target, record, _count_lines(target), notes)


def _first_record(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    with open(path, encoding="utf-8", errors="replace") as handle:
        for text in handle:
            if text.strip():
                try:
                    found = json.loads(text)
                except ValueError:
                    raise DataError("The file is not JSONL: its first line is not JSON.", file=str(path),
                                    line=1, hint="pick another file, or fix that line.") from None
                return found if isinstance(found, dict) else None
    return None


def _count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for text in handle if text.strip())
