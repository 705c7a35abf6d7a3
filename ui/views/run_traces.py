"""The traces of one run (``/run_traces?run=NAME``): the trace list with its Run filter set; without a run, the
whole list."""

import streamlit as st

from promptflow_lite.ui import _shell, _traces_list
from promptflow_lite.ui._runs_common import guard

if not st.query_params.get("run"):
    _shell.open_page("traces")
guard(_traces_list.show)
