"""The Runs page for one run: what it is, how it went, its metrics, and its lines a page at a time."""

from __future__ import annotations

from typing import Any

import streamlit as st

from promptflow_lite.evaluate._run_lines import evaluation_scores
from promptflow_lite.runs._lines import line_page
from promptflow_lite.runs._listing import USABLE, get_run_row
from promptflow_lite.ui._runs_common import (count, count_column, current_page, duration, go_to, json_block, link,
                                             moment, number, page_url, pager, preview, progress_bar, stat_cards,
                                             status_badge, status_label, status_text, styled)

PAGE_SIZE = 50
MAX_COLUMNS = 4  # inputs / outputs with more keys are shown as one JSON column
LIVE = ("Preparing", "Running")
LINE_FILTERS = {"All lines": None, "Failed only": "Failed", "Completed": "Completed"}


def show(name: str) -> None:
    go_to("All runs", key="back_to_runs", icon=":material/arrow_back:", page="runs")
    row = get_run_row(name)
    if row is None:
        st.error(f"There is no run named '{name}' in this PFL_HOME.", icon=":material/search_off:")
        return
    _header(row)
    if row["status"] in LIVE:
        _live_progress(name)
    else:
        _summary(row)
    _lines(row)


def _header(row: dict[str, Any]) -> None:
    st.title(row["name"])
    facts = [status_badge(row["status"]), f"flow **{row.get('flow_name') or '?'}**"]
    if row.get("variant_id"):
        facts.append(f"variant **{row['variant_id']}**")
    if row.get("archived"):
        facts.append(":gray-badge[archived]")
    facts.append(f"created {moment(row.get('created_on'))}")
    st.markdown(" · ".join(facts))
    if row.get("display_name") and row["display_name"] != row["name"]:
        st.caption(row["display_name"])
    if row.get("description"):
        st.write(row["description"])
    details = [f"data `{row['data']}`"] if row.get("data") else []
    if row.get("flow"):
        details.append(f"flow folder `{row['flow']}`")
    if details:
        st.caption(" · ".join(details))
    with st.container(horizontal=True, vertical_alignment="center"):
        link("run_traces", "Traces of this run", icon=":material/timeline:", run=row["name"])
        if row.get("run"):
            go_to(f"Base run {row['run']}", key="to_base_run", icon=":material/call_split:", run=row["run"])
        _actions(row)
    if st.session_state.get("run_confirm_delete") == [row["name"]]:
        from promptflow_lite.ui._runs_list import confirm_delete

        confirm_delete([row["name"]], key="run")


def _actions(row: dict[str, Any]) -> None:
    from promptflow_lite.runs._client import Client

    client = Client(progress=False)
    if row["archived"]:
        if st.button("Restore", icon=":material/unarchive:", key="run_restore"):
            client.runs.restore(row["name"])
            st.rerun()
    elif st.button("Archive", icon=":material/archive:", key="run_archive"):
        client.runs.archive(row["name"])
        st.rerun()
    if st.button("Delete", icon=":material/delete:", key="run_delete", disabled=row["status"] in LIVE):
        st.session_state["run_confirm_delete"] = [row["name"]]


@st.fragment(run_every=1.0)
def _live_progress(name: str) -> None:
    """While the run goes: a progress bar read from the run index every second."""
    row = get_run_row(name)
    if row is None:
        return
    if row["status"] not in LIVE:
        st.rerun()  # it ended: show the whole page
    done = row["completed_lines"] + row["failed_lines"]
    total = row["total_lines"] or 0
    progress_bar(done / total if total else 0.0, f"{status_label(row['status'])} · {done:,} of {total:,} lines "
                 f"({row['failed_lines']:,} failed)" if total else "Preparing…", row["status"])


def _summary(row: dict[str, Any]) -> None:
    evaluated = {k: v for k, v in row["key_metrics"].items() if k not in (row.get("metrics") or {})}
    cards = [("Lines OK", f"{row['completed_lines']:,} / {row['total_lines']:,}"),
             ("Failed", f"{row['failed_lines']:,}"), ("Duration", duration(row.get("duration")) or "–"),
             ("Tokens", f"{row.get('total_tokens') or 0:,}")]
    cards += [(metric, number(value)) for metric, value in evaluated.items()]
    stat_cards(cards)
    evaluations = row.get("evaluations") or []
    if evaluations:
        st.markdown("Evaluated by " + " · ".join(f"[{e['flow']}]({page_url('run', run=e['name'])})"
                                                 for e in evaluations))
    own = row.get("metrics") or {}
    if own:
        st.caption("Metrics of the flow's aggregation: " + " · ".join(f"{k} **{number(v)}**" for k, v in own.items()))
    if row["status"] not in USABLE and row["status"] not in LIVE and row["total_lines"]:
        st.info(f"This run can be completed where it stopped: `pfl run resume {row['name']}`",
                icon=":material/replay:")
    error = row.get("error")
    if row["status"] in ("Failed", "Canceled") and isinstance(error, dict) and error.get("message"):
        st.error(error["message"], icon=":material/error:")  # (failed lines are in the table below)
    warnings = (row.get("properties") or {}).get("warnings") or []
    if warnings:
        with st.expander(f"Warnings ({len(warnings)})", icon=":material/warning:"):
            for warning in warnings:
                st.markdown(f"- {warning}")


