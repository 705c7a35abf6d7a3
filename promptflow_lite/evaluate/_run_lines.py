"""A run's lines by line number, and which of its output columns are per-line metrics.

A metric column holds numbers or booleans on every line that has a value (``None`` = no score);
text columns such as a judge's ``reason`` are kept for reports but are not metrics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable


@dataclass
class RunLines:
    """The outputs of a run's completed lines, the error message of its failed lines, every line's inputs."""

    name: str
    outputs: dict[int, dict[str, Any]] = field(default_factory=dict)
    errors: dict[int, str] = field(default_factory=dict)
    inputs: dict[int, dict[str, Any]] = field(default_factory=dict)

    def value(self, line: int, column: str) -> Any:
        return (self.outputs.get(line) or {}).get(column)


def read_run_lines(client: Any, run: Any) -> RunLines:
    """``client.get_details(run)`` (columns ``outputs.*``, ``line_number``, ``status``, ``error``) as RunLines."""
    frame = client.get_details(run)
    name = getattr(run, "name", run)
    lines = RunLines(str(name))
    output_columns = [c for c in frame.columns if c.startswith("outputs.")]
    input_columns = [c for c in frame.columns if c.startswith("inputs.")]
    for record in frame.to_dict(orient="records"):
        number = int(record["line_number"])
        lines.inputs[number] = {c[len("inputs."):]: _plain(record[c]) for c in input_columns}
        status = record.get("status", "Completed")
        if status not in (None, "Completed"):
            lines.errors[number] = _error_text(record.get("error")) or str(status)
            continue
        lines.outputs[number] = {c[len("outputs."):]: _plain(record[c]) for c in output_columns}
    return lines


def metric_columns(runs: Iterable[RunLines], declared: Iterable[str] = ()) -> list[str]:
    """Output columns that are numeric or boolean on every line of every run that has a value.

    ``declared`` columns (outputs typed as numbers or booleans) count even when no line has a value.
    """
    order: dict[str, None] = {}
    bad: set[str] = set()
    seen_value: set[str] = set()
    for run in runs:
        for outputs in run.outputs.values():
            for column, value in outputs.items():
                order.setdefault(column)
                if value is None:
                    continue
                seen_value.add(column)
                if not is_score(value):
                    bad.add(column)
    seen_value.update(declared)
    return [c for c in order if c in seen_value and c not in bad]


def is_score(value: Any) -> bool:
    return isinstance(value, (bool, int, float)) and not isinstance(value, complex)


def score(value: Any) -> float | None:
    """A per-line value as a float score (booleans → 0/1), or None."""
    if not is_score(value):
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _plain(value: Any) -> Any:
    """pandas' NaN for a missing cell → None; numpy scalars → Python."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            return value
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error)
    if error is None or (isinstance(error, float) and math.isnan(error)):
        return ""
    return str(error)


def evaluation_scores(evaluations: Iterable[dict[str, Any]], line_numbers: Iterable[int], *,
                      home: Any = None) -> dict[int, dict[str, Any]]:
    """Per line, the numeric and boolean outputs of a run's evaluation runs, named ``<flow>.<column>``.

    ``evaluations``: ``{"name", "flow"}`` records (``runs.listing.get_run_row(...)["evaluations"]``);
    only the given lines are read, through each evaluation run's line index.
    """
    from promptflow_lite.runs._lines import line_entries

    numbers = list(line_numbers)
    scores: dict[int, dict[str, Any]] = {number: {} for number in numbers}
    for evaluation in evaluations:
        for number, entry in line_entries(evaluation["name"], numbers, home=home).items():
            for column, value in (entry.get("outputs") or {}).items():
                if is_score(value) and number in scores:
                    scores[number][f"{evaluation['flow']}.{column}"] = value
    return scores
