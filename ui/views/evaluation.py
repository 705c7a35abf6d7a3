"""One evaluation started from the app (``/evaluation?evaluation=NAME``): a progress bar per run, then the
comparison; without a name, the New evaluation form."""

import streamlit as st

from promptflow_lite.ui import _shell
from promptflow_lite.ui._runs_common import guard

evaluation = st.query_params.get("evaluation")
if not evaluation:
    _shell.open_page("evaluate")
from promptflow_lite.ui import _evaluate_progress

guard(lambda: _evaluate_progress.show(evaluation))
