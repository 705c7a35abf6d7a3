"""The records behind the report's charts, one flat table per chart, for the HTML report and ``--json`` alike.

``metrics``: each variant's mean and CI per metric; ``forest``: each variant's paired difference
against the baseline with its CI and verdict; ``pareto``: quality, cost (or tokens) and p95 latency
per variant with its place on the front; ``slices``: each variant's mean and CI per metric and slice,
with the slice's flag. Long-form records, ready for Vega-Lite, Altair or ``st.bar_chart``;
:func:`.chart_figures.draw_figures` draws them as SVG.
"""

from __future__ import annotations

import math
from typing import Any


def chart_data(result: Any) -> dict[str, list[dict[str, Any]]]:
    """The four tables for ``result`` (an EvaluationResult); a table is empty when its chart does not apply."""
    report, analysis = result.report, result.analysis
    best = analysis.best.variant if analysis is not None and analysis.best is not None else None
    data: dict[str, list[dict[str, Any]]] = {"metrics": [], "forest": [], "pareto": [], "slices": []}
    for metric in report.metrics:
        for variant in report.variants:
            summary = report.summary(variant, metric)
            if summary is None:
                continue
            e = summary.estimate
            data["metrics"].append({"metric": metric, "variant": variant, "mean": _num(e.mean), "low": _num(e.low),
                                    "high": _num(e.high), "n": e.n, "baseline": variant == report.baseline,
                                    "best": variant == best and metric == analysis.primary})
            pair = report.pair(variant, metric)
            if pair is not None:
                c = pair.comparison
                data["forest"].append({"metric": metric, "variant": variant, "baseline": pair.baseline,
                                       "diff": _num(c.diff_mean), "low": _num(c.low), "high": _num(c.high),
                                       "p": _num(c.p_value), "p_holm": _num(pair.p_holm), "verdict": c.verdict,
                                       "higher_is_better": c.higher_is_better})
    if analysis is not None and analysis.costs is not None:
        costs = analysis.costs
        for name, v in costs.variants.items():
            cost = v.cost.mean if costs.basis == "cost" and v.cost is not None else v.tokens_per_line
            data["pareto"].append({"variant": name, "quality": _num(v.quality), "quality_metric": analysis.primary,
                                   "cost": _num(cost), "cost_basis": costs.basis,
                                   "currency": costs.prices.currency if costs.prices else None,
                                   "latency_p95": _num(v.latency_p95.mean), "front": v.pareto})
    if analysis is not None and analysis.slices is not None:
        flagged = {(f.column, f.slice, f.variant, f.metric): f.kind for f in analysis.slices.flags}
        for column in analysis.slices.columns:
            for (label, variant, metric), cell in column.cells.items():
                e = cell.estimate
                data["slices"].append({"column": column.column, "binned": column.binned, "slice": label,
                                       "metric": metric, "variant": variant, "n": e.n, "mean": _num(e.mean), "low": _num(e.low), "high": _num(e.high),
                                       "diff": _num(cell.versus.diff_mean) if cell.versus else None,
                                       "p_holm": _num(cell.p_holm),
                                       "flag": flagged.get((column.column, label, variant, metric))})
    return data


def _num(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value
