"""What every page of the app shares: the page list, the current flow, the sidebar and cross-page links.

Cross-page links carry query parameters, so any page can be opened on one thing:
``/?flow=PATH`` (the editor, the default page, on a flow folder), ``/runs?run=NAME``, ``/compare?run=A&run=B``,
``/traces?trace=ID``.
From Python: ``page_link("traces", "Open trace", trace=trace_id)``; a page reads its parameter with
``st.query_params.get("trace")``.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from promptflow_lite.home import pfl_home
from promptflow_lite.ui import PAGES as PAGES_DIR

# (file in pages/, title, icon), in navigation order; a page is listed only when its file exists
PAGES = (
    ("editor.py", "Flow editor", ":material/account_tree:"),
    ("runs.py", "Runs", ":material/list_alt:"),
    ("evaluate.py", "New evaluation", ":material/science:"),
    ("compare.py", "Compare", ":material/compare_arrows:"),
    ("traces.py", "Traces", ":material/timeline:"),
)
FLOW_ENV = "PFL_UI_FLOW"  # set by ``pfl ui --flow DIR``: the flow the editor opens first
_FLOW_KEY = "pfl_flow"


def pages() -> list:
    """The ``st.Page`` objects of the pages that exist, the first one the default."""
    found = [(PAGES_DIR / file, title, icon) for file, title, icon in PAGES if (PAGES_DIR / file).is_file()]
    return [st.Page(path, title=title, icon=icon, url_path=path.stem, default=index == 0)
            for index, (path, title, icon) in enumerate(found)]


def page_exists(page: str) -> bool:
    return (PAGES_DIR / f"{page}.py").is_file()


def page_link(page: str, label: str, *, icon: str | None = None, **params: str) -> None:
    """A link to ``page`` (``"traces"``, ``"runs"``...) opening it with ``params`` as query parameters.

    Shows the label as plain text when that page is not part of this app."""
    if page_exists(page):
        st.page_link(PAGES_DIR / f"{page}.py", label=label, icon=icon, query_params=params or None)
    else:
        st.caption(label)


def current_flow() -> Path | None:
    """The flow folder the user works on: chosen in the app, else ``?flow=``, else ``pfl ui --flow``."""
    if _FLOW_KEY not in st.session_state:
        given = st.query_params.get("flow") or os.environ.get(FLOW_ENV)
        st.session_state[_FLOW_KEY] = str(Path(given).expanduser().resolve()) if given else None
    value = st.session_state[_FLOW_KEY]
    return Path(value) if value else None


def set_flow(folder: Path | str | None) -> None:
    """Make ``folder`` the current flow (every page sees it)."""
    st.session_state[_FLOW_KEY] = str(Path(folder).resolve()) if folder else None


def sidebar() -> None:
    """PFL_HOME and the current flow, under the navigation."""
    flow = current_flow()
    with st.sidebar:
        st.caption(f"**Flow** `{_short(flow) if flow else 'none'}`")
        st.caption(f"**PFL_HOME** `{_short(pfl_home())}`")


def _short(path: Path) -> str:
    """``~/x`` for paths under the home folder, else the path; for display only."""
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)
