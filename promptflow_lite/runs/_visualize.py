"""``pfl run visualize``: one self-contained HTML file about one or more runs.

Per run: a summary (paths relative to where you are), its metrics, the flow drawn as a graph with a
per-node summary (runs, failures, duration, tokens), the failed lines and every line, paged. Metrics
of several runs also side by side. No server and no external asset; a few lines of inline script page
the line table (without script every line shows). User values are HTML-escaped (jinja2 autoescape)
and the page is masked (:func:`~promptflow_lite.masking.mask_secrets`).
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any, Sequence

from promptflow_lite.engine._results import BYPASSED, COMPLETED, FAILED
from promptflow_lite.masking import mask_secrets
from promptflow_lite.runs._details import detail_rows
from promptflow_lite.runs._model import Run
from promptflow_lite.runs._progress import format_duration
from promptflow_lite.runs._store import RunFolder

MAX_LINES = 2000  # per run in the per-line table; the file stays openable for big runs
MAX_CELL = 400  # characters shown per cell
PAGE_SIZE = 25  # lines per page of the line table

_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:80rem;padding:0 1.5rem;
 color:#222;background:#fafafa;line-height:1.4}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2.2rem;border-bottom:2px solid #ddd;
 padding-bottom:.3rem}h3{font-size:1rem;margin-top:1.6rem}
table{border-collapse:collapse;margin:.5rem 0;background:#fff;font-size:.85rem}
th,td{border:1px solid #ddd;padding:.3rem .55rem;text-align:left;vertical-align:top;min-width:3.5rem;
 max-width:34rem;white-space:pre-wrap;overflow-wrap:break-word;word-break:normal;hyphens:none}
th{background:#f0f0f2;white-space:nowrap}
table.facts th{width:9rem}
.scroll{overflow-x:auto;max-width:100%}
.Completed{color:#176f2c}.Failed,.CompletedWithErrors,.NotResponding{color:#b00020}.Canceled{color:#8a6d00}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}.muted{color:#777}
tr.failed td{background:#fff4f4}
svg.dag .box rect{fill:#fff;stroke:#7b8494;stroke-width:1.2}svg.dag .box.io rect{fill:#eef3fb;stroke:#6b84b0}
svg.dag .box.llm rect,svg.dag .box.custom_llm rect{fill:#f4effb;stroke:#8a6cc2}
svg.dag .box.aggregation rect{fill:#fbf6e9;stroke:#b08a2e}
svg.dag text{text-anchor:middle;font-size:12px;fill:#222}svg.dag text.name{font-weight:600;font-size:13px}
svg.dag text.detail{fill:#555}
.pager{display:flex;gap:.6rem;align-items:center;margin:.4rem 0}.pager button{font:inherit;padding:.15rem .7rem}
</style></head><body>
<h1>{{ title }}</h1>
<p class="muted">promptflow_lite run report{% if several %} · {{ runs|length }} runs{% endif %}</p>
{% if several and metric_names %}
<h2>Metrics of the runs</h2>
<div class="scroll"><table><tr><th>metric</th>{% for run in runs %}<th>{{ run.name }}</th>{% endfor %}</tr>
{% for metric in metric_names %}<tr><td>{{ metric }}</td>
{% for run in runs %}<td class="num">{{ run.metrics_shown.get(metric, "") }}</td>{% endfor %}</tr>
{% endfor %}</table></div>
{% endif %}
{% for run in runs %}
{% if several %}<h2 id="{{ run.name }}">Run {{ run.name }}</h2>{% else %}<h2>Summary</h2>{% endif %}
<table class="facts">
<tr><th>status</th><td class="{{ run.status }}">{{ run.status }}</td></tr>
<tr><th>flow</th><td>{{ run.flow }}</td></tr>
<tr><th>data</th><td>{{ run.data }}</td></tr>
{% if run.variant %}<tr><th>variant</th><td>{{ run.variant }}</td></tr>{% endif %}
{% if run.base %}<tr><th>base run</th><td>{{ run.base }}</td></tr>{% endif %}
<tr><th>lines</th><td>{{ run.completed }} completed, {{ run.failed }} failed, {{ run.total }} total</td></tr>
<tr><th>duration</th><td>{{ run.duration }}</td></tr>
<tr><th>tokens</th><td>{{ run.tokens }}</td></tr>
<tr><th>cached lines</th><td>{{ run.cached }}</td></tr>
<tr><th>created</th><td>{{ run.created_on }}</td></tr>
<tr><th>run folder</th><td>{{ run.folder }}</td></tr>
</table>
{% if run.error %}<p class="Failed">{{ run.error }}</p>{% endif %}
{% if not several and run.metrics_shown %}
<h3>Metrics</h3>
<table><tr><th>metric</th><th>value</th></tr>
{% for metric, value in run.metrics_shown.items() %}<tr><td>{{ metric }}</td><td class="num">{{ value }}</td></tr>
{% endfor %}</table>
{% endif %}
{% if run.nodes %}
<h3>Flow</h3>
{% if run.dag %}<div class="scroll">{{ run.dag|safe }}</div>{% endif %}
<table><tr><th>node</th><th>type</th><th class="num">completed</th><th class="num">failed</th>
<th class="num">bypassed</th><th class="num">mean duration</th><th class="num">slowest</th><th class="num">tokens</th></tr>
{% for node in run.nodes %}<tr{% if node.failed %} class="failed"{% endif %}><td>{{ node.name }}</td><td>{{ node.type }}</td>
<td class="num">{{ node.completed }}</td><td class="num">{{ node.failed }}</td><td class="num">{{ node.bypassed }}</td>
<td class="num">{{ node.mean }}</td><td class="num">{{ node.slowest }}</td><td class="num">{{ node.tokens }}</td></tr>
{% endfor %}</table>
{% endif %}
{% if run.failures %}
<h3>Failed lines ({{ run.failures|length }})</h3>
<div class="scroll"><table><tr><th>line</th><th>error</th><th>message</th></tr>
{% for row in run.failures %}<tr class="failed"><td class="num">{{ row.line_number }}</td>
<td>{{ row.error_code or "" }}</td><td>{{ row.error or "" }}</td></tr>{% endfor %}
</table></div>
{% endif %}
<h3>Lines{% if run.truncated %} (the first {{ run.shown }} of {{ run.total }}){% endif %}</h3>
<div class="pager" data-table="lines-{{ loop.index }}" hidden><button type="button" data-step="-1">‹ previous</button>
<span class="muted"></span><button type="button" data-step="1">next ›</button></div>
<div class="scroll"><table id="lines-{{ loop.index }}"><thead><tr>{% for column in run.columns %}<th>{{ column }}</th>
{% endfor %}</tr></thead>
{% for page in run.pages %}<tbody data-page="{{ loop.index0 }}">
{% for row in page %}<tr{% if row.status == "Failed" %} class="failed"{% endif %}>
{% for column in run.columns %}<td{% if column in ("line_number", "duration") %} class="num"{% endif %}>{{ row.cells[column] }}</td>{% endfor %}</tr>
{% endfor %}</tbody>{% endfor %}
</table></div>
{% endfor %}
<p class="muted">Generated by promptflow_lite.</p>
<script>
for (const pager of document.querySelectorAll(".pager")) {
  const pages = document.getElementById(pager.dataset.table).tBodies, label = pager.querySelector("span");
  if (pages.length < 2) continue;
  let current = 0;
  const show = () => { for (const [i, page] of [...pages].entries()) page.hidden = i !== current;
    label.textContent = `page ${current + 1} of ${pages.length}`; };
  pager.addEventListener("click", (event) => { const step = Number(event.target.dataset.step || 0);
    current = Math.min(Math.max(current + step, 0), pages.length - 1); show(); });
  pager.hidden = false; show();
}
</script>
</body></html>
"""


