"""The analyses beyond the comparison table: the best variant, the halving race, spend, cost and latency, slices.

:func:`analyse` runs after every run of an evaluation has finished and only reads what they left:
line scores, the comparison report and each line's usage. Each part is its own module; this one
gathers them into an :class:`Analysis` that the text, HTML and JSON outputs show.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from promptflow_lite.evaluate._best import Best, name_best
from promptflow_lite.evaluate._costs import CostReport, cost_report
from promptflow_lite.evaluate._halving import Halving
from promptflow_lite.evaluate._prices import PriceTable
from promptflow_lite.evaluate._slices import SliceAnalysis, analyse_slices
from promptflow_lite.evaluate._spend import Spend
from promptflow_lite.evaluate._comparison import ComparisonReport, means_per_line


@dataclass
class Analysis:
    primary: str | None  # the metric that ranks variants (halving, the best, the Pareto front)
    higher_is_better: bool
    spend: Spend
    best: Best | None = None
    race: Halving | None = None
    race_totals: dict[str, Any] | None = None  # full grid estimate, sent, saved
    costs: CostReport | None = None
    slices: SliceAnalysis | None = None
    prices: PriceTable | None = None
    grid: bool = False  # the variants are combinations of several nodes' variants


def analyse(*, flow, data: Sequence[dict[str, Any]], variants: Sequence[Any], report: ComparisonReport,
            scores: dict[str, Any], primary: str | None, higher_is_better: bool, spend: Spend,
            prices: PriceTable | None = None, slice_by: Sequence[str] = (), race: Halving | None = None,
            race_totals: dict[str, Any] | None = None, grid: bool = False) -> Analysis:
    """Every analysis of one evaluation; ``variants`` are its VariantRuns (with their line usage)."""
    from promptflow_lite.evaluate._grid import dependencies

    line_means = {label: means_per_line(per_metric) for label, per_metric in scores.items()}
    found = Analysis(primary, higher_is_better, spend, race=race, race_totals=race_totals, prices=prices, grid=grid)
    if primary is not None:
        eligible = race.survivors if race is not None else None
        found.best = name_best(report, line_means, primary, higher_is_better=higher_is_better, eligible=eligible)
    graphs = dependencies(flow, [runs.selector for runs in variants])
    quality = {}
    for runs in variants:
        summary = report.summary(runs.label, primary) if primary else None
        quality[runs.label] = summary.estimate.mean if summary else float("nan")
    found.costs = cost_report({runs.label: runs.uses for runs in variants},
                              {runs.label: graphs.get(runs.selector) for runs in variants}, prices, quality,
                              primary=primary, higher_is_better=higher_is_better, confidence=report.confidence)
    if slice_by:
        found.slices = analyse_slices(slice_by, data, line_means, report)
    return found
