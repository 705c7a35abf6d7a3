"""Flow editor: open a flow and see its DAG (the full editor grows here)."""

import streamlit as st

from promptflow_lite.ui import _shell

st.title("Flow editor")
flow = _shell.current_flow()
path = st.text_input("Flow folder", value=str(flow or ""), key="flow_path")
if path and path != str(flow or ""):
    _shell.set_flow(path)
    st.rerun()
if flow is not None:
    from promptflow_lite.flow._loader import load_dag

    spec = load_dag(flow)
    for node in spec.nodes:
        st.write(f"**{node.name}** · {node.type}")