def render_html(runs: Sequence[Run]) -> str:
    """The report for ``runs`` as an HTML string."""
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    views = [_view(run) for run in runs]
    metric_names: dict[str, None] = {}
    for view in views:
        metric_names.update(dict.fromkeys(view["metrics_shown"]))
    title = "Run " + runs[0].name if len(runs) == 1 else f"{len(runs)} runs: " + ", ".join(r.name for r in runs)
    return mask_secrets(env.from_string(_TEMPLATE).render(title=title, runs=views, metric_names=list(metric_names),
                                                          several=len(runs) > 1))


def write_html(runs: Sequence[Run], html_path: str | Path) -> Path:
    path = Path(html_path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(runs), encoding="utf-8")
    return path


def shown_path(path: str | Path | None) -> str:
    """``path`` relative to the current folder when inside it, else with ``~`` for the home folder."""
    if not path:
        return ""
    full = Path(path).expanduser().resolve()
    for base, prefix in ((Path.cwd().resolve(), ""), (Path.home().resolve(), "~/")):
        try:
            relative = full.relative_to(base)
        except ValueError:
            continue
        return prefix + (relative.as_posix() if relative.parts else ".")
    return str(full)


def _view(run: Run) -> dict[str, Any]:
    folder = RunFolder(run.output_path)
    rows = detail_rows(folder, max_results=MAX_LINES)
    failures = detail_rows(folder, failed_only=True, max_results=MAX_LINES)
    columns = [c for c in (rows[0] if rows else {}) if c not in ("trace_id",)]
    for row in rows:
        for column in row:
            if column not in columns and column != "trace_id":
                columns.append(column)
    tokens = run.tokens or {}
    error = run.error.get("message") if isinstance(run.error, dict) else run.error
    cells = [{"status": r["status"], "cells": {c: _cell(r.get(c), c) for c in columns}} for r in rows]
    nodes, dag = _flow_view(run, folder)
    return {
        "name": run.name, "status": run.status, "flow": shown_path(run.flow) if _is_path(run.flow) else run.flow,
        "data": shown_path(run.data), "variant": run.variant, "base": run.run, "completed": run.completed_lines,
        "failed": run.failed_lines, "total": run.total_lines, "folder": shown_path(run.output_path),
        "duration": format_duration(run.duration) if run.duration is not None else "",
        "tokens": f"{tokens.get('total_tokens', 0)} (prompt {tokens.get('prompt_tokens', 0)}, "
                  f"completion {tokens.get('completion_tokens', 0)})",
        "cached": run.cached_lines, "created_on": (run.created_on or "")[:19].replace("T", " "), "error": error,
        "metrics_shown": {k: _cell(v) for k, v in run.metrics.items()},
        "failures": failures, "nodes": nodes, "dag": dag,
        "columns": columns, "truncated": run.total_lines > len(rows), "shown": len(rows),
        "pages": [cells[i:i + PAGE_SIZE] for i in range(0, len(cells), PAGE_SIZE)] or [[]],
    }


