"""The comparison table: per metric and variant the mean with its CI, then vs the baseline (numbers only;
the words around it are in :mod:`._explain`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:  # the report's own __str__ uses this module
    from promptflow_lite.evaluate._comparison import ComparisonReport


def format_number(value: float, signed: bool = False) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def format_interval(low: float, high: float, signed: bool = False) -> str:
    if low is None or math.isnan(low) or math.isnan(high):
        return "n/a"
    return f"[{format_number(low, signed)}, {format_number(high, signed)}]"


def format_p(p: float) -> str:
    if p is None or math.isnan(p):
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def comparison_rows(report: ComparisonReport) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the table (one row per metric and variant)."""
    level = f"{report.confidence:.0%} CI"
    header = ["metric", "variant", "mean", level, "n"]
    if report.repeats > 1:
        header += ["consistency", "flaky", f"pass^{report.repeats}", f"pass@{report.repeats}"]
    holm = len(report.paired) > 1
    if report.baseline is not None:
        header += ["diff vs baseline", level, "p"] + (["p_holm"] if holm else []) + ["verdict"]
    rows = []
    for metric in report.metrics:
        first = True
        for variant in report.variants:
            summary = report.summary(variant, metric)
            if summary is None:
                continue
            e = summary.estimate
            row = [metric if first else "", variant, format_number(e.mean), format_interval(e.low, e.high), str(e.n)]
            first = False
            if report.repeats > 1:
                c = summary.consistency
                row += [format_number(c.mean.mean), str(len(c.flaky_lines))] if c else ["", ""]
                row += [format_number(c.all_pass.mean), format_number(c.any_pass.mean)] if c and c.binary else ["", ""]
            if report.baseline is not None:
                pair = report.pair(variant, metric)
                if pair is None:
                    row += ["(baseline)" if variant == report.baseline else ""] + [""] * (4 if holm else 3)
                else:
                    c = pair.comparison
                    row += [format_number(c.diff_mean, signed=True), format_interval(c.low, c.high, signed=True),
                            format_p(c.p_value)] + ([format_p(pair.p_holm)] if holm else []) + [c.verdict]
            rows.append(row)
    return header, rows


def align(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned text columns separated by two spaces, with a rule under the header."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)).rstrip()
             for line in [header, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
