"""An evaluation's charts as inline SVG figures, drawn from its chart records (``pfl eval --json``'s ``charts``).

The HTML report and the Streamlit app draw the same figures from the same records: a mean-with-CI chart per metric,
a paired-difference forest plot per metric, the Pareto scatter, and grouped bars per slice column and metric.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from promptflow_lite.evaluate import _svg


@dataclass
class Figures:
    """SVG strings; a list is empty (``pareto`` is "") when its chart does not apply."""

    metrics: list[str] = field(default_factory=list)
    forest: list[str] = field(default_factory=list)
    pareto: str = ""
    slices: list[dict[str, str]] = field(default_factory=list)  # {"column", "metric", "chart"}

    def __bool__(self) -> bool:
        return bool(self.metrics or self.forest or self.pareto or self.slices)


def draw_figures(charts: dict[str, list[dict[str, Any]]], confidence: float = 0.95) -> Figures:
    """The figures of ``charts`` (keys ``metrics``, ``forest``, ``pareto``, ``slices``; see ``_chart_data``)."""
    level = f"{confidence:.0%}"
    metric_rows, forest_rows = charts.get("metrics") or [], charts.get("forest") or []
    metrics = list(dict.fromkeys(r["metric"] for r in metric_rows))
    variants = list(dict.fromkeys(r["variant"] for r in metric_rows))
    figures = Figures()
    for metric in metrics:
        rows = [r for r in metric_rows if r["metric"] == metric]
        figures.metrics.append(_svg.interval_chart(rows, f"{metric}: mean per variant ({level} CI)"))
        pairs = [r for r in forest_rows if r["metric"] == metric]
        if pairs:
            figures.forest.append(_svg.interval_chart(
                pairs, f"{metric}: difference against {pairs[0]['baseline']} ({level} CI)", zero=True, key="diff"))
    pareto = charts.get("pareto") or []
    if len(pareto) > 1:
        basis = pareto[0].get("cost_basis")
        figures.pareto = _svg.pareto_chart(
            pareto, "Quality against " + ("cost per line" if basis == "cost" else "tokens per line (no --prices)"))
    slice_rows = charts.get("slices") or []
    for column in dict.fromkeys(r["column"] for r in slice_rows):
        for metric in metrics:
            rows = [r for r in slice_rows if r["column"] == column and r["metric"] == metric]
            if not rows:
                continue
            binned = " (quartiles)" if rows[0].get("binned") else ""
            title = f"{metric} by {column}{binned} ({level} CI)"
            shown = [v for v in variants if any(r["variant"] == v for r in rows)]
            figures.slices.append({"column": column, "metric": metric,
                                   "chart": _svg.slice_chart(rows, shown, title)})
    return figures