def _flow_view(run: Run, folder: RunFolder) -> tuple[list[dict[str, Any]], str | None]:
    """The per-node summary rows and, for a DAG flow, its drawing (from the run's snapshot)."""
    from promptflow_lite.runs._dag_svg import render_svg

    stats = _node_stats(folder)
    spec = _snapshot_spec(folder)
    order = [node.name for node in spec.nodes] if spec is not None else list(stats)
    types = {node.name: node.type or "python" for node in spec.nodes} if spec is not None else {}
    rows = []
    for name in order + [n for n in stats if n not in order]:
        found = stats.get(name, {})
        durations = found.get("durations", [])
        rows.append({"name": name, "type": types.get(name, "flex" if spec is None else ""),
                     "completed": found.get(COMPLETED, 0), "failed": found.get(FAILED, 0),
                     "bypassed": found.get(BYPASSED, 0),
                     "mean": format_duration(statistics.fmean(durations)) if durations else "",
                     "slowest": format_duration(max(durations)) if durations else "",
                     "tokens": found.get("tokens", 0) or ""})
    if spec is None:
        return rows, None
    summaries = {row["name"]: " · ".join(p for p in (row["type"], row["mean"],
                                                      f"{row['failed']} failed" if row["failed"] else "") if p)
                 for row in rows}
    return rows, render_svg(spec, summaries)


def _node_stats(folder: RunFolder) -> dict[str, dict[str, Any]]:
    """Per node: how many runs ended in each status, the durations of the completed ones, tokens."""
    stats: dict[str, dict[str, Any]] = {}
    node_runs = [node for entry in folder.read_journal().values() for node in entry.get("nodes") or []]
    for node in node_runs + _aggregation_runs(folder):
        found = stats.setdefault(node["node"], {"durations": [], "tokens": 0})
        found[node["status"]] = found.get(node["status"], 0) + 1
        if node.get("start_time") and node.get("end_time") and node["status"] == COMPLETED:
            found["durations"].append(node["end_time"] - node["start_time"])
        found["tokens"] += int((node.get("usage") or {}).get("total_tokens") or 0)
    return stats


def _aggregation_runs(folder: RunFolder) -> list[dict[str, Any]]:
    """The aggregation nodes' runs (``node_artifacts/<node>/000000000.jsonl``), as journal node entries."""
    from datetime import datetime

    found = []
    for record in folder.node_artifacts.glob("*/000000000.jsonl") if folder.node_artifacts.is_dir() else []:
        try:
            info = json.loads(record.read_text(encoding="utf-8").splitlines()[0])["run_info"]
            times = [datetime.fromisoformat(str(info[k]).rstrip("Z")).timestamp() if info.get(k) else None
                     for k in ("start_time", "end_time")]
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            continue
        found.append({"node": info.get("node", record.parent.name), "status": info.get("status"),
                      "start_time": times[0], "end_time": times[1],
                      "usage": (info.get("system_metrics") or {})})
    return found


def _snapshot_spec(folder: RunFolder):
    """The (variant-resolved) DAG the run ran, from its snapshot; None for flex and prompty runs."""
    from promptflow_lite.flow._loader import load_dag

    for name in ("flow.dag.yaml", "flow.dag.yml"):
        file = folder.snapshot / name
        if file.is_file():
            try:
                return load_dag(file)
            except Exception:  # noqa: BLE001 - a report draws what it can
                return None
    return None


def _is_path(value: str | None) -> bool:
    return bool(value) and ":" not in str(value).replace("\\", "/").split("/")[-1]  # not a module:function entry


def _cell(value: Any, column: str = "") -> str:
    if value is None:
        return ""
    if column == "duration" and isinstance(value, (int, float)):
        return format_duration(value)
    if isinstance(value, float):
        text = str(value) if math.isnan(value) or math.isinf(value) else f"{value:.6g}"
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= MAX_CELL else text[:MAX_CELL] + "…"
