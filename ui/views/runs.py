"""Runs: every run of PFL_HOME (filter, search, archive, delete); ``?run=NAME`` (older links) opens ``/run``."""

import streamlit as st

from promptflow_lite.ui import _runs_list, _shell
from promptflow_lite.ui._runs_common import guard

if st.query_params.get("run"):
    _shell.open_page("run", run=st.query_params["run"])
guard(_runs_list.show)
