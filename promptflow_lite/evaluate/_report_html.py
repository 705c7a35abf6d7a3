"""The ``pfl eval --report`` page: one self-contained HTML file (inline CSS and JS, no network).

Sections: the metric table (means with CIs, paired differences, verdicts), the best variant, charts
(means with CIs, the paired-difference forest plot; inline SVG), the halving rounds, cost and latency
with the Pareto scatter, slices with their bars and flags (:mod:`._report_sections`), CI checks, the
metrics the evaluators logged, every line side by side across variants with its per-line scores (and
the judges' reasons), and the failed lines.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any, Sequence

from promptflow_lite.evaluate._explain import glossary, reading_note, verdicts
from promptflow_lite.evaluate._report_sections import render_sections
from promptflow_lite.evaluate._session import EvaluationResult
from promptflow_lite.evaluate._text_table import comparison_rows

MAX_LINES = 2000  # lines shown side by side; the metric table always covers every line

TEMPLATE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pfl eval: {{ title }}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5rem;color:#1d1d1f;font-size:14px}
h1{font-size:1.4rem;margin:0 0 .3rem} h2{font-size:1.1rem;margin:1.8rem 0 .6rem}
.meta{color:#555;margin:.2rem 0 1rem} code{background:#f3f3f5;padding:0 .25rem;border-radius:3px}
table{border-collapse:collapse;margin:.3rem 0} th,td{border:1px solid #ddd;padding:.3rem .5rem;vertical-align:top;text-align:left}
th{background:#f6f6f8;position:sticky;top:0} td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.better{background:#e3f6e5;color:#17612a;font-weight:600} .worse{background:#fde8e8;color:#9b1c1c;font-weight:600}
.same{color:#666} .fail{color:#9b1c1c;font-weight:600} .pass{color:#17612a;font-weight:600}
.cell{white-space:pre-wrap;max-height:14em;overflow:auto;max-width:38em} .k{color:#777}
.score{display:inline-block;margin:.1rem .2rem .1rem 0;padding:0 .35rem;border-radius:3px;background:#eef;white-space:nowrap}
.score.lo{background:#fde8e8} .score.hi{background:#e3f6e5} .reason{color:#555;font-size:12px}
.controls{margin:.4rem 0} .note{color:#666;font-size:12px;max-width:70em}
tr.hidden{display:none}
h3{font-size:1rem;margin:1.2rem 0 .4rem} .charts{display:flex;flex-wrap:wrap;gap:1rem;overflow-x:auto}
figure{margin:.4rem 0;padding:.4rem;border:1px solid #eee;border-radius:6px;background:#fff}
.best{font-size:15px;margin:1rem 0} ul.flags{padding-left:1.2rem} ul.flags li{margin:.2rem 0;padding:.1rem .3rem}
</style></head><body>
<h1>pfl eval: {{ title }}</h1>
<div class="meta">data <code>{{ data }}</code> · {{ n_lines }} lines · {{ variants|length }} variant{{ 's' if variants|length != 1 }}
{%- if repeats > 1 %} · {{ repeats }} repeats{% endif %} · evaluators: {{ evaluators|join(', ') }}
{%- if baseline %} · baseline <b>{{ baseline }}</b>{% endif %} · {{ created }}</div>

<h2>Metrics</h2>
<table><thead><tr>{% for h in header %}<th>{{ h }}</th>{% endfor %}</tr></thead><tbody>
{% for row in rows %}<tr>{% for cell in row %}
<td class="{{ 'num' if loop.index0 > 1 and loop.index0 != verdict_col }}{% if loop.index0 == verdict_col %} {{ verdict_class(cell) }}{% endif %}">{{ cell }}</td>
{% endfor %}</tr>{% endfor %}
</tbody></table>
{% for note in notes %}<p class="note">{{ note }}</p>{% endfor %}
{{ sections|safe }}

{% if checks %}
<h2>Checks</h2>
<table><thead><tr><th>variant</th><th>metric</th><th>result</th></tr></thead><tbody>
{% for c in checks %}<tr><td>{{ c.variant }}</td><td>{{ c.metric }}</td>
<td class="{{ 'pass' if c.passed else 'fail' }}">{{ 'passed' if c.passed else c.failures|join('; ') }}</td></tr>{% endfor %}
</tbody></table>
{% endif %}

{% if logged %}
<h2>Metrics logged by the evaluators</h2>
<table><thead><tr><th>metric</th>{% for v in variants %}<th>{{ v }}</th>{% endfor %}</tr></thead><tbody>
{% for name, values in logged %}<tr><td>{{ name }}</td>{% for value in values %}<td class="num">{{ value }}</td>{% endfor %}</tr>{% endfor %}
</tbody></table>
<p class="note">As computed by each evaluator's aggregation node on the first repeat (no intervals).</p>
{% endif %}

<h2>Lines</h2>
<div class="controls"><label><input type="checkbox" id="differ"> only lines where the variants' scores differ</label>
<label><input type="checkbox" id="failed"> only lines with a failure</label></div>
<table id="lines"><thead><tr><th>#</th><th>inputs</th>{% for v in variants %}<th>{{ v }}</th>{% endfor %}</tr></thead><tbody>
{% for line in lines %}<tr data-differ="{{ line.differ|int }}" data-failed="{{ line.failed|int }}">
<td class="num">{{ line.number }}</td><td><div class="cell">{% for k, v in line.inputs %}<span class="k">{{ k }}:</span> {{ v }}
{% endfor %}</div></td>
{% for cell in line.cells %}<td>{% if cell.error %}<div class="fail cell">{{ cell.error }}</div>{% else %}<div class="cell">
{%- for k, v in cell.outputs %}<span class="k">{{ k }}:</span> {{ v }}
{% endfor %}</div>{% endif %}
{% for s in cell.scores %}<span class="score {{ s.css }}" title="{{ s.metric }}">{{ s.metric }} {{ s.text }}</span>{% endfor %}
{% for r in cell.reasons %}<div class="reason">{{ r }}</div>{% endfor %}</td>{% endfor %}
</tr>{% endfor %}
</tbody></table>
{% if truncated %}<p class="note">Showing the first {{ lines|length }} of {{ n_lines }} lines.</p>{% endif %}

<h2>Failed lines</h2>
{% if failures %}<table><thead><tr><th>run</th><th>line</th><th>error</th></tr></thead><tbody>
{% for f in failures %}<tr><td>{{ f.run }}</td><td class="num">{{ f.line }}</td><td><div class="cell">{{ f.error }}</div></td></tr>{% endfor %}
</tbody></table>{% else %}<p>None.</p>{% endif %}

<script>
(function(){
  var differ=document.getElementById('differ'), failed=document.getElementById('failed');
  function apply(){
    document.querySelectorAll('#lines tbody tr').forEach(function(tr){
      var hide=(differ.checked && tr.dataset.differ!=='1')||(failed.checked && tr.dataset.failed!=='1');
      tr.classList.toggle('hidden', hide);
    });
  }
  differ.addEventListener('change', apply); failed.addEventListener('change', apply);
})();
</script>
</body></html>
"""


