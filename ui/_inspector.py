"""The panel beside the canvas: the selected node's settings, inputs, source and variants; or the flow's
inputs and outputs when their box is selected. Every widget applies its edit to the open document."""

from __future__ import annotations

from typing import Any

import streamlit as st

from promptflow_lite.flow import _editing as editing
from promptflow_lite.flow._document import FlowDocument, plain
from promptflow_lite.flow._graph import INPUTS, OUTPUTS
from promptflow_lite.flow._model import ValueType
from promptflow_lite.flow._reference import is_reference
from promptflow_lite.ui import _editor_state as state
from promptflow_lite.ui._widgets import code_language

NODE_TYPES = ["python", "llm", "prompt", "custom_llm"]
INPUT_TYPES = [t.value for t in ValueType]


def literal(text: str, like: Any = None) -> Any:
    """What a typed input value means: a reference stays text; else the old value's type is kept
    (a number stays a number), and an empty text removes nothing but is ''."""
    if is_reference(text) or isinstance(like, str) or like is None:
        return text
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (int, float, bool, list, dict)) else text


def reference_field(label: str, value: Any, key: str, choices: list[str], apply, *, placeholder: str = "") -> None:
    """A value typed as text, or picked from the references offered (the pick replaces the text)."""
    text_key, pick_key = f"{key}/text", f"{key}/pick"
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    left.text_input(label, value="" if value is None else _as_text(value), key=text_key, placeholder=placeholder,
                    on_change=state.on_change(text_key, apply))
    right.selectbox(f"{label}: pick a reference", choices, index=None, key=pick_key, placeholder="reference…",
                    label_visibility="collapsed",
                    on_change=state.on_change(pick_key, lambda v: v and apply(v), structural=True))


def show(doc: FlowDocument, node: str, problems: list) -> None:
    if node == INPUTS:
        _flow_inputs(doc)
    elif node == OUTPUTS:
        _flow_outputs(doc)
    else:
        _node(doc, node, problems)


def _problems(problems: list, node: str) -> None:
    for problem in problems:
        if problem.node == node:
            st.error(problem.message + (f"  \nFix: {problem.hint}" if problem.hint else ""), icon=":material/warning:")


def _node(doc: FlowDocument, name: str, problems: list) -> None:
    entry = editing.variants_of(doc, name)
    variant = None
    if editing.node_map(doc, name).get("use_variants") and entry is not None:
        variant = _variant_bar(doc, name, entry)
    _problems(problems, name)
    try:
        body = editing.body(doc, name, variant)
    except Exception as exc:  # noqa: BLE001 - a broken variant entry
        st.error(str(exc))
        return
    settings, inputs, source = st.tabs(["Settings", "Inputs", "Source"], key="pfl_inspector_tab")  # kept on edits
    with settings:
        _settings(doc, name, variant, body)
    with inputs:
        _inputs(doc, name, variant, body)
    with source:
        _source(doc, name, variant, body)
    _manage(doc, name)


def _variant_bar(doc: FlowDocument, name: str, entry: Any) -> str | None:
    ids = list(entry.get("variants") or {})
    default = entry.get("default_variant_id")
    if not ids:
        return None
    chosen = st.radio("Variant", ids, key=state.key(name, "variant"), horizontal=True,
                      index=ids.index(default) if default in ids else 0,
                      format_func=lambda v: f"{v} ★" if v == default else v,
                      help="★ is the default variant: the one a run uses unless told otherwise.")
    description = (entry["variants"].get(chosen) or {}).get("description") or ""
    k = state.key(name, chosen, "description")
    st.text_input("Description", value=description, key=k, placeholder="what is different in this variant",
                  on_change=state.on_change(k, lambda v: editing.set_variant_description(doc, name, chosen, v)))
    with st.container(horizontal=True):  # buttons wrap in a narrow panel instead of cutting their labels
        st.button("Add variant", icon=":material/content_copy:", key=state.key(name, chosen, "add"),
                  help="a copy of the variant shown; its prompt file is copied too",
                  on_click=lambda: state.edit(lambda: editing.add_variant(doc, name, chosen), structural=True,
                                              done=f"Added a copy of {chosen} to {name}."))
        st.button("Make default", key=state.key(name, chosen, "default"), disabled=chosen == default,
                  on_click=lambda: state.edit(lambda: editing.set_default_variant(doc, name, chosen),
                                              structural=True))
        st.button("Remove variant", key=state.key(name, chosen, "remove"), disabled=chosen == default,
                  on_click=lambda: state.edit(lambda: editing.remove_variant(doc, name, chosen), structural=True))
    return chosen


