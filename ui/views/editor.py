"""Flow editor: open or create a flow, see its DAG, edit nodes, inputs, outputs and variants, validate,
save (byte-faithful) and test it."""

from promptflow_lite.ui import _editor_page as page
from promptflow_lite.ui import _shell

folder = page.flow_picker(_shell.current_flow())
if folder is not None:
    page.editor(folder)
