"""The run list a page at a time, from the run index alone: filters, search, key metrics, evaluations.

    page = list_runs(search="classification", status="Completed", page=0)
    page.rows[0]["key_metrics"]      # {"exact_match": 0.85, "share_bug": 0.25}

A row says what a run is (flow, variant, base run), how it went (status, lines ok/failed,
duration, tokens) and how good it is (its own aggregation metrics and those of the evaluation
runs made over it, newest per evaluator). Nothing opens a run folder, except once for a run made
before the index kept metrics.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from promptflow_lite.runs._index import RUNNING_STATES, RunIndex, decode_row

PAGE_SIZE = 50
USABLE = ("Completed", "CompletedWithErrors")  # statuses whose results count
_SEARCHED = ("name", "display_name", "flow_name", "flow", "variant", "run", "description", "tags")
_EFFECTIVE_RUNNING = ("Preparing", "Running", "NotResponding")  # told apart by whether the process lives


@dataclass
class RunListPage:
    rows: list[dict[str, Any]]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def list_runs(*, search: str | None = None, flow: str | None = None, status: str | None = None,
              kind: str | None = None, archived: bool | None = False, page: int = 0, page_size: int = PAGE_SIZE,
              home: str | Path | None = None) -> RunListPage:
    """Runs newest first, ``page_size`` per page.

    ``search``: text in the name, display name, flow, variant, base run, description or tags;
    ``flow``: the flow's name; ``status``: as ``pfl run list`` shows it (a dead ``Running`` run is
    ``NotResponding``); ``kind``: ``"run"`` (no base run) or ``"evaluation"``; ``archived``: False
    hides archived runs, True shows only them, None shows all.
    """
    where, params = _filters(search=search, flow=flow, kind=kind, archived=archived)
    live_filter = status in _EFFECTIVE_RUNNING
    if status:
        where.append("status IN (?, ?)" if live_filter else "status = ?")
        params += list(RUNNING_STATES) if live_filter else [status]
    sql_where = " WHERE " + " AND ".join(where) if where else ""
    page_size = max(int(page_size), 1)
    index = _index(home)
    with index.connect() as db:
        if live_filter:  # few runs are running: filter them here on the effective status
            rows = [_row(r) for r in db.execute(f"SELECT * FROM runs{sql_where} ORDER BY created_on DESC", params)]
            rows = [r for r in rows if r["status"] == status]
            total = len(rows)
            page = _clamp(page, total, page_size)
            rows = rows[page * page_size:(page + 1) * page_size]
        else:
            total = db.execute(f"SELECT COUNT(*) FROM runs{sql_where}", params).fetchone()[0]
            page = _clamp(page, total, page_size)
            rows = [_row(r) for r in db.execute(f"SELECT * FROM runs{sql_where} ORDER BY created_on DESC "
                                                "LIMIT ? OFFSET ?", [*params, page_size, page * page_size])]
        _fill_metrics(db, rows)
        evaluations = _evaluations(db, [r["name"] for r in rows])
    for row in rows:
        row["evaluations"] = evaluations.get(row["name"], [])
        row["key_metrics"] = key_metrics(row)
    return RunListPage(rows, total, page, page_size)


def get_run_row(name: str, *, home: str | Path | None = None) -> dict[str, Any] | None:
    """One run as a row of :func:`list_runs` (with its evaluations and key metrics), or None."""
    index = _index(home)
    with index.connect() as db:
        found = db.execute("SELECT * FROM runs WHERE name = ?", (name,)).fetchone()
        if found is None:
            return None
        rows = [_row(found)]
        _fill_metrics(db, rows)
        rows[0]["evaluations"] = _evaluations(db, [name]).get(name, [])
    rows[0]["key_metrics"] = key_metrics(rows[0])
    return rows[0]


def run_flows(*, home: str | Path | None = None) -> list[str]:
    """The names of the flows that have runs, sorted (for a filter)."""
    with _index(home).connect() as db:
        return [r[0] for r in db.execute("SELECT DISTINCT flow_name FROM runs WHERE flow_name IS NOT NULL "
                                         "ORDER BY flow_name")]


def key_metrics(row: dict[str, Any]) -> dict[str, Any]:
    """The numbers that say how good a run is: its evaluations' metrics (``evaluator.metric``, or just
    ``evaluator`` when the metric has the evaluator's name), then its own aggregation metrics."""
    shown: dict[str, Any] = {}
    for evaluation in row.get("evaluations") or []:
        for metric, value in (evaluation.get("metrics") or {}).items():
            label = evaluation["flow"] if metric == evaluation["flow"] else f"{evaluation['flow']}.{metric}"
            shown.setdefault(label, value)
    for metric, value in (row.get("metrics") or {}).items():
        shown.setdefault(metric, value)
    return shown


def _filters(*, search, flow, kind, archived) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if search and search.strip():
        pattern = f"%{_escape_like(search.strip())}%"
        where.append("(" + " OR ".join(f"{column} LIKE ? ESCAPE '\\'" for column in _SEARCHED) + ")")
        params += [pattern] * len(_SEARCHED)
    if flow:
        where.append("flow_name = ?")
        params.append(flow)
    if kind == "run":
        where.append("run IS NULL")
    elif kind == "evaluation":
        where.append("run IS NOT NULL")
    if archived is not None:
        where.append("archived = ?")
        params.append(int(archived))
    return where, params


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _row(record) -> dict[str, Any]:
    """An index row as the page shows it (JSON decoded, effective status, variant id, kind)."""
    data = decode_row(record)
    data["variant_id"] = _variant_id(data.get("variant"))
    data["kind"] = "evaluation" if data.get("run") else "run"
    data["archived"] = bool(data.get("archived"))
    return data


def _fill_metrics(db, rows: list[dict[str, Any]]) -> None:
    """Metrics of runs made before the index kept them: read once from their folder, then stored."""
    for row in rows:
        if row["metrics"] is None and row["status"] in USABLE and row.get("output_path"):
            path = Path(row["output_path"]) / "metrics.json"
            try:
                row["metrics"] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
            except (OSError, ValueError):
                row["metrics"] = {}
            db.execute("UPDATE runs SET metrics = ? WHERE name = ?",
                       (json.dumps(row["metrics"], ensure_ascii=False, default=str), row["name"]))


def _evaluations(db, names: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Per base run, its usable evaluation runs, the newest of each evaluation flow."""
    names = list(names)
    found: dict[str, list[dict[str, Any]]] = {}
    if not names:
        return found
    rows = [_row(r) for r in db.execute(
        f"SELECT * FROM runs WHERE run IN ({', '.join('?' * len(names))}) AND status IN (?, ?) "
        "ORDER BY created_on DESC", [*names, *USABLE])]
    _fill_metrics(db, rows)
    for row in rows:
        flow = row.get("flow_name") or row["name"]
        siblings = found.setdefault(row["run"], [])
        if all(s["flow"] != flow for s in siblings):
            siblings.append({"name": row["name"], "flow": flow, "status": row["status"],
                             "metrics": row["metrics"] or {}})
    return found


def _variant_id(selector: str | None) -> str | None:
    if not selector:
        return None
    from promptflow_lite.flow._variants import InvalidVariant, parse_variant

    try:
        return parse_variant(selector)[1]
    except InvalidVariant:
        return selector


def _clamp(page: int, total: int, page_size: int) -> int:
    return min(max(int(page), 0), max(-(-total // page_size) - 1, 0))


def _index(home: str | Path | None) -> RunIndex:
    from promptflow_lite.home import pfl_home

    return RunIndex(Path(home or pfl_home()) / "runs.sqlite")
