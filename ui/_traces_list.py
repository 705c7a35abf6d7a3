"""The Traces page's list: newest first, filtered by run, flow, status, time and text, live while runs go."""

from __future__ import annotations

from typing import Any

import streamlit as st

from promptflow_lite.tracing import count_traces, list_traces, trace_filters
from promptflow_lite.ui import _shell
from promptflow_lite.ui._runs_common import (count, count_column, current_page, duration, moment, page_url, pager,
                                             preview, status_label, status_text, styled)

PAGE_SIZE = 50
PERIODS = {"Any time": None, "Last 15 minutes": "15m", "Last hour": "1h", "Last 24 hours": "24h",
           "Last 7 days": "7d"}
REFRESH_SECONDS = 2.0


def show() -> None:
    st.title("Traces")
    filters = _filters()
    live = st.toggle("Live", value=True, key="traces_live",
                     help=f"refresh the list every {REFRESH_SECONDS:g} s while runs are going")
    page = current_page("traces_page", *filters.values())
    st.fragment(_listing, run_every=REFRESH_SECONDS if live else None)(filters, page)


def _filters() -> dict[str, Any]:
    choices = trace_filters()
    wanted_run = st.query_params.get("run")
    runs = [None, *choices["runs"]]
    if wanted_run and wanted_run not in runs:
        runs.append(wanted_run)
    if wanted_run and "traces_run" not in st.session_state:
        st.session_state["traces_run"] = wanted_run
    search, run, flow, status, period = st.columns([3, 3, 2, 1.5, 1.7], vertical_alignment="bottom")
    return {
        "text": search.text_input("Search", placeholder="text in inputs, outputs or error",
                                  key="traces_search").strip() or None,
        "run": run.selectbox("Run", runs, format_func=lambda r: r or "All runs", key="traces_run"),
        "flow": flow.selectbox("Flow", [None, *choices["flows"]], format_func=lambda f: f or "All flows",
                               key="traces_flow"),
        "status": status.selectbox("Status", [None, "Completed", "Failed"],
                                   format_func=lambda s: status_label(s) if s else "Any status", key="traces_status"),
        "since": PERIODS[period.selectbox("Started", list(PERIODS), key="traces_period")],
    }


def _listing(filters: dict[str, Any], page: int) -> None:
    total = count_traces(**filters)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(page, pages - 1)
    rows = list_traces(**filters, limit=PAGE_SIZE, offset=page * PAGE_SIZE)
    if not rows:
        st.info("No trace matches these filters." if any(filters.values()) else
                "No traces yet. Every `pfl flow test`, batch run line and served request is traced here.")
        return
    opened = st.session_state.get("traces_opened", 0)  # a new table key after each opening: no stale selection
    event = st.dataframe(styled(_table(rows), "Status"), hide_index=True, column_config=_config(),
                         on_select="rerun", selection_mode="single-row", key=f"traces_table_{opened}")
    pager("traces_page", page, pages, total, "traces")
    st.caption("Click a row's box to open its trace.")
    if event.selection.rows:
        st.session_state["traces_opened"] = opened + 1
        _shell.open_page("trace", trace=rows[event.selection.rows[0]]["trace_id"])


def _table(rows: list[dict[str, Any]]):
    import pandas as pd

    return pd.DataFrame.from_records([{
        "Started": moment(row.get("start_time")),
        "Trace": page_url("trace", trace=row["trace_id"]),
        "Status": status_text(row.get("status")),
        "Flow": row.get("flow") or "",
        "Input": preview(row.get("inputs"), 80),
        "Output": preview(row.get("outputs") if row.get("status") != "Failed" else row.get("error"), 80),
        "Duration": duration(row.get("duration")),
        "Tokens": count(row.get("total_tokens")),
        "Run": row.get("run") or "",
        "Line": row.get("line_number"),
    } for row in rows])


def _config() -> dict[str, Any]:
    """Inputs and outputs before the run (a long name): what a narrow window must show. A trace id starts with
    its second (``tracing.ids``): its last 12 digits tell traces apart."""
    return {"Trace": st.column_config.LinkColumn("Trace", display_text=r"trace=\w*(\w{12})$", width=110,
                                                 help="open the trace (the end of its id)"),
            "Input": st.column_config.TextColumn("Input", width="medium"),
            "Output": st.column_config.TextColumn("Output", width="medium"),
            "Run": st.column_config.TextColumn("Run", width="medium"),
            "Line": st.column_config.NumberColumn("Line", width="small"),
            "Tokens": count_column("Tokens", width="small")}
