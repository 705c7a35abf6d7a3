"""New evaluation: ``pfl eval`` from the browser, in the background; ``?evaluation=NAME`` shows its progress."""

import streamlit as st

from promptflow_lite.ui._runs_common import guard

evaluation = st.query_params.get("evaluation")
if evaluation:
    from promptflow_lite.ui import _evaluate_progress

    guard(lambda: _evaluate_progress.show(evaluation))
else:
    from promptflow_lite.ui import _evaluate_form, _evaluate_progress

    guard(_evaluate_form.show)
    guard(_evaluate_progress.past_evaluations)