def render_report(result: EvaluationResult) -> str:
    """The report page for ``result`` as an HTML string."""
    import jinja2

    report = result.report
    header, rows = comparison_rows(report)
    env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    labels = [v.label for v in result.variants]
    lines = _line_views(result)
    return env.from_string(TEMPLATE).render(
        title=result.plan.flow.name if result.plan.flow.is_dir() else result.plan.flow.parent.name,
        data=str(result.plan.data),
        n_lines=report.n_lines,
        variants=labels,
        repeats=report.repeats,
        evaluators=[spec.alias for spec in result.plan.evaluators],
        baseline=report.baseline,
        created=datetime.now().strftime("%Y-%m-%d %H:%M"),
        header=header,
        rows=rows,
        verdict_col=header.index("verdict") if "verdict" in header else -1,
        verdict_class=_verdict_class,
        notes=[*verdicts(report), reading_note(report, explain_hint=False),
               *glossary(report)],
        checks=result.checks if result.plan.gates or result.plan.fail_if_worse else [],
        logged=_logged_metrics(result),
        lines=lines[:MAX_LINES],
        truncated=len(lines) > MAX_LINES,
        failures=_failures(result),
        sections=render_sections(result),
    )


def _verdict_class(verdict: str) -> str:
    return {"better": "better", "worse": "worse"}.get(verdict, "same")


