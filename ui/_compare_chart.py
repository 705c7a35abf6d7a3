"""A metric of compared runs as a chart: the mean of each run as a bar with its confidence interval."""

from __future__ import annotations

from typing import Any

BASELINE_COLOR = "#94a3b8"
RUN_COLORS = ["#6366f1", "#f59e0b", "#10b981", "#ef4444", "#0ea5e9", "#a855f7", "#84cc16", "#f97316"]


def metric_chart(records: list[dict[str, Any]], metric: str, labels: dict[str, str], confidence: float):
    """Bars of each run's mean on ``metric`` with its CI as error bars (``records``: ``LineComparison.chart_records``)."""
    import altair as alt
    import pandas as pd

    rows = [{**r, "label": labels.get(r["run"], r["run"])} for r in records if r["metric"] == metric]
    frame = pd.DataFrame.from_records(rows)
    order = [row["label"] for row in rows]
    colors = [BASELINE_COLOR if row["baseline"] else RUN_COLORS[i % len(RUN_COLORS)] for i, row in enumerate(rows)]
    scale = alt.Scale(domain=[0, 1]) if all(0 <= (r["low"] or 0) and (r["high"] or 0) <= 1 for r in rows) \
        else alt.Scale(zero=False)
    base = alt.Chart(frame).encode(x=alt.X("label:N", sort=order, title=None, axis=alt.Axis(labelAngle=0,
                                                                                           labelLimit=180)))
    bars = base.mark_bar(cornerRadiusTopLeft=3, cornerRadiusTopRight=3, size=42, opacity=0.9).encode(
        y=alt.Y("mean:Q", title="mean", scale=scale),
        color=alt.Color("label:N", scale=alt.Scale(domain=order, range=colors), legend=None),
        tooltip=[alt.Tooltip("label:N", title="run"), alt.Tooltip("mean:Q", format=".3f"),
                 alt.Tooltip("low:Q", title=f"{confidence:.0%} CI low", format=".3f"),
                 alt.Tooltip("high:Q", title=f"{confidence:.0%} CI high", format=".3f"), alt.Tooltip("n:Q")])
    errors = base.mark_errorbar(ticks=alt.MarkConfig(size=16), thickness=2, color="#111827").encode(
        y=alt.Y("low:Q", title="mean"), y2="high:Q")
    values = base.mark_text(dy=-10, dx=26, fontSize=12, color="#374151").encode(
        y="mean:Q", text=alt.Text("mean:Q", format=".3f"))
    return (bars + errors + values).properties(title=alt.TitleParams(metric, anchor="start", fontSize=14),
                                               height=260)
