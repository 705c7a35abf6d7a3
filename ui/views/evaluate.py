"""New evaluation: ``pfl eval`` from the browser, in the background, and the evaluations started from here;
``?evaluation=NAME`` (older links) opens ``/evaluation``."""

import streamlit as st

from promptflow_lite.ui import _evaluate_form, _evaluate_progress, _shell
from promptflow_lite.ui._runs_common import guard

if st.query_params.get("evaluation"):
    _shell.open_page("evaluation", evaluation=st.query_params["evaluation"])
guard(_evaluate_form.show)
guard(_evaluate_progress.past_evaluations)
