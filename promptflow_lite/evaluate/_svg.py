"""The report's charts as static inline SVG (no script, no network): they read the records of :mod:`._chart_data`.

* :func:`interval_chart` - one row per variant: a dot at the mean, a bar for the CI (each metric);
  with ``zero=True`` the paired differences against the baseline (a forest plot, coloured by verdict);
* :func:`pareto_chart` - quality against cost per line, point size = p95 latency, the front in blue;
* :func:`slice_chart` - grouped bars per slice with CI whiskers, flagged slices marked.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any, Sequence

FONT = 'font-family="system-ui,-apple-system,Segoe UI,sans-serif"'
PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac", "#1f77b4", "#2ca02c"]
VERDICT_COLOURS = {"better": "#1a7f37", "worse": "#c62828"}
GREY, INK, FAINT = "#6b7280", "#1d1d1f", "#e5e7eb"
CHAR = 7.0  # px per character at 12 px (a little generous: labels must not be cut)


def interval_chart(rows: Sequence[dict[str, Any]], title: str, *, zero: bool = False, key: str = "mean") -> str:
    """A dot-and-interval row per record (``variant``, ``key``, ``low``, ``high``); ``zero``: a forest plot."""
    label_width = min(440, max(90, max((len(_label(r)) for r in rows), default=8) * CHAR + 16))
    plot, right, row_h, top = 360, 270 if zero else 170, 24, 34
    width, height = int(label_width + plot + right), top + row_h * len(rows) + 34
    values = [v for r in rows for v in (r.get(key), r.get("low"), r.get("high")) if v is not None]
    low, high = _domain(values, zero)
    x = _scale(low, high, label_width, label_width + plot)
    parts = [_open(width, height, title), _text(8, 18, title, weight="600", size=13)]
    for tick in _ticks(low, high):
        parts.append(_rule(x(tick), x(tick), top - 6, height - 28))
        parts.append(_text(x(tick), height - 12, _fmt(tick), anchor="middle", fill=GREY, size=11))
    if zero and low < 0 < high:
        parts.append(f'<line x1="{x(0):.1f}" x2="{x(0):.1f}" y1="{top - 6}" y2="{height - 28}" stroke="{INK}" '
                     f'stroke-dasharray="3,3"/>')
    for i, r in enumerate(rows):
        y = top + row_h * i + row_h / 2
        colour = VERDICT_COLOURS.get(r.get("verdict"), GREY) if zero else ("#9ca3af" if r.get("baseline") else
                                                                          "#2563eb")
        weight = "700" if r.get("best") else "400"
        parts.append(_text(label_width - 8, y + 4, _label(r), anchor="end", weight=weight))
        if r.get("low") is not None and r.get("high") is not None:
            parts.append(f'<line class="ci" x1="{x(r["low"]):.1f}" x2="{x(r["high"]):.1f}" y1="{y:.1f}" y2="{y:.1f}" '
                         f'stroke="{colour}" stroke-width="3" stroke-linecap="round"/>')
        if r.get(key) is not None:
            parts.append(f'<circle class="point" cx="{x(r[key]):.1f}" cy="{y:.1f}" r="5" fill="{colour}">'
                         f'<title>{escape(_label(r))}: {_fmt(r[key])} [{_fmt(r.get("low"))}, {_fmt(r.get("high"))}]'
                         f'</title></circle>')
        parts.append(_text(label_width + plot + 10, y + 4, _value_text(r, key, zero), fill=colour if zero else INK,
                           size=11))
    parts.append("</svg>")
    return "".join(parts)


def pareto_chart(rows: Sequence[dict[str, Any]], title: str) -> str:
    """Quality (y) against cost or tokens per line (x, log scale when it spans > 20x); numbered points."""
    points = [r for r in rows if r.get("quality") is not None and r.get("cost") is not None]
    width, height, left, bottom, top, right = 720, 380, 64, 48, 36, 24
    if not points:
        return ""
    costs = [r["cost"] for r in points]
    log = min(costs) > 0 and max(costs) / min(costs) > 20
    cx = [math.log10(c) if log else c for c in costs]
    x_low, x_high = _domain(cx, False, pad=0.08, unit=False)
    y_low, y_high = _domain([r["quality"] for r in points], False, pad=0.12, unit=False)
    x = _scale(x_low, x_high, left, width - right)
    y = _scale(y_low, y_high, height - bottom, top)
    latencies = [r["latency_p95"] for r in points if r.get("latency_p95") is not None]
    slowest = max(latencies, default=0) or 1
    parts = [_open(width, height, title), _text(8, 20, title, weight="600", size=13)]
    for tick in (_log_ticks(x_low, x_high) if log else _ticks(x_low, x_high)):
        label = f"{10 ** tick:g}" if log else _fmt(tick)
        parts.append(_rule(x(tick), x(tick), top, height - bottom))
        parts.append(_text(x(tick), height - bottom + 16, label, anchor="middle", fill=GREY, size=11))
    for tick in _ticks(y_low, y_high):
        parts.append(_rule(left, width - right, y(tick), y(tick)))
        parts.append(_text(left - 6, y(tick) + 4, _fmt(tick), anchor="end", fill=GREY, size=11))
    currency = points[0].get("currency")
    unit = "tokens per line"
    if points[0].get("cost_basis") == "cost":
        unit = f"cost per line ({currency})" if currency else "cost per line"
    parts.append(_text((left + width - right) / 2, height - 10, unit + (" (log scale)" if log else ""),
                       anchor="middle", fill=GREY, size=11))
    parts.append(f'<text x="14" y="{(top + height - bottom) / 2:.0f}" transform="rotate(-90 14 '
                 f'{(top + height - bottom) / 2:.0f})" text-anchor="middle" font-size="11" fill="{GREY}" {FONT}>'
                 f'{escape(str(points[0].get("quality_metric") or "quality"))}</text>')
    for number, p in enumerate(points, start=1):
        px, py = x(math.log10(p["cost"]) if log else p["cost"]), y(p["quality"])
        radius = 6 + 8 * math.sqrt((p.get("latency_p95") or 0) / slowest)
        fill = "#2563eb" if p.get("front") else "#cbd5e1"
        parts.append(f'<circle class="point" cx="{px:.1f}" cy="{py:.1f}" r="{radius:.1f}" fill="{fill}" '
                     f'fill-opacity="0.8" stroke="white"><title>{number}. {escape(p["variant"])}</title></circle>')
        parts.append(_text(px, py + 4, str(number), anchor="middle", weight="700", size=11,
                           fill="white" if p.get("front") else INK))
    parts.append("</svg>")
    return "".join(parts)


def slice_chart(rows: Sequence[dict[str, Any]], variants: Sequence[str], title: str) -> str:
    """Grouped bars: a group per slice, a bar per variant (mean, CI whisker); flagged bars carry a red '!'."""
    slices = list(dict.fromkeys(r["slice"] for r in rows))
    if not slices:
        return ""
    bar, gap, left, top, bottom = 12 if len(variants) > 4 else 18, 18, 56, 36, 44
    group = bar * len(variants) + gap
    column = max((len(v) for v in variants), default=8) * CHAR + 24
    width = int(max(520, left + group * len(slices) + 24, left + 2 * column))
    legend_rows = math.ceil(len(variants) / 2)
    height = 280 + bottom + 18 * legend_rows
    values = [v for r in rows for v in (r.get("mean"), r.get("low"), r.get("high")) if v is not None]
    low, high = _domain(values + [0.0], False, pad=0.05)
    low = min(low, 0.0)
    y = _scale(low, high, top + 240, top)
    parts = [_open(width, height, title), _text(8, 20, title, weight="600", size=13)]
    for tick in _ticks(low, high):
        parts.append(_rule(left, width - 12, y(tick), y(tick)))
        parts.append(_text(left - 6, y(tick) + 4, _fmt(tick), anchor="end", fill=GREY, size=11))
    by_key = {(r["slice"], r["variant"]): r for r in rows}
    for g, label in enumerate(slices):
        x0 = left + gap / 2 + g * group
        for v, variant in enumerate(variants):
            r = by_key.get((label, variant))
            if r is None or r.get("mean") is None:
                continue
            bx = x0 + v * bar
            top_y, base_y = y(max(r["mean"], 0.0)), y(min(r["mean"], 0.0))
            parts.append(f'<rect class="bar" x="{bx:.1f}" y="{top_y:.1f}" width="{bar - 2}" '
                         f'height="{max(base_y - top_y, 0.5):.1f}" fill="{PALETTE[v % len(PALETTE)]}">'
                         f'<title>{escape(variant)} on {escape(label)}: {_fmt(r["mean"])} '
                         f'[{_fmt(r.get("low"))}, {_fmt(r.get("high"))}] (n={r.get("n")})</title></rect>')
            if r.get("low") is not None and r.get("high") is not None:
                mid = bx + (bar - 2) / 2
                parts.append(f'<line x1="{mid:.1f}" x2="{mid:.1f}" y1="{y(r["low"]):.1f}" y2="{y(r["high"]):.1f}" '
                             f'stroke="{INK}" stroke-width="1.2"/>')
            if r.get("flag"):
                parts.append(_text(bx + (bar - 2) / 2, y(r.get("high") or r["mean"]) - 4, "!", anchor="middle",
                                   weight="700", fill="#c62828", size=13, cls="flag"))
        parts.append(_text(x0 + (group - gap) / 2, top + 256, _short(label, max(8, int(group / CHAR))),
                           anchor="middle", size=11))
    for v, variant in enumerate(variants):
        lx, ly = left + (v % 2) * (width - left) / 2, top + 280 + 18 * (v // 2)
        parts.append(f'<rect x="{lx:.1f}" y="{ly - 9:.1f}" width="10" height="10" fill="{PALETTE[v % len(PALETTE)]}"/>')
        parts.append(_text(lx + 14, ly, variant, size=11))
    parts.append("</svg>")
    return "".join(parts)


def _label(r: dict[str, Any]) -> str:
    return r["variant"] + (" (baseline)" if r.get("baseline") is True else "") + (" ★" if r.get("best") else "")


def _value_text(r: dict[str, Any], key: str, zero: bool) -> str:
    text = f"{_fmt(r.get(key), signed=zero)} [{_fmt(r.get('low'), signed=zero)}, {_fmt(r.get('high'), signed=zero)}]"
    p_holm = r.get("p_holm")
    if zero and p_holm is not None:
        text += " p_holm " + ("<0.001" if p_holm < 0.001 else f"{p_holm:.3f}")
    return text


def _domain(values: Sequence[float], zero: bool, pad: float = 0.04, unit: bool = True) -> tuple[float, float]:
    """The axis range: symmetric around 0 (``zero``), [0, 1] for rates spread over more than 0.2 (``unit``),
    else the values' range padded."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return (0.0, 1.0)
    low, high = min(finite), max(finite)
    if zero:
        edge = max(abs(low), abs(high)) or 1.0
        return -edge * (1 + pad), edge * (1 + pad)
    if unit and 0 <= low and high <= 1 and (high - low) > 0.2:
        return 0.0, 1.0
    span = (high - low) or abs(high) or 1.0
    return low - span * pad, high + span * pad


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    span = high - low
    if span <= 0:
        return [low]
    step = 10 ** math.floor(math.log10(span / count))
    for factor in (1, 2, 2.5, 5, 10):
        if span / (step * factor) <= count:
            step *= factor
            break
    first = math.ceil(low / step) * step
    return [round(first + i * step, 10) for i in range(int((high - first) / step) + 1)]


