"""The Runs page's list: every run of PFL_HOME with filters, search, key metrics and archive / restore / delete."""

from __future__ import annotations

from typing import Any

import streamlit as st

from promptflow_lite.runs._listing import list_runs, run_flows
from promptflow_lite.ui._runs_common import (count, count_column, current_page, duration, go_to, link, moment,
                                             page_url, pager, status_label, status_text, styled)

PAGE_SIZE = 25
STATUSES = ["Completed", "CompletedWithErrors", "Failed", "Canceled", "Running", "NotResponding"]
KINDS = {"Runs": "run", "Evaluation runs": "evaluation", "All": None}
MAX_METRIC_COLUMNS = 4


def show() -> None:
    st.title("Runs")
    search, flow, status, kind, archived = _filters()
    page = current_page("runs_page", search, flow, status, kind, archived)
    found = list_runs(search=search, flow=flow, status=status, kind=kind, archived=archived, page=page,
                      page_size=PAGE_SIZE)
    if not found.rows:
        if search or flow or status or archived:
            st.info("No run matches these filters.")
        else:
            st.info("No runs yet. Start an evaluation on the **New evaluation** page, or from a terminal: "
                    "`pfl run create --flow FLOW --data DATA` / `pfl eval ...`.")
        return
    frame, config = _table(found.rows)
    version = st.session_state.get("runs_version", 0)  # a new table (no selection) after an action
    event = st.dataframe(styled(frame, "Status"), hide_index=True, column_config=config, on_select="rerun",
                         selection_mode="multi-row", key=f"runs_table_{page}_{version}")
    picked = sorted((found.rows[i] for i in event.selection.rows), key=lambda r: r.get("created_on") or "")
    chosen = [row["name"] for row in picked]  # oldest first: the baseline of a comparison
    pager("runs_page", found.page, found.pages, found.total, "runs")
    _actions(chosen, archived)


def _filters() -> tuple[str, str | None, str | None, str | None, bool]:
    search_column, flow_column, status_column, kind_column, archived_column = st.columns(
        [3, 2, 2, 2, 1.6], vertical_alignment="bottom")
    search = search_column.text_input("Search", placeholder="name, flow, variant, tag…", key="runs_search")
    flow = flow_column.selectbox("Flow", [None, *run_flows()], format_func=lambda f: f or "All flows",
                                 key="runs_flow")
    status = status_column.selectbox("Status", [None, *STATUSES], format_func=lambda s: status_label(s) if s else
                                     "Any status", key="runs_status")
    kind = KINDS[kind_column.selectbox("Kind", list(KINDS), key="runs_kind")]
    archived = archived_column.toggle("Archived", key="runs_archived", help="show the archived runs instead")
    return search.strip(), flow, status, kind, archived


def _metric_columns(rows: list[dict[str, Any]]) -> list[str]:
    """The key metrics shown as columns: those of the evaluations first (they say how good a run is; a newer run
    that was not evaluated must not push them out), then the runs' own, each in order of appearance."""
    evaluated: dict[str, None] = {}
    own: dict[str, None] = {}
    for row in rows:
        for metric, value in row["key_metrics"].items():
            if isinstance(value, (int, float)):
                (own if metric in (row.get("metrics") or {}) else evaluated).setdefault(metric)
    return [*evaluated, *(metric for metric in own if metric not in evaluated)][:MAX_METRIC_COLUMNS]


def _table(rows: list[dict[str, Any]]):
    import pandas as pd

    shown_metrics = _metric_columns(rows)
    records = []
    for row in rows:
        record = {"Run": page_url("run", run=row["name"]), "Flow": row.get("flow_name"),
                  "Variant": row.get("variant_id") or "", "Base run": row.get("run") or "",
                  "Status": status_text(row["status"])}
        for metric in shown_metrics:  # the key metrics early: what a narrow window must show
            value = row["key_metrics"].get(metric)
            record[metric] = float(value) if isinstance(value, (int, float)) else None
        record.update({
            "OK": row["completed_lines"], "Failed": row["failed_lines"],
            "Lines": row["total_lines"], "Duration": duration(row.get("duration")),
            "Tokens": count(row.get("total_tokens") or None), "Created": moment(row.get("created_on"))})
        records.append(record)
    frame = pd.DataFrame.from_records(records)
    if not any(row.get("run") for row in rows):
        frame = frame.drop(columns=["Base run"])
    config = {
        "Run": st.column_config.LinkColumn("Run", display_text=r"run\?run=(.*)$", width="large"),
        "OK": st.column_config.NumberColumn("OK", help="lines that completed", width="small"),
        "Failed": st.column_config.NumberColumn("Failed", help="lines that failed", width="small"),
        "Lines": st.column_config.NumberColumn("Lines", help="lines of the run", width="small"),
        "Tokens": count_column("Tokens"),
        **{metric: st.column_config.NumberColumn(metric, format="%.3f", help="mean over lines (key metric)")
           for metric in shown_metrics},
    }
    return frame, config


def _actions(chosen: list[str], archived: bool) -> None:
    from promptflow_lite.runs._client import Client

    if not chosen:
        st.caption("Select runs (tick the boxes on the left) to open, compare, archive or delete them.")
        return
    columns = st.columns(5)
    with columns[0]:
        if len(chosen) == 1:
            go_to("Open run", key="open_run", icon=":material/open_in_new:", page="run", run=chosen[0])
    with columns[1]:
        if len(chosen) >= 2:
            link("compare", f"Compare {len(chosen)} runs", icon=":material/compare_arrows:", runs=",".join(chosen))
    client = Client(progress=False)
    verb = "Restore" if archived else "Archive"
    if columns[2].button(f"{verb} {len(chosen)}", key="runs_archive", icon=":material/archive:"):
        for name in chosen:
            (client.runs.restore if archived else client.runs.archive)(name)
        st.toast(f"{verb}d {len(chosen)} run(s).")
        _changed()
    if columns[3].button(f"Delete {len(chosen)}", key="runs_delete", icon=":material/delete:", type="secondary"):
        st.session_state["runs_confirm_delete"] = list(chosen)
    pending = st.session_state.get("runs_confirm_delete")
    if pending and pending == chosen:
        confirm_delete(pending, key="runs")


def confirm_delete(names: list[str], *, key: str) -> bool:
    """Ask before deleting ``names`` (their folders and records); True once deleted."""
    from promptflow_lite.runs._client import Client

    st.warning(f"Delete {len(names)} run(s) and their folders? This cannot be undone: "
               + ", ".join(f"`{n}`" for n in names), icon=":material/warning:")
    yes, no, _ = st.columns([1, 1, 4])
    if yes.button("Yes, delete", key=f"{key}_delete_yes", type="primary"):
        client = Client(progress=False)
        for name in names:
            client.runs.delete(name)
        st.session_state.pop(f"{key}_confirm_delete", None)
        st.toast(f"Deleted {len(names)} run(s).")
        _changed()
    if no.button("Cancel", key=f"{key}_delete_no"):
        st.session_state.pop(f"{key}_confirm_delete", None)
        st.rerun()
    return False


def _changed() -> None:
    """After archive / restore / delete: a fresh list, nothing selected."""
    st.session_state["runs_version"] = st.session_state.get("runs_version", 0) + 1
    st.rerun()