def _settings(doc: FlowDocument, name: str, variant: str | None, body: Any) -> None:
    def field(label: str, key: str, options: list[str] | None = None, help: str | None = None) -> None:
        current = body.get(key)
        k = state.key(name, variant, key)
        apply = state.on_change(k, lambda v: editing.set_field(doc, name, key, v or None, variant))
        if options is not None:
            choices = list(dict.fromkeys([*([str(current)] if current else []), *options]))
            st.selectbox(label, choices, index=choices.index(str(current)) if current else None, key=k,
                         on_change=apply, help=help, accept_new_options=True)
        else:
            st.text_input(label, value=str(current or ""), key=k, on_change=apply, help=help)

    left, right = st.columns(2)
    with left:
        field("Type", "type", NODE_TYPES)
    with right:
        source = body.get("source") or {}
        k = state.key(name, variant, "source")
        st.text_input("Source file", value=str(source.get("path") or source.get("tool") or ""), key=k,
                      on_change=state.on_change(k, lambda v: editing.set_source(doc, name, v, variant),
                                                structural=True),
                      help="relative to the flow folder; a new file is created when you save")
    if body.get("type") in ("llm", "custom_llm") or body.get("connection"):
        left, right = st.columns(2)
        with left:
            field("Connection", "connection", _connection_names())
        with right:
            field("API", "api", ["chat", "completion"])
    k = state.key(name, variant, "aggregation")
    st.toggle("Aggregation node (runs once over all lines)", value=bool(body.get("aggregation") or body.get("reduce")),
              key=k, on_change=state.on_change(k, lambda v: editing.set_field(doc, name, "aggregation", v or None,
                                                                              variant)))
    activate = body.get("activate") or {}
    st.markdown("**Activate** <span class='pfl-muted'>run this node only when a value matches</span>",
                unsafe_allow_html=True)
    ki = state.key(name, variant, "is")
    reference_field("when", activate.get("when"), state.key(name, variant, "when"), editing.reference_choices(doc, name),
                    lambda v: editing.set_activate(doc, name, v or None,
                                                   literal(st.session_state.get(ki) or str(activate.get("is", "")),
                                                           True), variant),
                    placeholder="always run")
    st.text_input("is", value="" if activate.get("is") is None else str(activate.get("is")), key=ki,
                  disabled=not activate.get("when"),
                  on_change=state.on_change(ki, lambda v: editing.set_activate(doc, name, activate.get("when"),
                                                                               literal(v, True), variant)))


def _connection_names() -> list[str]:
    try:
        from promptflow_lite.connections._store import ConnectionStore

        return ConnectionStore().names()
    except Exception:  # noqa: BLE001 - no store yet: names typed by hand
        return []


def _inputs(doc: FlowDocument, name: str, variant: str | None, body: Any) -> None:
    inputs = body.get("inputs") or {}
    choices = editing.reference_choices(doc, name)
    if not inputs:
        st.caption("This node has no inputs yet.")
    for input_name, value in list(inputs.items()):
        row, drop = st.columns([12, 1], vertical_alignment="bottom")
        with row:
            reference_field(input_name, value, state.key(name, variant, "input", input_name), choices,
                            lambda v, i=input_name, old=value: editing.set_input(doc, name, i, literal(v, old),
                                                                                 variant))
        drop.button("", icon=":material/close:", key=state.key(name, variant, "drop", input_name),
                    help=f"remove input '{input_name}'",
                    on_click=lambda i=input_name: state.edit(lambda: editing.set_input(doc, name, i, None, variant),
                                                             structural=True))
    with st.popover("Add input"):
        kn, kv = state.key(name, variant, "new-input"), state.key(name, variant, "new-value")
        st.text_input("Input name", key=kn)
        st.text_input("Value", key=kv, placeholder="a literal or ${...}", help="references: " + ", ".join(choices))
        st.button("Add", key=state.key(name, variant, "add-input"),
                  on_click=lambda: state.edit(lambda: editing.set_input(
                      doc, name, st.session_state[kn], literal(st.session_state[kv] or ""), variant), structural=True))


def _source(doc: FlowDocument, name: str, variant: str | None, body: Any) -> None:
    source = body.get("source") or {}
    path = source.get("path")
    if not path or source.get("type") == "package":
        st.caption(f"Package tool `{source.get('tool')}`: no source file to edit." if source.get("tool")
                   else "No source file.")
        return
    try:
        text = doc.source_text(str(path))
    except Exception as exc:  # noqa: BLE001 - outside the folder, unreadable...
        st.error(str(exc))
        return
    k = state.key(name, variant, "code", path)
    language = code_language(str(path))
    st.caption(f"`{path}`" + ("" if doc.source_exists(str(path)) else " — new file, written when you save"))
    st.text_area("Source", value=text, key=k, height=min(520, 60 + 21 * max(6, text.count("\n") + 2)),
                 label_visibility="collapsed",
                 on_change=state.on_change(k, lambda v: doc.set_source_text(str(path), v)))
    with st.expander("Highlighted", expanded=False):
        st.code(st.session_state.get(k, text), language=language, line_numbers=True)


