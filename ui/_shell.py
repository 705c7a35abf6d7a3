"""What every page of the app shares: the page list, the current flow, the sidebar and cross-page links.

Every page has its own path, and query parameters open it on one thing: ``/editor?flow=PATH``, ``/run?run=NAME``,
``/compare?runs=A,B``, ``/trace?trace=ID``, ``/run_traces?run=NAME``, ``/evaluation?evaluation=NAME``; the root
``/`` opens the editor with the same parameters (``/?flow=PATH`` is ``/editor?flow=PATH``). One run, one trace,
one run's traces and one evaluation are hidden pages of their own, so the sidebar's "Runs", "Traces" and "New
evaluation" always lead to the lists and the form (Streamlit keeps the query parameters when the link of the page
one is on is clicked); the older ``/runs?run=``, ``/traces?trace=``, ``/traces?run=`` and ``/evaluate?evaluation=``
still work.
From Python: ``page_link("trace", "Open trace", trace=trace_id)``; a page reads its parameter with
``st.query_params.get("trace")``.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from promptflow_lite.home import pfl_home
from promptflow_lite.ui import VIEWS

# (file in views/, title, icon), in navigation order; a page is listed only when its file exists
PAGES = (
    ("editor.py", "Flow editor", ":material/account_tree:"),
    ("runs.py", "Runs", ":material/list_alt:"),
    ("evaluate.py", "New evaluation", ":material/science:"),
    ("compare.py", "Compare", ":material/compare_arrows:"),
    ("traces.py", "Traces", ":material/timeline:"),
)
# the pages of one thing, outside the navigation: (file in views/, title, icon)
DETAILS = (
    ("run.py", "Run", ":material/list_alt:"),
    ("trace.py", "Trace", ":material/timeline:"),
    ("run_traces.py", "Traces of a run", ":material/timeline:"),
    ("evaluation.py", "Evaluation", ":material/science:"),
)
FLOW_ENV = "PFL_UI_FLOW"  # set by ``pfl ui --flow DIR``: the flow the editor opens first
_FLOW_KEY = "pfl_flow"


def pages() -> list:
    """The ``st.Page`` objects of the pages that exist, each at its own path (``/editor``, ``/runs``...), the hidden
    pages of one thing (:data:`DETAILS`), and a hidden default page at ``/`` that opens the first of them with the same
    query parameters.

    (Streamlit serves its default page at ``/`` only, so the editor is not the default: ``/editor`` works too.)"""
    views = [st.Page(VIEWS / file, title=title, icon=icon, url_path=Path(file).stem)
             for file, title, icon in PAGES if (VIEWS / file).is_file()]

    def open_first_page() -> None:
        st.switch_page(views[0], query_params={key: st.query_params.get_all(key) for key in st.query_params})

    details = [st.Page(VIEWS / file, title=title, icon=icon, url_path=Path(file).stem, visibility="hidden")
               for file, title, icon in DETAILS if (VIEWS / file).is_file()]
    return [st.Page(open_first_page, title="promptflow_lite", url_path="start", default=True, visibility="hidden"),
            *views, *details]


def page_exists(page: str) -> bool:
    return (VIEWS / f"{page}.py").is_file()


def page_link(page: str, label: str, *, icon: str | None = None, **params: str) -> None:
    """A link to ``page`` (``"traces"``, ``"runs"``...) opening it with ``params`` as query parameters.

    Shows the label as plain text when that page is not part of this app."""
    if page_exists(page):
        st.page_link(VIEWS / f"{page}.py", label=label, icon=icon, query_params=params or None)
    else:
        st.caption(label)


def open_page(page: str, **params: str) -> None:
    """Go to ``page`` (``"run"``, ``"runs"``...) now, opening it with ``params`` as query parameters."""
    st.switch_page(VIEWS / f"{page}.py", query_params={k: v for k, v in params.items() if v not in (None, "")})


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
