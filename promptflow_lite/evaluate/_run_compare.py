"""``pfl run compare``: the paired statistics of ``pfl eval`` for runs that already exist.

Each run contributes its own numeric/boolean output columns (``column``) and those of the
evaluation runs made over it (``<evaluation flow>.<column>``, the newest evaluation run of each
evaluation flow). Lines are aligned by ``line_number``; the runs must cover the same number of lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from promptflow_lite.errors import UserError
from promptflow_lite.evaluate._comparison import ComparisonReport, compare
from promptflow_lite.evaluate._gates import resolve_metric
from promptflow_lite.evaluate._run_lines import RunLines, metric_columns, read_run_lines, score

USABLE = ("Completed", "CompletedWithErrors")


@dataclass
class RunColumns:
    """One compared run: its metric columns (name → the lines and column holding it)."""

    name: str
    total_lines: int
    columns: dict[str, tuple[RunLines, str]]
    lines: RunLines | None = None  # the run's own lines (outputs, errors, inputs)


def run_columns(client: Any, name: str) -> RunColumns:
    """The metric columns of run ``name`` and of the evaluation runs pointing at it."""
    run = client.runs.get(name)
    own = read_run_lines(client, run)
    columns = {column: (own, column) for column in metric_columns([own])}
    seen_flows: set[str] = set()
    for evaluation in client.runs.list(max_results=None, include_archived=True):  # newest first
        if evaluation.run != run.name or evaluation.status not in USABLE:
            continue
        flow = evaluation.flow_name or evaluation.name
        if flow in seen_flows:
            continue
        seen_flows.add(flow)
        lines = read_run_lines(client, evaluation)
        columns.update({f"{flow}.{column}": (lines, column) for column in metric_columns([lines])})
    return RunColumns(run.name, int(run.total_lines or 0), columns, own)


def compare_runs(client: Any, names: Sequence[str], metrics: Sequence[str] = (), baseline: str | None = None,
                 confidence: float = 0.95, lower_is_better: Sequence[str] = ()) -> ComparisonReport:
    """Compare runs ``names`` (the first is the baseline unless ``baseline``) on ``metrics`` (default: all shared)."""
    return compare_columns(read_columns(client, names), metrics, baseline, confidence, lower_is_better)


def read_columns(client: Any, names: Sequence[str]) -> list[RunColumns]:
    """The metric columns of each run to compare (two or more distinct runs)."""
    if len(names) < 2:
        raise UserError("Give at least two runs to compare.", hint="e.g. `pfl run compare run_a run_b`.")
    if len(set(names)) != len(names):
        raise UserError("A run is named twice.", hint="name each run once.")
    return [run_columns(client, name) for name in names]


def compare_columns(runs: list[RunColumns], metrics: Sequence[str] = (), baseline: str | None = None,
                    confidence: float = 0.95, lower_is_better: Sequence[str] = ()) -> ComparisonReport:
    """:func:`compare_runs` on columns already read by :func:`read_columns`."""
    totals = {run.total_lines for run in runs}
    if len(totals) > 1:
        sizes = ", ".join(f"{run.name}: {run.total_lines}" for run in runs)
        raise UserError(f"The runs cover different numbers of lines ({sizes}).",
                        hint="compare runs made over the same data.")
    shared = [m for m in runs[0].columns if all(m in run.columns for run in runs[1:])]
    chosen = [_resolve(metric, runs) for metric in metrics] if metrics else shared
    if not chosen:
        raise UserError("The runs share no numeric or boolean output column to compare.",
                        hint="evaluate them first (e.g. `pfl run create --flow EVALUATOR --run RUN ...`) "
                             "or name a column with --metric.")
    n_lines = totals.pop()
    scores = {run.name: {metric: _column(run, metric, n_lines) for metric in chosen} for run in runs}
    lower = [_resolve(metric, runs) for metric in lower_is_better]
    return compare(scores, baseline, confidence, lower_is_better=lower, n_lines=n_lines)


def _resolve(metric: str, runs: list[RunColumns]) -> str:
    everywhere = [m for m in runs[0].columns if all(m in run.columns for run in runs[1:])]
    try:
        return resolve_metric(metric, everywhere)
    except UserError:
        missing = [run.name for run in runs if not any(_matches(metric, m) for m in run.columns)]
        if missing:
            raise UserError(f"Metric '{metric}' is not a numeric/boolean column of run(s) {', '.join(missing)}.",
                            hint=f"columns shared by all runs: {', '.join(everywhere) or 'none'}.") from None
        raise


def _matches(name: str, metric: str) -> bool:
    return name == metric or metric.split(".", 1)[0] == name or metric.split(".", 1)[-1] == name


def _column(run: RunColumns, metric: str, n_lines: int) -> list[list[float | None]]:
    lines, column = run.columns[metric]
    return [[score(lines.value(line, column))] for line in range(n_lines)]
