"""Traces: the trace list (filters, live updates); ``?trace=ID`` opens one trace (tree, waterfall, chat)."""

import streamlit as st

from promptflow_lite.ui._runs_common import guard

trace = st.query_params.get("trace")
if trace:
    from promptflow_lite.ui import _traces_detail

    guard(lambda: _traces_detail.show(trace))
else:
    from promptflow_lite.ui import _traces_list

    guard(_traces_list.show)
