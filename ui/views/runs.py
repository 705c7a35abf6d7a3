"""Runs: every run of PFL_HOME (filter, search, archive, delete); ``?run=NAME`` opens one run and its lines."""

import streamlit as st

from promptflow_lite.ui._runs_common import guard

run = st.query_params.get("run")
if run:
    from promptflow_lite.ui import _runs_detail

    guard(lambda: _runs_detail.show(run))
else:
    from promptflow_lite.ui import _runs_list

    guard(_runs_list.show)
