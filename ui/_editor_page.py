"""The editor page's parts: the flow picker (open, or new from a template), the save bar, the canvas with
the inspector beside it, and the test panel below."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from promptflow_lite.flow import _editing as editing
from promptflow_lite.flow._document import FlowChangedOnDisk, FlowDocument
from promptflow_lite.flow._graph import INPUTS, OUTPUTS, flow_graph
from promptflow_lite.ui import _canvas, _inspector, _shell, _testpanel
from promptflow_lite.ui import _editor_state as state
from promptflow_lite.ui._widgets import error_text

SELECT_KEY = "pfl_node_select"
NEW_FLOW_POPOVER, ADD_NODE_POPOVER = "pfl_new_flow_open", "pfl_add_node_open"
SKIP = {".git", ".venv", "venv", "node_modules", "__pycache__", ".promptflow", ".runs", "site-packages"}


@st.cache_data(ttl=15, show_spinner=False)
def flows_under(root: str, depth: int = 4) -> list[str]:
    """Flow folders (holding a flow.dag.yaml) under ``root``, relative to it (a big tree: the first 3,000 folders)."""
    found = []
    for visited, (current, dirs, files) in enumerate(os.walk(root)):
        if visited >= 3000:
            break
        rel = Path(current).relative_to(root)
        dirs[:] = sorted(d for d in dirs if d not in SKIP and not d.startswith("."))
        if len(rel.parts) >= depth:
            dirs[:] = []
        if "flow.dag.yaml" in files or "flow.dag.yml" in files:
            found.append(str(rel) if str(rel) != "." else ".")
    return found


def flow_picker(current: Path | None) -> Path | None:
    """The flow to edit: the current one, another typed or found under the working folder, or a new one."""
    top = st.columns([5, 2, 1], vertical_alignment="bottom")
    found = flows_under(str(Path.cwd()))
    shown = str(current) if current else ""
    options = list(dict.fromkeys([*([shown] if shown else []), *found]))
    choice = top[0].selectbox("Flow folder", options, index=0 if shown else None, key=f"pfl_flow_pick/{shown}",
                              accept_new_options=True, placeholder="type a path or pick a flow found here",
                              help=f"flows found under {Path.cwd()} are listed; any folder path can be typed")
    with top[1].popover("New flow", icon=":material/add:", width="stretch", key=NEW_FLOW_POPOVER, on_change="rerun"):
        _new_flow()  # a stateful popover: creating the flow closes it
    if choice and choice != shown:
        folder = (Path.cwd() / choice).resolve() if not Path(choice).is_absolute() else Path(choice)
        _shell.set_flow(folder)
        state.close()
        st.rerun()
    if current is not None and top[2].button("", icon=":material/refresh:", help="re-read the flow from disk (drops unsaved edits)",
                                             key="pfl_reload_top"):
        state.close()
        st.rerun()
    if current is None:
        st.info("Open a flow folder above, or create one from a template with **＋ New flow**.")
    return current


def _new_flow() -> None:
    from promptflow_lite.flow._new_flow import FLOW_TYPES

    st.radio("Template", FLOW_TYPES, horizontal=True, key="pfl_new_type",
             captions=["prompt + python", "chat with an LLM", "judge lines + metrics"])
    folder = st.text_input("Folder", key="pfl_new_folder", placeholder="my_flow (relative to the working folder)")
    if problem := st.session_state.pop("pfl_new_error", None):
        st.error(problem)
    st.button("Create", type="primary", key="pfl_new_create", disabled=not folder, on_click=_create_flow)


def _create_flow() -> None:
    """Write the chosen template into the folder and open it (the popover closes); an error stays in it."""
    from promptflow_lite.flow._new_flow import init_flow

    folder = Path(st.session_state["pfl_new_folder"])
    target = folder if folder.is_absolute() else Path.cwd() / folder
    try:
        init_flow(target, st.session_state["pfl_new_type"])
    except Exception as exc:  # noqa: BLE001 - an existing folder, no permission...
        st.session_state["pfl_new_error"] = error_text(exc)
        return
    flows_under.clear()
    _shell.set_flow(target)
    state.close()
    st.session_state[NEW_FLOW_POPOVER] = False


def editor(folder: Path) -> None:
    try:
        doc = state.document(folder)
    except Exception as exc:  # noqa: BLE001 - not a flow, broken YAML...
        st.error(error_text(exc))
        return
    _save_bar(doc)
    state.show_messages()
    problems = doc.problems()
    try:
        spec = doc.spec()
    except Exception as exc:  # noqa: BLE001 - no shape to draw: problems say why
        st.error(error_text(exc))
        _without_graph(doc)
        return
    _problem_summary(problems)
    graph = flow_graph(spec)
    counts: dict[str, int] = {}
    for problem in problems:
        counts[problem.node or OUTPUTS] = counts.get(problem.node or OUTPUTS, 0) + 1
    ids = [n.id for n in graph.nodes]
    if state.selected() not in ids:
        state.select(INPUTS)  # a flow opens on its inputs
    left, right = st.columns([3, 2], gap="medium")
    with left:
        _canvas_fragment(graph, counts, (str(doc.folder), doc.version), ids)
        _add_node(doc)
    with right:
        labels = {INPUTS: "Flow inputs", OUTPUTS: "Flow outputs"}
        if st.session_state.get(SELECT_KEY) != state.selected():
            st.session_state[SELECT_KEY] = state.selected()  # a click on the canvas selected another node
        chosen = st.selectbox("Selected node", ids, key=SELECT_KEY, format_func=lambda i: labels.get(i, i),
                              placeholder="click a node on the canvas",
                              on_change=lambda: state.select(st.session_state[SELECT_KEY]))
        if chosen:
            _inspector.show(doc, chosen, problems)
        else:
            st.caption("Select a node on the canvas (or above) to edit it. The **Inputs** and **Outputs** boxes "
                       "edit the flow's inputs and outputs.")
    st.divider()
    st.subheader("Test")
    _testpanel.show(folder, spec, doc.dirty)


@st.fragment
def _canvas_fragment(graph, counts: dict[str, int], version: tuple[str, int], ids: list[str]) -> None:
    """The canvas reruns alone on its own events (moves, the component's first report); a click on another
    node reruns the whole page so the inspector follows."""
    clicked = _canvas.show(graph, counts, state.selected(), version)
    if clicked and clicked in ids and clicked != state.selected():
        state.select(clicked)
        st.rerun(scope="app")


def _without_graph(doc: FlowDocument) -> None:
    """A flow too broken to draw: its inputs and outputs stay editable, the rest is shown as YAML."""
    left, right = st.columns(2, gap="medium")
    with left:
        _inspector.show(doc, INPUTS, [])
    with right:
        _inspector.show(doc, OUTPUTS, [])
    with st.expander("flow.dag.yaml (fix node problems in a text editor, then reload)"):
        st.code(doc.yaml_text(), language="yaml", line_numbers=True)


def _save_bar(doc: FlowDocument) -> None:
    changed = doc.changed_files()
    on_disk = doc.changed_on_disk()
    cols = st.columns([6, 1.2, 1.2], vertical_alignment="center")
    names = ", ".join(p.relative_to(doc.folder).as_posix() for p in changed)
    status = f"● unsaved: {names}" if changed else "✓ saved"
    cols[0].markdown(f"### {doc.folder.name}  <span class='pfl-muted'>{status}</span>", unsafe_allow_html=True)
    if cols[1].button("Save", icon=":material/save:", type="primary", disabled=not changed, key="pfl_save", width="stretch"):
        try:
            written = doc.save()
        except FlowChangedOnDisk as exc:
            state.message("error", str(exc))
        except Exception as exc:  # noqa: BLE001
            state.message("error", error_text(exc))
        else:
            note = "" if doc.faithful else " (the flow file had to be rewritten whole)"
            state.message("success", f"Saved {', '.join(p.name for p in written)}{note}.")
            _check_tools(doc)
        st.rerun()
    if cols[2].button("Discard", disabled=not changed, key="pfl_discard", width="stretch"):
        doc.reload()
        state.bump()
        st.rerun()
    if on_disk:
        warn = st.columns([6, 2], vertical_alignment="center")
        warn[0].warning("Changed on disk since you opened it: "
                        + ", ".join(p.relative_to(doc.folder).as_posix() if p.is_relative_to(doc.folder) else str(p)
                                    for p in on_disk)
                        + ". Saving is refused until you reload (your unsaved edits are dropped).")
        if warn[1].button("Reload from disk", key="pfl_reload", width="stretch"):
            doc.reload()
            state.bump()
            st.rerun()


def _check_tools(doc: FlowDocument) -> None:
    """After a save, what only ``pfl flow validate`` finds (it loads each python tool, running its code)."""
    from promptflow_lite.engine._validate import tool_problems
    from promptflow_lite.flow._validate import find_problems

    shown = {str(p) for p in doc.problems()}
    try:
        found = find_problems(doc.spec(), check_tool=tool_problems)
    except Exception as exc:  # noqa: BLE001
        state.message("warning", error_text(exc))
        return
    for problem in found:
        if str(problem) not in shown:
            state.message("warning", f"**{problem.node or 'flow'}**: {problem.message}"
                          + (f" *Fix: {problem.hint}*" if problem.hint else ""))


def _problem_summary(problems: list) -> None:
    if not problems:
        st.caption(":material/check_circle: No problems found (same checks as `pfl flow validate`).")
        return
    with st.expander(f":material/warning: {len(problems)} problem{'s' if len(problems) > 1 else ''} "
                     f"(as `pfl flow validate` reports them)", expanded=len(problems) <= 3):
        for problem in problems:
            where = f"**{problem.node}**: " if problem.node else ""
            st.markdown(f"- {where}{problem.message}" + (f" *Fix: {problem.hint}*" if problem.hint else ""))


def _add_node(doc: FlowDocument) -> None:
    with st.popover("Add node", icon=":material/add:", key=ADD_NODE_POPOVER, on_change="rerun"):
        _add_node_form(doc)  # a stateful popover: adding the node closes it


def _add_node_form(doc: FlowDocument) -> None:
    """Type, name and first input of a new node; adding it closes the popover and selects it."""
    kind = st.radio("Type", ["python", "llm", "prompt"], horizontal=True, key="pfl_add_type")
    name = st.text_input("Name", key="pfl_add_name", placeholder="e.g. summarize")
    first = st.selectbox("First input (optional)", editing.reference_choices(doc), index=None,
                         key="pfl_add_input", help="wired as the node's input; add more in its Inputs tab")

    def add() -> None:
        name, first = st.session_state["pfl_add_name"], st.session_state["pfl_add_input"]
        inputs = {}
        if first:
            inputs[first.strip("${}").split(".")[-1] if first.startswith("${inputs.")
                   else first[2:].split(".")[0]] = first
        if state.edit(lambda: editing.add_node(doc, name, kind, inputs=inputs), structural=True):
            st.session_state[ADD_NODE_POPOVER] = False
            state.select(name)
            state.message("success", f"Added {kind} node {name}; its source file is written when you save.")

    st.button("Add node", type="primary", key="pfl_add_go", disabled=not name, on_click=add)
