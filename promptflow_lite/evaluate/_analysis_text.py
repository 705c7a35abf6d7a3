"""The terminal sections after the comparison table: the best variant, the halving rounds, cost and latency, slices.

Each section prints only when it has something to say: the best and cost sections for a grid, a
halving race or a price table; the rounds for a race; slices for ``--slice-by``.
"""

from __future__ import annotations

import math
import textwrap
from typing import Any

from promptflow_lite.evaluate._text_table import align, format_interval, format_number, format_p

WIDTH = 110


def format_analysis(result: Any) -> str:
    """Every section that applies to ``result`` (an EvaluationResult), separated by blank lines."""
    analysis = result.analysis
    if analysis is None:
        return ""
    plan = result.plan
    wide = analysis.grid or plan.halving or plan.prices is not None
    sections = []
    if wide and analysis.best is not None:
        sections.append(best_section(analysis, result.report))
    if analysis.race is not None:
        sections.append(race_section(analysis))
    if wide and analysis.costs is not None:
        sections.append(cost_section(analysis))
    if analysis.slices is not None:
        sections.append(slice_section(analysis, result.report))
    return "\n\n".join(section for section in sections if section)


def best_section(analysis, report) -> str:
    best = analysis.best
    e = best.estimate
    lines = [f"Best on {best.metric}: {best.variant}  {format_number(e.mean)} {format_interval(e.low, e.high)} "
             f"(n={e.n}, {report.confidence:.0%} CI)"]
    pair = best.versus_baseline
    if pair is not None:
        c = pair.comparison
        holm = f", p_holm {format_p(pair.p_holm)}" if not math.isnan(pair.p_holm) else ""
        lines.append(f"  vs baseline {pair.baseline}: {format_number(c.diff_mean, True)} "
                     f"{format_interval(c.low, c.high, True)}, p {format_p(c.p_value)}{holm}: {c.verdict}")
    elif best.variant == report.baseline:
        lines.append("  it is the baseline.")
    others = "the other variants that finished the race" if analysis.race is not None else "every other variant"
    if best.ties:
        lines.append(_wrap(f"  not distinguishable from the best (paired tests at level {best.level:.2g}, Bonferroni "
                           f"over the pairs): {', '.join(best.ties)}"))
    elif best.versus_others:
        lines.append(f"  better than {others} (paired tests at level {best.level:.2g}).")
    return "\n".join(lines)


def race_section(analysis) -> str:
    race, totals = analysis.race, analysis.race_totals or {}
    header = ["round", "lines (new)", "variants", "leader", "mean", "dropped", "calls sent", "calls saved"]
    rows = [[str(r.number), f"{r.sample} ({r.new_lines})", str(len(r.variants)), r.leader,
             format_number(r.means.get(r.leader, math.nan)), str(len(r.dropped)), f"{r.spend.get('calls', 0):,}",
             f"{r.spend.get('saved_calls', 0):,}"] for r in race.rounds]
    drops = [[f"round {r.number}", d.variant, drop_text(d)] for r in race.rounds for d in r.dropped]
    title = (f"Successive halving on {totals.get('metric')} ({len(race.rounds)} rounds, samples from seed "
             f"{race.seed}); still in the race: {', '.join(race.survivors)}")
    sent, full, saved = totals.get("sent", {}), totals.get("full_grid", {}), totals.get("saved", {})
    share = f" ({saved.get('calls', 0) / full['calls']:.0%})" if full.get("calls") else ""
    notes = [f"LLM calls sent: {sent.get('calls', 0):,}; the full grid on all {totals.get('lines', 0):,} lines would "
             f"send about {full.get('calls', 0):,}: {saved.get('calls', 0):,} calls saved{share}, and "
             f"{saved.get('prompt_tokens', 0):,} prompt + {saved.get('completion_tokens', 0):,} completion tokens.",
             "A variant is dropped when the paired test finds it worse than the leader at the round's level "
             "(alpha / (pairs x rounds): the chance of any wrong drop stays under alpha), or when the budget "
             "cannot pay for it (lowest ranked first). The leader and the baseline always stay."]
    parts = [_wrap(title), "", align(header, rows)]
    if drops:
        why = "why (paired difference to the leader, CI at the round's level)"
        parts += ["", "Dropped:", align(["when", "variant", why], drops)]
    return "\n".join(parts + [""] + [_wrap(n) for n in notes])


