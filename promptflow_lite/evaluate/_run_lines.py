"""A run's lines by line number, which of its output columns are per-line metrics, and the scores per line.

A metric column holds numbers or booleans on every line that has a value (``None`` = no score);
text columns such as a judge's ``reason`` are kept for reports but are not metrics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence


@dataclass
class RunLines:
    """The outputs of a run's completed lines, the error message of its failed lines, every line's inputs."""

    name: str
    outputs: dict[int, dict[str, Any]] = field(default_factory=dict)
    errors: dict[int, str] = field(default_factory=dict)
    inputs: dict[int, dict[str, Any]] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)  # every run whose lines these are (a halving race has several)

    def __post_init__(self) -> None:
        self.names = self.names or [self.name]

    def value(self, line: int, column: str) -> Any:
        return (self.outputs.get(line) or {}).get(column)

    def absorb(self, other: "RunLines") -> None:
        """Add the lines of another run of the same variant over other lines (a later round of a halving race)."""
        self.outputs.update(other.outputs)
        self.errors.update(other.errors)
        self.names += other.names


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


def lines_from_journal(name: str, journal: dict[int, dict[str, Any]]) -> RunLines:
    """RunLines from a run folder's journal (``RunFolder.read_journal()``), without a DataFrame."""
    from promptflow_lite.engine._results import COMPLETED

    lines = RunLines(name)
    for number, entry in sorted(journal.items()):
        lines.inputs[number] = dict(entry.get("inputs") or {})
        if entry["status"] == COMPLETED:
            lines.outputs[number] = dict(entry.get("outputs") or {})
        else:
            lines.errors[number] = _error_text(entry.get("error")) or str(entry["status"])
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


def score_outputs(flow: Path) -> list[str]:
    """The outputs a DAG flow declares as ``int``, ``double`` or ``bool``: metrics even if no line has a value."""
    from promptflow_lite.flow._loader import flow_kind, load_dag, resolve_flow_path
    from promptflow_lite.flow._value_type import ValueType

    file, _ = resolve_flow_path(flow)
    if flow_kind(file) != "dag":
        return []
    numeric = (ValueType.INT, ValueType.DOUBLE, ValueType.BOOL)
    return [name for name, output in load_dag(file).outputs.items() if output.type in numeric]


def line_scores(variants: Sequence[Any], n_lines: int, declared: dict[str, list[str]] | None = None):
    """``scores[variant][metric][line] = [score per repeat]`` and metric → (evaluator, column).

    ``variants`` have a ``label`` and ``evaluations`` (evaluator alias → its RunLines per repeat).

    ``declared`` (evaluator → :func:`score_outputs`) keeps a metric whose every line lacks a score
    in the report (as n/a, failing its gates) instead of dropping it silently.
    """
    sources: dict[str, tuple[str, str]] = {}
    for runs in variants:
        for alias, per_repeat in runs.evaluations.items():
            for column in metric_columns(per_repeat, (declared or {}).get(alias, ())):
                sources.setdefault(f"{alias}.{column}", (alias, column))
    scores: dict[str, dict[str, list[list[float | None]]]] = {}
    for runs in variants:
        table = scores[runs.label] = {}
        for metric, (alias, column) in sources.items():
            per_repeat = runs.evaluations.get(alias, [])
            table[metric] = [[score(r.value(line, column)) for r in per_repeat] for line in range(n_lines)]
    return scores, sources


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
