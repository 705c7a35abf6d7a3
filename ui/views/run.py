"""One run (``/run?run=NAME``): its figures, lines and actions; without a run, the run list."""

import streamlit as st

from promptflow_lite.ui import _shell
from promptflow_lite.ui._runs_common import guard

run = st.query_params.get("run")
if not run:
    _shell.open_page("runs")
from promptflow_lite.ui import _runs_detail

guard(lambda: _runs_detail.show(run))
