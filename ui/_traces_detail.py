"""The Traces page for one trace: span tree and waterfall, each span's details, LLM calls as chat, add to dataset."""

from __future__ import annotations

from typing import Any

import streamlit as st

from promptflow_lite.tracing import trace_view
from promptflow_lite.ui._runs_common import (count, count_column, duration, go_to, json_block, moment, number,
                                             page_url, preview, stat_cards, status_badge, styled)
from promptflow_lite.ui._traces_chart import MAX_HEIGHT, chart_height, indent, waterfall

KIND_ICONS = {"flow": ":material/account_tree:", "node": ":material/settings:", "llm": ":material/chat:",
              "embedding": ":material/scatter_plot:", "function": ":material/function:"}
KIND_LABELS = {"flow": "Flow", "node": "Node", "llm": "LLM", "embedding": "Embedding", "function": "Function"}


def show(trace_id: str) -> None:
    go_to("All traces", key="back_to_traces", icon=":material/arrow_back:", page="traces")
    view = trace_view(trace_id)
    _header(view)
    height = chart_height(len(view.spans))
    with st.container(height=MAX_HEIGHT if height > MAX_HEIGHT else "content", border=False):
        st.altair_chart(waterfall(view.spans), width="stretch")
    tree, detail = st.columns([1, 1], gap="medium")
    with tree:
        span = _span_table(view)
    with detail:
        _span_detail(span, view)


def _header(view) -> None:
    line = view.line_run or {}
    root = view.spans[0] if view.spans else {}
    st.caption("TRACE")
    st.title(line.get("flow") or root.get("name") or "Trace")
    facts = [status_badge("Failed" if view.status == "ERROR" else "Completed"), f"`{view.trace_id}`"]
    if view.start_time:
        facts.append(f"started {moment(view.start_time)}")
    if line.get("run"):
        facts.append(f"run [{line['run']}]({page_url('run', run=line['run'])})"
                     + (f" line **{line['line_number']}**" if line.get("line_number") is not None else ""))
    st.markdown(" · ".join(facts))
    stat_cards([("Duration", duration(view.duration) or "–"), ("Total tokens", f"{view.tokens.get('total', 0):,}"),
                ("Prompt", f"{view.tokens.get('prompt', 0):,}"), ("Completion", f"{view.tokens.get('completion', 0):,}"),
                ("Model calls", str(len(view.llm_calls))), ("Spans", f"{len(view.spans):,}")])
    for evaluation in view.evaluations:
        outputs = evaluation.get("outputs") or {}
        shown = " · ".join(f"{k} **{number(v)}**" for k, v in outputs.items() if not isinstance(v, (dict, list)))
        st.markdown(f":material/grading: Evaluated by **{evaluation.get('flow')}**: {shown or evaluation.get('status')}"
                    f" ([trace]({page_url('trace', trace=evaluation['trace_id'])}))")


def _span_table(view) -> dict[str, Any]:
    import pandas as pd

    frame = pd.DataFrame.from_records([{
        "Span": indent(span["depth"]) + span["name"],
        "Kind": KIND_LABELS.get(span["kind"], span["kind"]),
        "Duration": duration(span.get("duration")),
        "Tokens": count((span["llm"]["tokens"] if span["llm"] else span["tokens"]).get("total")),
        "": "✕" if span["status"] == "ERROR" else "✓",
    } for span in view.spans])
    event = st.dataframe(styled(frame, ""), hide_index=True, on_select="rerun", selection_mode="single-row",
                         key=f"spans_{view.trace_id}", height=min(38 + 35 * len(frame), 560),
                         column_config={"Kind": st.column_config.TextColumn("Kind", width="small"),
                                        "Duration": st.column_config.TextColumn("Duration", width="small"),
                                        "Tokens": count_column("Tokens", width="small"),
                                        "": st.column_config.TextColumn("", width=32)})
    if event.selection.rows:
        chosen = view.spans[event.selection.rows[0]]
        st.query_params["span"] = chosen["span_id"]  # the address bar can share this span
        return chosen
    st.caption("Tick a span to see its details (the trace's first span is shown until then).")
    return view.span(st.query_params.get("span") or "") or view.spans[0]


def _span_detail(span: dict[str, Any], view) -> None:
    with st.container(border=True):
        tokens = span["llm"]["tokens"] if span["llm"] else span["tokens"]
        facts = [f"{KIND_ICONS.get(span['kind'], '')} **{span['name']}**", KIND_LABELS.get(span["kind"], ""),
                 status_badge("Failed" if span["status"] == "ERROR" else "Completed"), duration(span.get("duration"))]
        if tokens.get("total"):
            facts.append(f"{tokens['total']:,} tokens ({tokens.get('prompt', 0):,} prompt + "
                         f"{tokens.get('completion', 0):,} completion)")
        st.markdown(" · ".join(f for f in facts if f))
        if span["error"]:
            st.error(f"{span['error'].get('type') or 'Error'}: {span['error'].get('message') or ''}",
                     icon=":material/error:")
        if span["llm"]:
            _chat(span["llm"])
        else:
            st.caption("Input")
            json_block(span.get("inputs"))
            st.caption("Output")
            json_block(span.get("output")) if span["status"] != "ERROR" else st.caption("none: the span failed")
        tabs = (["Raw input", "Raw output"] if span["llm"] else []) + ["Attributes", "Events"]
        if span["error"] and span["error"].get("stacktrace"):
            tabs.append("Stack trace")
        shown = dict(zip(tabs, st.tabs(tabs)))
        if span["llm"]:
            with shown["Raw input"]:
                st.json(span.get("inputs") or {}, expanded=False)
            with shown["Raw output"]:
                st.json(span.get("output") or {}, expanded=False)
        with shown["Attributes"]:
            st.json(span.get("attributes") or {}, expanded=False)
        with shown["Events"]:
            st.json(span.get("events") or [], expanded=True) if span.get("events") else st.caption("No events.")
        if "Stack trace" in shown:
            with shown["Stack trace"]:
                st.code(span["error"]["stacktrace"], language=None)
    if span["depth"] == 0 and view.line_run:
        from promptflow_lite.ui._traces_dataset import add_to_dataset_form

        add_to_dataset_form(view)


def _chat(call: dict[str, Any]) -> None:
    parameters = " · ".join(f"{key} `{preview(value, 40)}`" for key, value in call["parameters"].items())
    tokens = call["tokens"]
    st.markdown(f"model **{call.get('model') or '?'}** · {call['api']} · {duration(call.get('latency'))}"
                + (f" · {tokens.get('prompt', 0):,} → {tokens.get('completion', 0):,} tokens" if tokens else "")
                + (" · :blue-badge[cached]" if call.get("cached") else ""))
    if parameters:
        st.caption(parameters)
    for message in call["messages"]:
        _message(message)
    if call["response"]:
        st.caption("Response" + (f" · finish: {', '.join(call['finish_reasons'])}" if call["finish_reasons"] else ""))
        for message in call["response"]:
            _message(message)


def _message(message: dict[str, Any]) -> None:
    role = message.get("role") or "user"
    avatar = {"system": ":material/settings:", "assistant": ":material/smart_toy:", "user": ":material/person:",
              "tool": ":material/build:"}.get(role, ":material/notes:")
    with st.chat_message(role if role in ("user", "assistant") else "ai", avatar=avatar):
        st.caption(role)
        st.text(message.get("content") or "")
        for key in ("tool_calls", "function_call"):
            if message.get(key):
                st.json(message[key], expanded=False)
