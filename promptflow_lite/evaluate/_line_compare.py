"""Runs compared line by line: every run's output and scores side by side, and who won each line.

:func:`compare_lines` reads the runs once and returns the statistics of ``pfl run compare``
(the same :class:`ComparisonReport`, so a page shows the CLI's numbers) together with one record
per line: its inputs, each run's outputs or error, each metric's score per run and, for every run
but the baseline, whether it did ``"better"``, ``"worse"`` or the ``"same"`` as the baseline there.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

from promptflow_lite.evaluate._comparison import ComparisonReport
from promptflow_lite.evaluate._run_compare import RunColumns, compare_columns, read_columns
from promptflow_lite.evaluate._run_lines import score

BETTER, WORSE, SAME = "better", "worse", "same"


@dataclass
class LineComparison:
    """The report, the runs (baseline first in ``runs``), one record per line (see :func:`compare_lines`)."""

    report: ComparisonReport
    runs: list[str]
    lines: list[dict[str, Any]] = field(default_factory=list)

    @property
    def baseline(self) -> str:
        return self.report.baseline or self.runs[0]

    def select(self, *, run: str | None = None, metric: str | None = None, outcome: str | None = None,
               differing: bool = False) -> list[dict[str, Any]]:
        """The lines where ``run`` did ``outcome`` (better/worse/same) than the baseline on ``metric``
        (any metric when None); ``differing``: only lines whose outputs differ between runs."""
        chosen = []
        for line in self.lines:
            if differing and not line["differs"]:
                continue
            if outcome:
                metrics = [metric] if metric else list(line["outcome"])
                runs = [run] if run else [r for r in self.runs if r != self.baseline]
                if not any(line["outcome"].get(m, {}).get(r) == outcome for m in metrics for r in runs):
                    continue
            chosen.append(line)
        return chosen

    def chart_records(self) -> list[dict[str, Any]]:
        """Per metric and run: mean, CI bounds and n (None for n/a), for a chart with error bars."""
        records = []
        for metric in self.report.metrics:
            for run in self.report.variants:
                summary = self.report.summary(run, metric)
                if summary is not None:
                    e = summary.estimate
                    records.append({"metric": metric, "run": run, "mean": _number(e.mean), "low": _number(e.low),
                                    "high": _number(e.high), "n": e.n, "baseline": run == self.baseline})
        return records


def compare_lines(client: Any, names: Sequence[str], metrics: Sequence[str] = (), baseline: str | None = None,
                  confidence: float = 0.95, lower_is_better: Sequence[str] = ()) -> LineComparison:
    """``pfl run compare``'s report on runs ``names`` plus each line side by side.

    A line record: ``line_number``, ``inputs`` (the baseline's), ``outputs`` and ``errors`` per run,
    ``scores[metric][run]`` (float or None), ``outcome[metric][run]`` (better/worse/same against the
    baseline, None when either side has no score) and ``differs`` (the runs' outputs are not all equal).
    """
    columns = read_columns(client, names)
    report = compare_columns(columns, metrics, baseline, confidence, lower_is_better)
    by_name = {run.name: run for run in columns}
    order = [report.baseline or columns[0].name] + [r.name for r in columns if r.name != report.baseline]
    lower = {metric for (_, metric), pair in report.paired.items() if not pair.comparison.higher_is_better}
    lines = [_line(number, [by_name[name] for name in order], report.metrics, lower)
             for number in range(report.n_lines)]
    return LineComparison(report, order, lines)


def _line(number: int, runs: list[RunColumns], metrics: list[str], lower: set[str]) -> dict[str, Any]:
    base = runs[0]
    outputs = {run.name: run.lines.outputs.get(number) if run.lines else None for run in runs}
    errors = {run.name: run.lines.errors.get(number) if run.lines else None for run in runs}
    scores: dict[str, dict[str, float | None]] = {}
    outcome: dict[str, dict[str, str | None]] = {}
    for metric in metrics:
        scores[metric] = {run.name: _score(run, metric, number) for run in runs}
        reference = scores[metric][base.name]
        outcome[metric] = {run.name: _outcome(scores[metric][run.name], reference, metric not in lower)
                           for run in runs[1:]}
    shown = {json.dumps(value, sort_keys=True, ensure_ascii=False, default=str) for value in outputs.values()}
    return {"line_number": number, "inputs": (base.lines.inputs.get(number) if base.lines else None) or {},
            "outputs": outputs, "errors": errors, "scores": scores, "outcome": outcome, "differs": len(shown) > 1}


def _score(run: RunColumns, metric: str, number: int) -> float | None:
    if metric not in run.columns:
        return None
    lines, column = run.columns[metric]
    return score(lines.value(number, column))


def _outcome(value: float | None, reference: float | None, higher_is_better: bool) -> str | None:
    if value is None or reference is None:
        return None
    if value == reference:
        return SAME
    return BETTER if (value > reference) == higher_is_better else WORSE


def _number(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)
