"""The report page's charts and analysis sections: best variant, metric and forest charts, halving rounds, cost
and latency with the Pareto scatter, slices with their bars and flags (HTML fragments with inline SVG)."""

from __future__ import annotations

import math
from typing import Any

from promptflow_lite.evaluate._analysis_text import drop_text, format_seconds
from promptflow_lite.evaluate._chart_data import chart_data
from promptflow_lite.evaluate._chart_figures import draw_figures
from promptflow_lite.evaluate._text_table import format_interval, format_number, format_p

TEMPLATE = r"""
{% if best %}<p class="best">Best on <code>{{ best.metric }}</code>: <b>{{ best.variant }}</b> {{ best.value }}
{%- if best.versus %}; against the baseline {{ best.versus }}{% endif %}.
{% if best.ties %}<br><span class="note">Not distinguishable from the best: {{ best.ties|join(', ') }}.</span>{% endif %}</p>{% endif %}

{% if metric_charts %}<h2>Charts</h2>
<div class="charts">{% for chart in metric_charts %}<figure>{{ chart|safe }}</figure>{% endfor %}</div>{% endif %}
{% if forest_charts %}<div class="charts">{% for chart in forest_charts %}<figure>{{ chart|safe }}</figure>{% endfor %}</div>
<p class="note">Dots: the mean (left) or the paired difference against the baseline (right); bars: the {{ level }}
confidence interval. Green: better, red: worse, grey: no detectable difference.</p>{% endif %}

{% if rounds %}<h2>Successive halving</h2>
<table><thead><tr><th>round</th><th>lines (new)</th><th>variants</th><th>leader</th><th>mean</th><th>dropped: why</th>
<th>calls sent</th><th>calls saved</th></tr></thead><tbody>
{% for r in rounds %}<tr><td class="num">{{ r.number }}</td><td class="num">{{ r.sample }} ({{ r.new_lines }})</td>
<td class="num">{{ r.variants }}</td><td>{{ r.leader }}</td><td class="num">{{ r.mean }}</td><td>{{ r.dropped }}</td>
<td class="num">{{ r.calls }}</td><td class="num">{{ r.saved }}</td></tr>{% endfor %}
</tbody></table>
<p class="note">{{ race_note }}</p>{% endif %}

{% if costs %}<h2>Cost and latency</h2>
<div class="charts"><figure>{{ pareto|safe }}</figure></div>
<table><thead><tr><th>#</th><th>variant</th><th>{{ primary }}</th><th>tokens/line prompt</th><th>completion</th>
{% if priced %}<th>cost/line {{ currency }}</th><th>CI</th>{% endif %}<th>p50 latency</th><th>p95 latency</th><th>Pareto front</th></tr></thead><tbody>
{% for c in costs %}<tr><td class="num">{{ loop.index }}</td><td>{{ c.variant }}</td><td class="num">{{ c.quality }}</td>
<td class="num">{{ c.prompt }}</td><td class="num">{{ c.completion }}</td>
{% if priced %}<td class="num">{{ c.cost }}</td><td class="num">{{ c.cost_ci }}</td>{% endif %}
<td class="num">{{ c.p50 }}</td><td class="num">{{ c.p95 }}</td><td class="{{ 'pass' if c.front }}">{{ 'yes' if c.front }}</td></tr>{% endfor %}
</tbody></table>
<p class="note">{{ cost_note }}</p>{% endif %}

{% if slices %}<h2>Slices</h2>
{% for s in slices %}<h3>By {{ s.column }}: {{ s.metric }}</h3>
<div class="charts"><figure>{{ s.chart|safe }}</figure></div>{% endfor %}
{% if flags %}<ul class="flags">{% for f in flags %}<li class="worse">{{ f }}</li>{% endfor %}</ul>
{% elif no_flags %}<p>{{ no_flags }}</p>{% endif %}{% endif %}
"""


