"""One trace (``/trace?trace=ID``): its tree, waterfall and chat; without a trace, the trace list."""

import streamlit as st

from promptflow_lite.ui import _shell
from promptflow_lite.ui._runs_common import guard

trace = st.query_params.get("trace")
if not trace:
    _shell.open_page("traces")
from promptflow_lite.ui import _traces_detail

guard(lambda: _traces_detail.show(trace))
