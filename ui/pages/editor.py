"""Flow editor: open or create a flow, see its DAG, edit nodes, inputs, outputs and variants, validate,
save (byte-faithful) and test it."""

import streamlit as st

from promptflow_lite.ui import _editor_page as page
from promptflow_lite.ui import _shell
from promptflow_lite.ui._widgets import page_style

page_style()
folder = page.flow_picker(_shell.current_flow())
if folder is not None:
    page.editor(folder)