def render_sections(result: Any) -> str:
    """The HTML of every section that applies to ``result`` (an EvaluationResult)."""
    import jinja2

    analysis, report = result.analysis, result.report
    data = chart_data(result)
    env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    level = f"{report.confidence:.0%}"
    figures = draw_figures(data, report.confidence)
    context: dict[str, Any] = {
        "best": _best(analysis, report) if analysis and analysis.best and len(report.variants) > 1 else None,
        "level": level, "metric_charts": figures.metrics, "forest_charts": figures.forest,
        "rounds": [], "race_note": "", "costs": [], "pareto": "", "priced": False, "primary": "",
        "cost_note": "", "currency": "", "slices": [], "flags": [], "no_flags": "",
    }
    if analysis is not None and analysis.race is not None:
        context.update(_race(analysis))
    if analysis is not None and analysis.costs is not None and len(report.variants) > 1:
        context.update(_costs(analysis), pareto=figures.pareto)
    if analysis is not None and analysis.slices is not None:
        context.update(_slices(analysis, compared=len(report.variants) > 1), slices=figures.slices)
    return env.from_string(TEMPLATE).render(**context)


def _best(analysis, report) -> dict[str, Any]:
    best = analysis.best
    e = best.estimate
    versus = None
    if best.versus_baseline is not None:
        c = best.versus_baseline.comparison
        versus = (f"{format_number(c.diff_mean, True)} {format_interval(c.low, c.high, True)}, p {format_p(c.p_value)}"
                  f", p_holm {format_p(best.versus_baseline.p_holm)}: {c.verdict}")
    return {"metric": best.metric, "variant": best.variant, "versus": versus, "ties": best.ties,
            "value": f"{format_number(e.mean)} {format_interval(e.low, e.high)} (n={e.n})"}


def _race(analysis) -> dict[str, Any]:
    race, totals = analysis.race, analysis.race_totals or {}
    rounds = [{"number": r.number, "sample": r.sample, "new_lines": r.new_lines, "variants": len(r.variants),
               "leader": r.leader, "mean": format_number(r.means.get(r.leader, math.nan)),
               "dropped": "; ".join(f"{d.variant}: {drop_text(d)}" for d in r.dropped) or "-",
               "calls": f"{r.spend.get('calls', 0):,}", "saved": f"{r.spend.get('saved_calls', 0):,}"}
              for r in race.rounds]
    full, saved, sent = totals.get("full_grid", {}), totals.get("saved", {}), totals.get("sent", {})
    note = (f"LLM calls sent: {sent.get('calls', 0):,}; the full grid on all {totals.get('lines', 0):,} lines would "
            f"send about {full.get('calls', 0):,}, so {saved.get('calls', 0):,} were saved. Samples from seed "
            f"{race.seed}; a variant leaves when a paired test finds it worse than the leader (Bonferroni over pairs "
            f"and rounds) or when the budget cannot pay for it. Still in the race: {', '.join(race.survivors)}.")
    return {"rounds": rounds, "race_note": note}


def _costs(analysis) -> dict[str, Any]:
    costs = analysis.costs
    prices = costs.prices
    rows = []
    for name, v in costs.variants.items():
        rows.append({"variant": name, "quality": format_number(v.quality), "front": v.pareto,
                     "prompt": f"{v.prompt_tokens.mean:,.1f}", "completion": f"{v.completion_tokens.mean:,.1f}",
                     "cost": prices.format(v.cost.mean, False) if prices and v.cost else "n/a",
                     "cost_ci": f"[{prices.format(v.cost.low, False)}, {prices.format(v.cost.high, False)}]"
                     if prices and v.cost else "",
                     "p50": format_seconds(v.latency_p50.mean), "p95": format_seconds(v.latency_p95.mean)})
    axis = "cost per line" if costs.basis == "cost" else "tokens per line (no --prices)"
    note = (f"Pareto front: the variants no other beats on {analysis.primary}, {axis} and p95 latency at once "
            f"(blue; point size = p95 latency; numbers as in the table). Tokens count as the flow would spend "
            f"them on its own; latency = the longest chain of node durations per line.")
    return {"costs": rows, "priced": prices is not None, "primary": analysis.primary or "quality", "cost_note": note,
            "currency": prices.currency if prices else ""}


def _slices(analysis, compared: bool) -> dict[str, Any]:
    found = analysis.slices
    flags = []
    for f in found.flags:
        c = f.versus
        change = (f"is {f.overall} overall but {f.verdict}" if f.kind == "reverses"
                  else f"shows no difference overall but is {f.verdict}")
        flags.append(f"{f.variant} {change} on {f.metric} where {f.column} = {f.slice}: "
                     f"{format_number(c.diff_mean, True)} {format_interval(c.low, c.high, True)}, "
                     f"p_holm {format_p(f.p_holm)}")
    none = f"No slice changes a verdict (Holm-adjusted over {found.tests} slice tests)." if compared else ""
    return {"flags": flags, "no_flags": none}