def _manage(doc: FlowDocument, name: str) -> None:
    # keyed: stays open when a message above it comes or goes (e.g. a refused delete, then typing a new name)
    with st.expander("Rename or delete this node", key=state.key(name, "manage"), on_change="rerun"):
        left, right = st.columns([2, 1], vertical_alignment="bottom")  # the button's label fits at 1280 px
        k = state.key(name, "rename")
        left.text_input("New name", value=name, key=k, help="references to the node follow the new name")

        def rename() -> None:
            new = st.session_state[k]
            count = state.edit(lambda: editing.rename_node(doc, name, new), structural=True)
            if count is not None:
                state.select(new)
                state.message("success", f"Renamed {name} to {new} ({count} reference(s) updated).")

        right.button("Rename", key=state.key(name, "rename-go"), on_click=rename)

        def delete() -> None:
            if state.edit(lambda: editing.delete_node(doc, name) or True, structural=True):
                state.select(None)
                state.message("success", f"Deleted node {name} (its source file stays on disk).")

        st.button(f"Delete {name}", key=state.key(name, "delete"), type="secondary", on_click=delete)


def _flow_inputs(doc: FlowDocument) -> None:
    st.subheader("Flow inputs")
    inputs = doc.data.get("inputs") or {}
    for input_name, entry in list(inputs.items()):
        entry = entry if isinstance(entry, dict) else {}
        with st.container(border=True):
            cols = st.columns([3, 3, 3, 1], vertical_alignment="bottom")
            kn = state.key("inputs", input_name, "name")
            cols[0].text_input("Name", value=input_name, key=kn, on_change=state.on_change(
                kn, lambda v, i=input_name: editing.rename_flow_input(doc, i, v), structural=True))
            kt = state.key("inputs", input_name, "type")
            current = str(entry.get("type") or "string")
            types = list(dict.fromkeys([current, *INPUT_TYPES]))
            cols[1].selectbox("Type", types, index=0, key=kt, on_change=state.on_change(
                kt, lambda v, i=input_name: editing.set_flow_input(doc, i, v)))
            kd = state.key("inputs", input_name, "default")
            default = entry.get("default")
            cols[2].text_input("Default", value="" if default is None else _as_text(default), key=kd,
                               on_change=state.on_change(kd, lambda v, i=input_name, old=default: editing.set_flow_input(
                                   doc, i, default=literal(v, old if old is not None else 0) if v != "" else None)))
            cols[3].button("", icon=":material/close:", key=state.key("inputs", input_name, "drop"), help="remove this input",
                           on_click=lambda i=input_name: state.edit(lambda: editing.remove_flow_input(doc, i),
                                                                    structural=True))
            flags = st.columns(2)
            for column, flag, label in ((flags[0], "is_chat_input", "chat input"),
                                        (flags[1], "is_chat_history", "chat history")):
                kf = state.key("inputs", input_name, flag)
                column.checkbox(label, value=bool(entry.get(flag)), key=kf, on_change=state.on_change(
                    kf, lambda v, i=input_name, f=flag: editing.set_flow_input(doc, i, **{f: v or None})))
    _add_named("inputs", "Add flow input", lambda n: editing.set_flow_input(doc, n, "string"))


def _flow_outputs(doc: FlowDocument) -> None:
    st.subheader("Flow outputs")
    outputs = doc.data.get("outputs") or {}
    choices = editing.reference_choices(doc)
    for output_name, entry in list(outputs.items()):
        entry = entry if isinstance(entry, dict) else {}
        row, drop = st.columns([12, 1], vertical_alignment="bottom")
        with row:
            reference_field(output_name, entry.get("reference"), state.key("outputs", output_name), choices,
                            lambda v, o=output_name: editing.set_flow_output(doc, o, v))
        drop.button("", icon=":material/close:", key=state.key("outputs", output_name, "drop"),
                    help="remove this output",
                    on_click=lambda o=output_name: state.edit(lambda: editing.remove_flow_output(doc, o),
                                                              structural=True))
    _add_named("outputs", "Add flow output",
               lambda n: editing.set_flow_output(doc, n, choices[-1] if choices else ""))


def _add_named(section: str, label: str, add) -> None:
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    k = state.key(section, "new")
    left.text_input(label, key=k, placeholder="name")
    right.button("Add", key=state.key(section, "add"),
                 on_click=lambda: state.edit(lambda: add(st.session_state[k]), structural=True))


def _as_text(value: Any) -> str:
    import json

    value = plain(value)
    return value if isinstance(value, str) else json.dumps(value)
