"""The Streamlit entry of ``pfl ui``: page config, the sidebar and navigation over ``views/``."""

import streamlit as st

from promptflow_lite.ui import _shell
from promptflow_lite.ui._widgets import page_style

st.set_page_config(page_title="promptflow_lite", page_icon="🌊", layout="wide")
page_style()
page = st.navigation(_shell.pages())
_shell.sidebar()
page.run()
