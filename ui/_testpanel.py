"""Try the flow: a form from its inputs (or a line of a data file), outputs and what each node did,
variants side by side, one node alone, and a chat for chat flows. Runs the flow as saved on disk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import streamlit as st

from promptflow_lite.flow._model import FlowSpec
from promptflow_lite.ui import _shell
from promptflow_lite.ui._widgets import error_text, safe_value, show_value

_RESULTS, _CHAT = "pfl_test_results", "pfl_chat"


def input_widget(name: str, definition: Any, key: str, value: Any = None) -> Any:
    """A widget for one flow input of the right type; returns the typed value."""
    kind = getattr(definition.type, "value", definition.type)
    value = definition.default if value is None else value
    label = name + ("" if definition.has_default else " *")
    if kind == "int":
        return int(st.number_input(label, value=int(value or 0), step=1, key=key))
    if kind == "double":
        return float(st.number_input(label, value=float(value or 0.0), key=key, format="%g"))
    if kind == "bool":
        return st.checkbox(label, value=bool(value), key=key)
    if kind in ("list", "object"):
        text = st.text_area(label, value=json.dumps(value if value is not None else ([] if kind == "list" else {})),
                            key=key, height=80, help="JSON")
        try:
            return json.loads(text)
        except ValueError:
            st.error(f"Input '{name}' must be JSON ({kind}).")
            return None
    text = "" if value is None else str(value)
    return st.text_area(label, value=text, key=key, height=68 if len(text) < 200 else 160)


def data_lines(folder: Path, path: str) -> list[dict]:
    """The lines of a data file (jsonl/json/csv...) as dicts; path relative to the flow folder."""
    from promptflow_lite.runs._data import load_data

    file = Path(path) if Path(path).is_absolute() else folder / path
    return [dict(line) for line in load_data(file)]


def show(folder: Path, spec: FlowSpec, dirty: bool) -> None:
    if dirty:
        st.warning("You have unsaved changes: tests run the flow as saved on disk. Save first to try them.")
    panels = {"Test": _test, "Run one node": _single_node}
    if spec.is_chat_flow:
        panels = {"Chat": _chat, **panels}  # a chat flow is tried by chatting with it
    for pane, panel in zip(st.tabs(list(panels), key="pfl_test_tab"), panels.values()):
        with pane:
            panel(folder, spec)


def _line_picker(folder: Path, spec: FlowSpec) -> dict | None:
    candidates = sorted(p.name for p in folder.iterdir() if p.suffix in (".jsonl", ".json", ".csv", ".tsv")
                        and p.name not in ("flow.tools.json",))
    with st.expander("Fill from a data file"):
        left, right = st.columns([3, 1], vertical_alignment="bottom")
        path = left.selectbox("Data file", candidates, index=0 if candidates else None, accept_new_options=True,
                              key="pfl_data_file")
        number = right.number_input("Line", min_value=0, value=0, step=1, key="pfl_data_line")
        if st.button("Use this line", key="pfl_data_use") and path:
            try:
                lines = data_lines(folder, path)
                line = lines[int(number)]
            except IndexError:
                st.error(f"{path} has {len(lines)} line(s); line numbers start at 0.")
                return None
            except Exception as exc:  # noqa: BLE001
                st.error(error_text(exc))
                return None
            st.session_state["pfl_form_version"] = st.session_state.get("pfl_form_version", 0) + 1
            return {k: v for k, v in line.items() if k in spec.inputs}
    return None


def _test(folder: Path, spec: FlowSpec) -> None:
    from promptflow_lite.flow._variants import all_variant_ids

    filled = _line_picker(folder, spec)
    if filled is not None:
        st.session_state["pfl_form_filled"] = filled
    filled = st.session_state.get("pfl_form_filled", {})
    version = st.session_state.get("pfl_form_version", 0)
    with st.form("pfl_test_form", border=False):
        values = {}
        asked = {name: definition for name, definition in spec.inputs.items() if not definition.is_chat_history}
        columns = st.columns(2) if len(asked) > 1 else [st.container()]
        for index, (name, definition) in enumerate(asked.items()):
            with columns[index % len(columns)]:
                values[name] = input_widget(name, definition, f"pfl_in/{version}/{name}", filled.get(name))
        selectors = all_variant_ids(spec)
        variants = st.pills("Variants to compare side by side (none: the default variants)", selectors,
                            selection_mode="multi", key="pfl_test_variants") if selectors else []
        run = st.form_submit_button("Run test", icon=":material/play_arrow:", type="primary")
    if run:
        st.session_state[_RESULTS] = results = []  # filled as each run ends: a rerun may stop this script later
        with st.spinner("Running the flow…"):
            for variant in variants or [None]:
                results.append(_run(folder, values, variant))
    results = st.session_state.get(_RESULTS)
    if results:
        columns = st.columns(len(results)) if len(results) > 1 else [st.container()]
        for column, (variant, outcome) in zip(columns, results):
            with column:
                _outcome(variant, outcome)


def _run(folder: Path, inputs: dict[str, Any], variant: str | None, node: str | None = None):
    from promptflow_lite.engine._flow_test import run_flow_test
    from promptflow_lite.tracing import enable_tracing, flush_tracing

    traced = enable_tracing()
    try:
        outcome = run_flow_test(folder, inputs, variant=variant, node=node)
    except Exception as exc:  # noqa: BLE001 - load and input errors are messages
        return variant, error_text(exc)
    if traced:
        flush_tracing()
    return variant, outcome


def _outcome(variant: str | None, outcome: Any) -> None:
    st.markdown(f"#### {_variant_title(variant)}")
    if isinstance(outcome, str):
        st.error(outcome)
        return
    if outcome.ok:
        st.success("Completed", icon=":material/check_circle:")
        show_value(outcome.outputs)
        if outcome.metrics:
            st.caption("Metrics")
            show_value(outcome.metrics)
    else:
        error = outcome.error or {}
        st.error(error.get("message") or "The flow failed.")
    _trace_link(outcome.trace_id)
    runs = list(outcome.line.node_runs.values()) if outcome.line else ([outcome.node_run] if outcome.node_run else [])
    if runs:
        st.dataframe([{"node": r.node, "status": r.status, "duration (s)": round(r.duration, 3),
                       "tokens": (r.usage or {}).get("total_tokens", 0)} for r in runs],
                     hide_index=True, width="stretch")
        for r in runs:
            with st.expander(f"{r.node} · {r.status} · {r.duration:.3f} s"):
                st.caption("Inputs")
                show_value(r.inputs or {})
                st.caption("Output" if not r.error else "Error")
                show_value(r.output if not r.error else r.error.get("message"))


def _variant_title(variant: str | None) -> str:
    """``${classify.variant_1}`` → ``classify · variant_1``."""
    if not variant:
        return "Default variants"
    from promptflow_lite.flow._variants import parse_variant

    return " · ".join(parse_variant(variant))


def _trace_link(trace_id: str | None) -> None:
    if not trace_id:
        return
    if _shell.page_exists("trace"):
        _shell.page_link("trace", f"Open trace {trace_id[:12]}…", icon=":material/timeline:", trace=trace_id)
    else:
        st.caption(f"Trace: `pfl trace show {trace_id}`")


def _single_node(folder: Path, spec: FlowSpec) -> None:
    names = [n.name for n in spec.nodes]
    if not names:
        st.caption("The flow has no nodes.")
        return
    node_name = st.selectbox("Node", names, key="pfl_single_node")
    node = spec.node(node_name)
    from promptflow_lite.flow._variants import apply_variant

    try:
        resolved = apply_variant(spec).node(node_name)
    except Exception:  # noqa: BLE001 - shown by validation
        resolved = node
    st.caption("Inputs the node reads from the flow or other nodes (JSON values; plain text is a string).")
    given = {}
    for key, value in (resolved.inputs if resolved else {}).items():
        from promptflow_lite.flow._reference import is_reference

        if is_reference(value):
            text = st.text_input(f"{key}  ←  {value}", key=f"pfl_single/{node_name}/{key}")
            given[key] = _json_or_text(text)
    if st.button("Run node", icon=":material/play_arrow:", key="pfl_single_run"):
        with st.spinner(f"Running {node_name}…"):
            st.session_state["pfl_single_result"] = (node_name, _run(folder, given, None, node=node_name)[1])
    result = st.session_state.get("pfl_single_result")
    if result and result[0] == node_name:
        outcome = result[1]
        if isinstance(outcome, str):
            st.error(outcome)
        elif outcome.ok:
            show_value(outcome.outputs)
            _trace_link(outcome.trace_id)
        else:
            st.error((outcome.error or {}).get("message") or "The node failed.")


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _chat(folder: Path, spec: FlowSpec) -> None:
    from promptflow_lite.ui._chat import answer_stream

    history = st.session_state.setdefault(_CHAT, {}).setdefault(str(folder), [])
    chat_input, chat_output = spec.chat_input, spec.chat_output or next(iter(spec.outputs), None)
    top = st.columns([5, 1])
    top[0].caption(f"Chat with the flow: `{chat_input}` is your message, `{chat_output}` the answer.")
    if top[1].button("Clear", key="pfl_chat_clear"):
        history.clear()
    box = st.container(height=420)
    with box:
        for turn in history:
            st.chat_message("user").write(turn["inputs"][chat_input])
            st.chat_message("assistant").write(safe_value(turn["outputs"].get(chat_output)))
    question = st.chat_input("Message the flow", key="pfl_chat_input")
    if question:
        with box:
            st.chat_message("user").write(question)
            with st.chat_message("assistant"):
                stream = answer_stream(folder, spec, question, list(history))
                st.write_stream(stream)
        if stream.error:
            st.error(stream.error)
        else:
            history.append({"inputs": {chat_input: question}, "outputs": stream.outputs})
            _trace_link(stream.trace_id)
