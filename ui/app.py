"""The Streamlit entry of ``pfl ui``: page config, the sidebar and navigation over ``pages/``."""

import streamlit as st

from promptflow_lite.ui import _shell

st.set_page_config(page_title="promptflow_lite", page_icon="🌊", layout="wide")
page = st.navigation(_shell.pages())
_shell.sidebar()
page.run()
