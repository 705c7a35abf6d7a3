"""Traces: the trace list (filters, live updates); older links open one trace (``?trace=ID`` → ``/trace``) or
one run's traces (``?run=NAME`` → ``/run_traces``)."""

import streamlit as st

from promptflow_lite.ui import _shell, _traces_list
from promptflow_lite.ui._runs_common import guard

if st.query_params.get("trace"):
    _shell.open_page("trace", trace=st.query_params["trace"])
if st.query_params.get("run"):
    _shell.open_page("run_traces", run=st.query_params["run"])
guard(_traces_list.show)
