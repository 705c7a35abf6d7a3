"""The DAG canvas: the library's ``FlowGraph`` drawn with streamlit-flow (React Flow); a click selects a node."""

from __future__ import annotations

import html

import streamlit as st

from promptflow_lite.flow._graph import FlowGraph, GraphNode

# kind -> (background, accent)
COLORS = {
    "llm": ("#eef4ff", "#2f6fdb"),
    "python": ("#ecf8f0", "#23915a"),
    "prompt": ("#f5efff", "#8250df"),
    "custom_llm": ("#eaf6fb", "#0e7fa6"),
    "inputs": ("#f3f4f6", "#4b5563"),
    "outputs": ("#f3f4f6", "#4b5563"),
    "unknown": ("#fff7ed", "#b45309"),
}
AGGREGATION = ("#fff8e6", "#b7791f")
PROBLEM = "#d93025"
_STATE, _CLICKED = "pfl_canvas", "pfl_canvas_clicked"


def node_html(node: GraphNode, problems: int) -> str:
    """The box of one node: kind, name, variants, condition, source file, problems."""
    background, accent = AGGREGATION if node.aggregation else COLORS.get(node.kind, COLORS["unknown"])
    kind = "aggregation" if node.aggregation else node.kind.replace("_", " ")
    parts = [f'<div style="font-size:10px;letter-spacing:.06em;text-transform:uppercase;color:{accent};'
             f'font-weight:700">{html.escape(kind)}</div>',
             f'<div style="font-weight:600;font-size:14px;color:#111827">{html.escape(node.label)}</div>']
    if node.items:
        parts.append(f'<div style="font-size:11px;color:#4b5563">{html.escape(", ".join(node.items))}</div>')
    if node.source and node.kind not in ("inputs", "outputs"):
        parts.append(f'<div style="font-size:11px;color:#6b7280">{html.escape(node.source)}</div>')
    if node.variants:
        chips = "".join(
            f'<span style="display:inline-block;margin:2px 2px 0 0;padding:0 6px;border-radius:8px;font-size:10px;'
            f'background:{"#fff" if v != node.default_variant else accent};'
            f'color:{accent if v != node.default_variant else "#fff"};border:1px solid {accent}">'
            f'{html.escape(v)}</span>' for v in node.variants)
        parts.append(f"<div>{chips}</div>")
    if node.activate:
        parts.append(f'<div style="font-size:10px;color:#b45309">when {html.escape(node.activate)}</div>')
    if problems:
        parts.append(f'<div style="font-size:11px;color:{PROBLEM};font-weight:600">⚠ {problems} problem'
                     f'{"s" if problems > 1 else ""}</div>')
    return "".join(parts)


def canvas_state(graph: FlowGraph, problems: dict[str, int], selected: str | None):
    """The component's state for ``graph``, ``selected`` highlighted."""
    from streamlit_flow.elements import StreamlitFlowEdge, StreamlitFlowNode
    from streamlit_flow.state import StreamlitFlowState

    nodes = []
    for node in graph.nodes:
        background, accent = AGGREGATION if node.aggregation else COLORS.get(node.kind, COLORS["unknown"])
        border = PROBLEM if problems.get(node.id) else accent
        style = {"background": background, "border": f"{'3px' if node.id == selected else '1.5px'} solid {border}",
                 "borderRadius": "10px", "padding": "6px 10px", "width": "210px", "textAlign": "left",
                 "boxShadow": "0 0 0 4px rgba(47,111,219,.25)" if node.id == selected else "0 1px 2px rgba(0,0,0,.08)"}
        node_type = "input" if node.kind == "inputs" else "output" if node.kind == "outputs" else "default"
        nodes.append(StreamlitFlowNode(node.id, (node.x, node.y), {"content": node_html(node, problems.get(node.id, 0))},
                                       node_type=node_type, selectable=True, draggable=True,
                                       selected=node.id == selected, style=style))
    edges = []
    for edge in graph.edges:
        activate = edge.kind == "activate"
        colour = "#d97706" if activate else "#94a3b8"
        edges.append(StreamlitFlowEdge(
            edge.id, edge.source, edge.target, edge_type="smoothstep",
            marker_end={"type": "arrowclosed", "color": colour},
            label="activate" if activate else ", ".join(edge.labels),
            label_style={"fontSize": "10px", "fill": "#b45309" if activate else "#64748b"},
            label_show_bg=True, label_bg_style={"fill": "#ffffff", "fillOpacity": 0.85},
            style={"stroke": colour, "strokeWidth": 1.5, **({"strokeDasharray": "6 4"} if activate else {})}))
    return StreamlitFlowState(nodes, edges, selected_id=selected)


def show(graph: FlowGraph, problems: dict[str, int], selected: str | None, version: tuple[str, int]) -> str | None:
    """Draw the canvas; returns the id of a node the user just clicked (else None). ``version`` names what is
    drawn (the flow folder and its edit count): the canvas is rebuilt when it or the selection changes."""
    from streamlit_flow import streamlit_flow

    wanted = (version, selected)
    if st.session_state.get(_STATE, (None, None))[0] != wanted:
        st.session_state[_STATE] = (wanted, canvas_state(graph, problems, selected))
        st.session_state[_CLICKED] = selected
    layers = max((n.layer for n in graph.nodes), default=0) + 1
    state = streamlit_flow("pfl_flow_canvas", st.session_state[_STATE][1], height=min(860, max(460, 118 * layers)),
                           fit_view=True, get_node_on_click=True, show_minimap=len(graph.nodes) > 20,
                           hide_watermark=True, min_zoom=0.2)
    clicked = state.selected_id  # the state we built stays the component's input: same args, no extra reruns
    if clicked != st.session_state.get(_CLICKED):
        st.session_state[_CLICKED] = clicked
        return clicked
    return None
