"""The editor's session state: the open ``FlowDocument``, the selected node, edits applied from widget
callbacks (errors kept as a message for the next run) and a generation number for widget keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import streamlit as st

from promptflow_lite.flow._document import FlowDocument
from promptflow_lite.ui._widgets import error_text

DOC, GEN, SELECT, MESSAGES = "pfl_doc", "pfl_gen", "pfl_node", "pfl_messages"


def document(folder: Path) -> FlowDocument:
    """The open document of ``folder`` (opened on first use, kept across reruns)."""
    doc = st.session_state.get(DOC)
    if doc is None or doc.folder != folder:
        doc = FlowDocument(folder)
        st.session_state[DOC] = doc
        st.session_state[SELECT] = None
        bump()
    return doc


def close() -> None:
    st.session_state.pop(DOC, None)


def gen() -> int:
    """Part of every editing widget's key: bumped when the document changes under the widgets."""
    return st.session_state.setdefault(GEN, 0)


def bump() -> None:
    st.session_state[GEN] = gen() + 1


def key(*parts: Any) -> str:
    return "/".join(str(p) for p in (gen(), *parts))


def selected() -> str | None:
    return st.session_state.get(SELECT)


def select(node: str | None) -> None:
    st.session_state[SELECT] = node


def message(kind: str, text: str) -> None:
    """A message for the top of the next run (``kind``: error, warning, success, info)."""
    st.session_state.setdefault(MESSAGES, []).append((kind, text))


def show_messages() -> None:
    for kind, text in st.session_state.pop(MESSAGES, []):
        getattr(st, kind)(text)


def edit(action: Callable[[], Any], *, structural: bool = False, done: str | None = None) -> Any:
    """Apply an edit (from a callback); an error is shown as a message and changes nothing else.
    ``structural`` edits (names, variants, nodes) re-create the editing widgets from the document."""
    try:
        result = action()
    except Exception as exc:  # noqa: BLE001 - shown to the user
        message("error", error_text(exc))
        return None
    if structural:
        bump()
    if done:
        message("success", done)
    return result


def on_change(widget_key: str, apply: Callable[[Any], Any], *, structural: bool = False) -> Callable[[], None]:
    """A callback applying the widget's new value."""
    return lambda: edit(lambda: apply(st.session_state[widget_key]), structural=structural)