def _log_ticks(low: float, high: float) -> list[float]:
    """log10 positions of 1, 2 and 5 times the powers of ten between ``low`` and ``high`` (log10 values)."""
    ticks = [math.log10(m * 10 ** k) for k in range(math.floor(low), math.ceil(high) + 1) for m in (1, 2, 5)]
    inside = [t for t in ticks if low <= t <= high]
    return inside if len(inside) <= 7 else [t for t in inside if abs(t - round(t)) < 1e-9]


def _scale(d0: float, d1: float, r0: float, r1: float):
    span = (d1 - d0) or 1.0
    return lambda v: r0 + (v - d0) / span * (r1 - r0)


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if value != 0 and abs(value) < 0.001:
        return f"{value:+.2e}" if signed else f"{value:.2e}"
    digits = 3 if abs(value) < 10 else 1 if abs(value) < 1000 else 0
    return f"{value:+.{digits}f}" if signed else f"{value:,.{digits}f}"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:max(1, limit - 1)] + "…"


def _open(width: int, height: int, title: str) -> str:
    return (f'<svg class="chart" role="img" aria-label="{escape(title)}" '
            f'width="{width}" height="{height}" viewBox="0 0 {width} {height}"><title>{escape(title)}</title>')


def _rule(x1: float, x2: float, y1: float, y2: float) -> str:
    """A faint grid line."""
    return f'<line x1="{x1:.1f}" x2="{x2:.1f}" y1="{y1:.1f}" y2="{y2:.1f}" stroke="{FAINT}"/>'


def _text(x: float, y: float, text: str, *, anchor: str = "start", weight: str = "400", fill: str = INK,
          size: int = 12, cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return (f'<text{klass} x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" font-weight="{weight}" '
            f'fill="{fill}" {FONT}>{escape(text)}</text>')
