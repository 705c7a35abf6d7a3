"""Traces: the trace list (filters, live updates); ``?trace=ID`` (older links) opens ``/trace``."""

import streamlit as st

from promptflow_lite.ui import _shell, _traces_list
from promptflow_lite.ui._runs_common import guard

if st.query_params.get("trace"):
    _shell.open_page("trace", trace=st.query_params["trace"])
guard(_traces_list.show)
