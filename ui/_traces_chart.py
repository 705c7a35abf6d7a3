"""The waterfall of a trace: one bar per span on a shared time axis, in tree order (Vega-Lite via Altair)."""

from __future__ import annotations

from typing import Any

KIND_COLORS = {"flow": "#6366f1", "node": "#0ea5e9", "llm": "#f59e0b", "embedding": "#10b981",
               "function": "#94a3b8"}
ROW_PIXELS = 22
MAX_HEIGHT = 480  # taller waterfalls scroll


def waterfall(spans: list[dict[str, Any]]):
    """The chart: a bar from each span's offset for its duration, labelled with its indented name."""
    import altair as alt
    import pandas as pd

    total = max((s["offset"] + (s.get("duration") or 0.0) for s in spans), default=0.0) or 1e-3
    floor = total / 400  # a span too short to see still gets a sliver
    rows, seen = [], {}
    for span in spans:
        label = indent(span["depth"]) + span["name"]
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:  # the axis needs one label per row: "step", "step #2"...
            label = f"{label} #{seen[label]}"
        start = span["offset"] * 1000
        length = max(span.get("duration") or 0.0, floor) * 1000
        tokens = (span["llm"]["tokens"] if span.get("llm") else span.get("tokens") or {}).get("total")
        rows.append({"label": label, "start": start, "end": start + length, "kind": span["kind"],
                     "ms": round((span.get("duration") or 0) * 1000, 2),
                     "status": "failed" if span["status"] == "ERROR" else "ok", "tokens": tokens or 0})
    frame = pd.DataFrame.from_records(rows)
    kinds = list(KIND_COLORS)
    step = row_pixels(len(rows))
    return alt.Chart(frame).mark_bar(cornerRadius=3, height=max(step - 8, 4)).encode(
        x=alt.X("start:Q", title="milliseconds since the trace started", axis=alt.Axis(grid=True, tickCount=8)),
        x2="end:Q",
        y=alt.Y("label:N", sort=None, title=None,
                axis=alt.Axis(labelLimit=230, labelFontSize=12 if step >= 18 else 10, ticks=False, domain=False,
                              labelOverlap=False, labelAlign="left", labelPadding=240)),
        color=alt.Color("kind:N", scale=alt.Scale(domain=kinds, range=[KIND_COLORS[k] for k in kinds]),
                        legend=alt.Legend(title=None, orient="top")),
        opacity=alt.condition("datum.status == 'failed'", alt.value(0.55), alt.value(1.0)),
        stroke=alt.condition("datum.status == 'failed'", alt.value("#dc2626"), alt.value(None)),
        tooltip=[alt.Tooltip("label:N", title="span"), alt.Tooltip("kind:N"), alt.Tooltip("ms:Q", title="ms"),
                 alt.Tooltip("start:Q", title="starts at ms", format=".1f"), alt.Tooltip("tokens:Q"),
                 alt.Tooltip("status:N")],
    ).properties(height=alt.Step(step))


def row_pixels(spans: int) -> int:
    """Rows get thinner in a large trace (it scrolls anyway)."""
    return ROW_PIXELS if spans <= 60 else 14


def chart_height(spans: int) -> int:
    return row_pixels(spans) * spans + 50


def indent(depth: int) -> str:
    """Tree guides before a span's name (no leading spaces: charts would drop them)."""
    return "" if depth == 0 else "│ " * (depth - 1) + "└ "
