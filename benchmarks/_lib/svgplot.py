"""A tiny hand-written SVG chart (no plotting library): panels of lines over a log-scale x axis."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
WIDTH, HEIGHT, MARGIN = 360, 240, (48, 14, 34, 36)  # panel size; left, right, top, bottom margins


@dataclass
class Panel:
    title: str
    y_label: str
    series: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # name -> [(x, y)]
    log_y: bool = False


def render(panels: list[Panel], x_label: str, caption: str = "") -> str:
    """The panels side by side, one shared legend, as SVG text."""
    total_width = WIDTH * len(panels)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_width}" height="{HEIGHT + 24}" '
             f'font-family="sans-serif" font-size="11">', f'<rect width="100%" height="100%" fill="white"/>']
    for index, panel in enumerate(panels):
        parts += _panel(panel, index * WIDTH, x_label)
    names = list(dict.fromkeys(name for panel in panels for name in panel.series))
    x = 10
    for name, color in zip(names, COLORS):
        parts.append(f'<rect x="{x}" y="{HEIGHT + 8}" width="12" height="3" fill="{color}"/>')
        parts.append(f'<text x="{x + 16}" y="{HEIGHT + 13}">{escape(name)}</text>')
        x += 24 + 7 * len(name)
    if caption:
        parts.append(f'<text x="{total_width - 8}" y="{HEIGHT + 13}" text-anchor="end" fill="#666">'
                     f'{escape(caption)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _panel(panel: Panel, left: int, x_label: str) -> list[str]:
    points = [p for series in panel.series.values() for p in series]
    if not points:
        return []
    x0, x1 = _log_range([p[0] for p in points])
    ys = [p[1] for p in points]
    y0, y1 = _log_range(ys) if panel.log_y else (0.0, _nice_top(max(ys)))
    ml, mr, mt, mb = MARGIN
    plot_w, plot_h = WIDTH - ml - mr, HEIGHT - mt - mb

    def sx(x: float) -> float:
        return left + ml + (math.log10(x) - x0) / (x1 - x0 or 1) * plot_w

    def sy(y: float) -> float:
        value = math.log10(y) if panel.log_y else y
        return mt + plot_h - (value - y0) / (y1 - y0 or 1) * plot_h

    out = [f'<text x="{left + ml}" y="16" font-weight="bold">{escape(panel.title)}</text>',
           f'<rect x="{left + ml}" y="{mt}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>']
    for exponent in range(math.floor(x0), math.ceil(x1) + 1):
        x = sx(10 ** exponent)
        if left + ml - 0.5 <= x <= left + ml + plot_w + 0.5:
            out.append(f'<line x1="{x:.1f}" y1="{mt}" x2="{x:.1f}" y2="{mt + plot_h}" stroke="#eee"/>')
            out.append(f'<text x="{x:.1f}" y="{mt + plot_h + 14}" text-anchor="middle">{_short(10 ** exponent)}</text>')
    for tick in _y_ticks(y0, y1, panel.log_y):
        y = sy(tick)
        out.append(f'<line x1="{left + ml}" y1="{y:.1f}" x2="{left + ml + plot_w}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{left + ml - 4}" y="{y + 4:.1f}" text-anchor="end">{_short(tick)}</text>')
    out.append(f'<text x="{left + ml + plot_w / 2}" y="{HEIGHT - 6}" text-anchor="middle">{escape(x_label)}</text>')
    out.append(f'<text x="{left + 12}" y="{mt + plot_h / 2}" text-anchor="middle" '
               f'transform="rotate(-90 {left + 12} {mt + plot_h / 2})">{escape(panel.y_label)}</text>')
    for (name, series), color in zip(panel.series.items(), COLORS):
        ordered = sorted(series)
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in ordered)
        out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        out += [f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{color}"><title>{escape(name)}: '
                f'{x:,.0f} lines, {y:,.1f}</title></circle>' for x, y in ordered]
    return out


def _log_range(values: list[float]) -> tuple[float, float]:
    low, high = math.log10(min(values)), math.log10(max(values))
    return math.floor(low), max(math.ceil(high), math.floor(low) + 1)


def _nice_top(value: float) -> float:
    """A round top for a linear axis of four steps (1, 2, 2.5 or 5 times a power of ten each)."""
    raw = value * 1.05 / 4 if value > 0 else 1
    magnitude = 10 ** math.floor(math.log10(raw))
    return 4 * next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)


def _y_ticks(y0: float, y1: float, log: bool) -> list[float]:
    if log:
        return [10 ** e for e in range(int(y0), int(y1) + 1)]
    return [y0 + (y1 - y0) * i / 4 for i in range(5)]


def _short(value: float) -> str:
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"