def _logged_metrics(result: EvaluationResult) -> list[tuple[str, list[str]]]:
    names: dict[str, None] = {}
    for runs in result.variants:
        for alias, metrics in runs.metrics.items():
            names.update(dict.fromkeys(f"{alias}.{key}" for key in metrics))
    table = []
    for name in names:
        alias, key = name.split(".", 1)
        table.append((name, [_text(runs.metrics.get(alias, {}).get(key, "")) for runs in result.variants]))
    return table


def _line_views(result: EvaluationResult) -> list[dict[str, Any]]:
    views = []
    for number, row in enumerate(result.data):
        cells, differ, failed = [], False, False
        values_by_metric: dict[str, set] = {}
        for runs in result.variants:
            cell = _cell(result, runs, number)
            failed = failed or bool(cell["error"]) or cell["eval_failed"]
            for s in cell["scores"]:
                values_by_metric.setdefault(s["metric"], set()).add(s["text"])
            cells.append(cell)
        differ = any(len(values) > 1 for values in values_by_metric.values()) and len(result.variants) > 1
        views.append({"number": number, "inputs": [(k, _text(v)) for k, v in row.items()],
                      "cells": cells, "differ": differ, "failed": failed})
    return views


def _cell(result: EvaluationResult, runs, number: int) -> dict[str, Any]:
    base = runs.base[0]
    scores, reasons, eval_failed = [], [], False
    for metric, (alias, column) in result.metric_sources.items():
        per_line = [r.value(number, column) for r in runs.evaluations.get(alias, [])]
        numbers = [float(v) for v in per_line if isinstance(v, (bool, int, float)) and not _nan(v)]
        if numbers:
            scores.append(_score_chip(metric, numbers))
    for alias, per_repeat in runs.evaluations.items():
        if not per_repeat:
            continue
        first = per_repeat[0]
        if number in first.errors:
            eval_failed = True
            reasons.append(f"{alias} failed: {first.errors[number]}")
        for column, value in (first.outputs.get(number) or {}).items():
            if isinstance(value, str) and value:
                reasons.append(f"{alias}.{column}: {value}")
    return {"outputs": [(k, _text(v)) for k, v in (base.outputs.get(number) or {}).items()],
            "error": base.errors.get(number), "scores": scores, "reasons": reasons, "eval_failed": eval_failed}


def _score_chip(metric: str, numbers: Sequence[float]) -> dict[str, str]:
    """A per-line score: pass/fail for pass/fail metrics, else the mean over repeats."""
    mean = sum(numbers) / len(numbers)
    if not _is01(numbers):
        return {"metric": metric, "text": _text(mean), "css": ""}
    text = {1.0: "pass", 0.0: "fail"}.get(mean, f"{_text(mean)} pass")
    return {"metric": metric, "text": text, "css": "hi" if mean >= 0.5 else "lo"}


def _failures(result: EvaluationResult) -> list[dict[str, Any]]:
    failures = []
    for runs in result.variants:
        every = list(runs.base) + [r for per_repeat in runs.evaluations.values() for r in per_repeat]
        for lines in every:
            run = lines.name if len(lines.names) == 1 else ", ".join(lines.names)
            failures += [{"run": run, "line": n, "error": e} for n, e in sorted(lines.errors.items())]
    return failures


def _is01(values: Sequence[float]) -> bool:
    return all(v in (0.0, 1.0) for v in values)


def _nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if not math.isnan(value) else "n/a"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)