def _lines(row: dict[str, Any]) -> None:
    st.subheader("Lines", divider="gray")
    left, right = st.columns([2, 3], vertical_alignment="bottom")
    choice = left.segmented_control("Show", list(LINE_FILTERS), default="All lines", key="lines_filter")
    status = LINE_FILTERS.get(choice or "All lines")
    search = right.text_input("Search the lines", placeholder="text in inputs, outputs or error, or a line number",
                              key="lines_search").strip()
    page = current_page("lines_page", row["name"], status, search)
    found = line_page(row["name"], page=page, page_size=PAGE_SIZE, status=status, search=search or None)
    counts = found.counts
    summary = f"{counts.get('Completed', 0):,} completed · {counts.get('Failed', 0):,} failed"
    if found.not_started:
        summary += f" · {found.not_started:,} not run yet"
    st.caption(summary)
    if not found.rows:
        st.info("No line matches." if status or search else "No line has finished yet.")
        return
    scores = evaluation_scores(row.get("evaluations") or [], [r["line_number"] for r in found.rows])
    frame, config = _line_table(found.rows, scores)
    event = st.dataframe(styled(frame, "Status"), hide_index=True, column_config=config,
                         on_select="rerun", selection_mode="single-row", key=f"lines_table_{found.page}")
    pager("lines_page", found.page, found.pages, found.total, "lines")
    if event.selection.rows:
        _line_detail(found.rows[event.selection.rows[0]], scores)


def _line_table(rows: list[dict[str, Any]], scores: dict[int, dict[str, Any]]):
    import pandas as pd

    input_keys = _keys(row["inputs"] for row in rows)
    output_keys = _keys(row["outputs"] for row in rows)
    score_keys = _keys(scores.get(row["line_number"]) for row in rows)
    records = []
    for row in rows:
        record: dict[str, Any] = {"#": row["line_number"], "Status": status_text(row["status"])}
        record.update(_spread("inputs", row["inputs"], input_keys))
        record.update(_spread("outputs", row["outputs"], output_keys))
        for key in score_keys:
            record[key] = scores.get(row["line_number"], {}).get(key)
        record.update({"Error": row.get("error") or "", "Tokens": count(row.get("total_tokens")),
                       "Duration": duration(row.get("duration")),
                       "Trace": page_url("trace", trace=row["trace_id"]) if row.get("trace_id") else None})
        records.append(record)
    frame = pd.DataFrame.from_records(records)
    frame = frame.drop(columns=[name for name, key in (("Error", "error"), ("Tokens", "total_tokens"))
                                if not any(row.get(key) for row in rows)])
    config = {"#": st.column_config.NumberColumn("#", width="small"),
              "Trace": st.column_config.LinkColumn("Trace", display_text="open trace", width="small"),
              "Tokens": count_column("Tokens", width="small")}
    for key in score_keys:
        if all(isinstance(scores.get(r["line_number"], {}).get(key), bool) for r in rows
               if scores.get(r["line_number"], {}).get(key) is not None):
            config[key] = st.column_config.CheckboxColumn(key, width="small")
    return frame, config


def _keys(values) -> list[str] | None:
    """The keys to show as columns (None: too many, show one JSON column)."""
    keys: dict[str, None] = {}
    for value in values:
        if isinstance(value, dict):
            keys.update(dict.fromkeys(value))
    return list(keys) if len(keys) <= MAX_COLUMNS else None


def _spread(prefix: str, value: dict[str, Any] | None, keys: list[str] | None) -> dict[str, str]:
    if keys is None:
        return {prefix: preview(value)}
    return {f"{prefix}.{key}": preview((value or {}).get(key)) if value is not None else "" for key in keys}


def _line_detail(row: dict[str, Any], scores: dict[int, dict[str, Any]]) -> None:
    number_ = row["line_number"]
    with st.container(border=True):
        st.markdown(f"**Line {number_}** · {status_badge(row['status'])}"
                    + (f" · {row['total_tokens']:,} tokens" if row.get("total_tokens") else "")
                    + (f" · {duration(row.get('duration'))}" if row.get("duration") else ""))
        if row.get("trace_id"):
            link("trace", "Open its trace", icon=":material/timeline:", trace=row["trace_id"])
        left, right = st.columns(2)
        with left:
            st.caption("Inputs")
            json_block(row["inputs"])
        with right:
            st.caption("Outputs")
            json_block(row["outputs"]) if row["outputs"] is not None else st.caption("none")
        if row.get("error"):
            st.error(f"{row.get('error_code') or 'Error'}: {row['error']}")
        if scores.get(number_):
            st.caption("Evaluation")
            st.json(scores[number_])
