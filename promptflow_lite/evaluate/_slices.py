"""Slices: every metric per value of a data column, with its CI and the paired difference against the baseline.

``--slice-by topic`` (or ``${data.topic}``) groups the lines by the column's value; a numeric
column with more than ``MAX_CATEGORIES`` values is cut into quartiles. In each slice every
variant's metric gets its mean and CI and, against the baseline, the paired difference with its
CI and test (the methods of :mod:`~promptflow_lite.evaluate.stats`).

Flags. A slice is flagged when a variant's verdict there, after a Holm adjustment over every
slice test of the report (slices × variants × metrics), is significant and disagrees with the
overall verdict: ``reverses`` when the variant is better overall but worse in the slice (or the
other way round), ``only here`` when overall there is no detectable difference. The adjustment
keeps the chance of any false flag at most 1 - confidence, so on data where nothing differs
nothing is flagged (bar that chance).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

from promptflow_lite.errors import UserError
from promptflow_lite.evaluate._comparison import ComparisonReport
from promptflow_lite.evaluate.stats import Comparison, Estimate, holm_adjust, metric_ci, paired_difference

MAX_CATEGORIES = 12  # a numeric column with more distinct values is cut into quartiles
MAX_SLICES = 50  # a text column with more distinct values is refused
MISSING = "(missing)"
REVERSES, ONLY_HERE = "reverses", "only here"


@dataclass(frozen=True)
class SliceCell:
    """One variant on one metric in one slice; ``versus`` (and ``p_holm``) against the baseline."""

    estimate: Estimate
    versus: Comparison | None = None
    p_holm: float = math.nan

    def verdict(self, alpha: float) -> str:
        """The slice verdict after the Holm adjustment."""
        if self.versus is None or not self.p_holm < alpha:
            return "no detectable difference"
        return self.versus.verdict


@dataclass(frozen=True)
class Flag:
    column: str
    slice: str
    variant: str
    metric: str
    kind: str  # REVERSES or ONLY_HERE
    overall: str  # the overall verdict
    verdict: str  # the verdict in the slice
    versus: Comparison
    p_holm: float


@dataclass
class SliceColumn:
    """The slices of one column: their labels with line numbers, and a cell per slice, variant and metric."""

    column: str
    slices: dict[str, list[int]]
    binned: bool = False
    cells: dict[tuple[str, str, str], SliceCell] = field(default_factory=dict)


@dataclass
class SliceAnalysis:
    columns: list[SliceColumn]
    flags: list[Flag]
    confidence: float
    tests: int  # the size of the Holm family


def analyse_slices(columns: Sequence[str], data: Sequence[dict[str, Any]],
                   line_means: dict[str, dict[str, list[float]]], report: ComparisonReport) -> SliceAnalysis:
    """Slice the report's variants by each of ``columns``; ``line_means[variant][metric][line]`` as in ``compare``."""
    alpha = 1 - report.confidence
    sliced = [_slice_lines(_column_name(c, data), data) for c in columns]
    pending: list[tuple[SliceColumn, tuple[str, str, str], Estimate, Comparison | None]] = []
    for column in sliced:
        for label, lines in column.slices.items():
            for variant in report.variants:
                for metric in report.metrics:
                    values = line_means.get(variant, {}).get(metric)
                    if values is None:
                        continue
                    estimate = metric_ci([values[i] for i in lines], report.confidence)
                    versus = None
                    base = line_means.get(report.baseline or "", {}).get(metric)
                    if report.baseline is not None and variant != report.baseline and base is not None:
                        versus = paired_difference([base[i] for i in lines], [values[i] for i in lines],
                                                   report.confidence, higher_is_better=_higher(report, variant, metric))
                    pending.append((column, (label, variant, metric), estimate, versus))
    tested = [item for item in pending if item[3] is not None]
    adjusted = iter(holm_adjust([item[3].p_value for item in tested]) if tested else [])
    for column, key, estimate, versus in pending:
        column.cells[key] = SliceCell(estimate, versus, next(adjusted) if versus is not None else math.nan)
    flags = [flag for column in sliced for flag in _flags(column, report, alpha)]
    return SliceAnalysis(sliced, flags, report.confidence, len(tested))