def cost_section(analysis) -> str:
    costs = analysis.costs
    prices = costs.prices
    money = f"cost/line {prices.currency}".rstrip() if prices else ""
    header = ["variant", "tokens/line prompt", "completion"] + ([money, "CI"] if prices else []) + \
             ["p50 latency", "p95 latency", "Pareto"]
    rows = []
    for name, v in costs.variants.items():
        row = [name, f"{v.prompt_tokens.mean:,.1f}", f"{v.completion_tokens.mean:,.1f}"]
        if prices:
            if v.cost:
                low, high = prices.format(v.cost.low, False), prices.format(v.cost.high, False)
                row += [prices.format(v.cost.mean, False), f"[{low}, {high}]"]
            else:
                row += ["n/a", ""]
        row += [format_seconds(v.latency_p50.mean), format_seconds(v.latency_p95.mean), "yes" if v.pareto else ""]
        rows.append(row)
    axis = "cost per line" if costs.basis == "cost" else "tokens per line"
    notes = [f"Pareto front (best {analysis.primary} × {axis} × p95 latency; no other variant is as good on all "
             f"three): {', '.join(costs.front) or 'none'}."]
    notes.append("Tokens as the flow would spend them on its own (answers from the response cache and results "
                 "shared between combinations count); latency = the longest chain of node durations per line.")
    unpriced = sorted({m for v in costs.variants.values() for m in v.unpriced})
    if unpriced:
        notes.append(f"No price for model(s) {', '.join(unpriced)} in {prices.source}: add them to get a cost.")
    untimed = max((v.untimed for v in costs.variants.values()), default=0.0)
    if untimed > 0:
        notes.append(f"Up to {untimed:.0%} of a variant's lines had answers from the response cache that do not say "
                     "how long their request took (older cache entries), so their latency is too short; --no-cache "
                     "measures it.")
    spend = analysis.spend
    cost = spend.cost(prices)
    spent = f", {prices.format(cost)}" if cost is not None else ""
    notes.append(f"This evaluation sent {spend.calls:,} LLM calls ({spend.prompt_tokens:,} prompt + "
                 f"{spend.completion_tokens:,} completion tokens{spent}); {spend.reused_nodes:,} node results were "
                 "shared between combinations instead of recomputed.")
    return "\n".join(["Cost and latency per variant", "", align(header, rows), ""] + [_wrap(n) for n in notes])


def slice_section(analysis, report) -> str:
    found = analysis.slices
    alpha = 1 - found.confidence
    blocks = []
    compared = len(report.variants) > 1  # one variant: its metrics per slice, nothing to compare
    blank = ["", "", "", ""] if compared else []
    for column in found.columns:
        for metric in report.metrics:
            header = [f"{column.column}", "n", "variant", metric, "CI"]
            header += ["diff vs baseline", "CI", "p_holm", "verdict"] if compared else []
            rows = []
            for label, lines in column.slices.items():
                first = True
                for variant in report.variants:
                    cell = column.cells.get((label, variant, metric))
                    if cell is None:
                        continue
                    e, c = cell.estimate, cell.versus
                    row = [label if first else "", str(len(lines)) if first else "", variant, format_number(e.mean),
                           format_interval(e.low, e.high)]
                    row += ([format_number(c.diff_mean, True), format_interval(c.low, c.high, True),
                             format_p(cell.p_holm), cell.verdict(alpha)] if c is not None else blank)
                    rows.append(row)
                    first = False
            blocks.append(f"By {column.column}{' (quartiles)' if column.binned else ''}: {metric}\n\n"
                          + align(header, rows))
    if found.flags:
        lines = [f"Slices where a verdict changes (Holm-adjusted over {found.tests} slice tests):"]
        for flag in found.flags:
            c = flag.versus
            if flag.kind == "reverses":
                text = f"{flag.variant} is {flag.overall} overall on {flag.metric} but {flag.verdict}"
            else:
                text = f"{flag.variant} shows no difference overall on {flag.metric} but is {flag.verdict}"
            lines.append(_wrap(f"  ! {text} where {flag.column} = {flag.slice}: {format_number(c.diff_mean, True)} "
                               f"{format_interval(c.low, c.high, True)}, p_holm {format_p(flag.p_holm)}"))
    elif compared:
        lines = [_wrap(f"No slice changes a verdict (Holm-adjusted over {found.tests} slice tests).")]
    else:
        lines = []
    return "\n\n".join(blocks + (["\n".join(lines)] if lines else []))


def drop_text(drop) -> str:
    c = drop.versus_leader
    difference = f"{format_number(c.diff_mean, True)} {format_interval(c.low, c.high, True)}, p {format_p(c.p_value)}"
    if drop.reason == "worse":
        return f"worse than the leader: {difference}"
    return f"budget (not shown worse: {difference})"


def format_seconds(value: float) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value * 1000:.0f} ms" if value < 10 else f"{value:.1f} s"


def _wrap(text: str) -> str:
    return textwrap.fill(text, width=WIDTH, subsequent_indent="    ")