def _flags(column: SliceColumn, report: ComparisonReport, alpha: float) -> list[Flag]:
    flags = []
    for (label, variant, metric), cell in column.cells.items():
        verdict = cell.verdict(alpha)
        pair = report.pair(variant, metric)
        if pair is None or verdict == "no detectable difference":
            continue
        overall = pair.verdict
        if overall == verdict:
            continue
        kind = ONLY_HERE if overall == "no detectable difference" else REVERSES
        flags.append(Flag(column.column, label, variant, metric, kind, overall, verdict, cell.versus, cell.p_holm))
    return flags


def _higher(report: ComparisonReport, variant: str, metric: str) -> bool:
    pair = report.pair(variant, metric)
    return pair.comparison.higher_is_better if pair is not None else True


def check_slice_columns(columns: Sequence[str], data: Sequence[dict[str, Any]]) -> None:
    """Every ``--slice-by`` names a data column (checked before any run starts)."""
    for column in columns:
        _column_name(column, data)


def _column_name(column: str, data: Sequence[dict[str, Any]]) -> str:
    name = column.strip()
    if name.startswith("${") and name.endswith("}"):
        name = name[2:-1]
        if not name.startswith("data."):
            raise UserError(f"--slice-by {column}: slices come from the data; write ${{data.COLUMN}} or COLUMN.")
        name = name[len("data."):]
    present = {key for row in data for key in row}
    if name not in present:
        raise UserError(f"--slice-by {column}: the data has no column '{name}'.",
                        hint=f"columns: {', '.join(sorted(present)) or 'none'}.")
    return name


def _slice_lines(column: str, data: Sequence[dict[str, Any]]) -> SliceColumn:
    values = [row.get(column) for row in data]
    numbers = [v for v in values if _is_number(v)]
    if numbers and len(numbers) == sum(not _missing(v) for v in values) and len(set(numbers)) > MAX_CATEGORIES:
        return SliceColumn(column, _quartiles(values), binned=True)
    slices: dict[str, list[int]] = {}
    for line, value in enumerate(values):
        slices.setdefault(_label(value), []).append(line)
    if len(slices) > MAX_SLICES:
        raise UserError(f"--slice-by {column}: the column has {len(slices)} different values; slices need fewer "
                        f"than {MAX_SLICES + 1}.", hint="slice by a column that groups the lines (a topic, a source, a "
                                                        "difficulty), or add such a column to the data.")
    order = sorted(slices, key=lambda label: (label == MISSING, label))
    return SliceColumn(column, {label: slices[label] for label in order})


def _quartiles(values: list[Any]) -> dict[str, list[int]]:
    import numpy as np

    numbers = np.array([float(v) for v in values if _is_number(v)])
    edges = np.unique(np.quantile(numbers, [0, 0.25, 0.5, 0.75, 1.0]))
    slices: dict[str, list[int]] = {}
    for line, value in enumerate(values):
        if not _is_number(value):
            slices.setdefault(MISSING, []).append(line)
            continue
        index = min(int(np.searchsorted(edges, float(value), side="right")) - 1, len(edges) - 2)
        low, high = edges[index], edges[index + 1]
        closing = "]" if index == len(edges) - 2 else ")"
        slices.setdefault(f"[{low:g}, {high:g}{closing}", []).append(line)
    bins = sorted((label for label in slices if label != MISSING), key=lambda label: float(label[1:].split(",")[0]))
    return {label: slices[label] for label in bins + ([MISSING] if MISSING in slices else [])}


def _label(value: Any) -> str:
    if _missing(value):
        return MISSING
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not _missing(value)
