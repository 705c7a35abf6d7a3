"""A flow as a drawable graph: boxes for the flow inputs, each node and the flow outputs; edges from
references (``activate`` conditions as their own kind); a layered top-to-bottom layout.

Plain data, computed from a ``FlowSpec`` without a browser, so a canvas only has to draw it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from promptflow_lite.flow._model import FlowSpec, Node
from promptflow_lite.flow._reference import InputRef, NodeRef, parse_reference

INPUTS, OUTPUTS = "inputs", "outputs"  # ids of the two flow boxes (node names cannot take them)
LAYER_GAP, SLOT_WIDTH = 150, 260  # pixels between layers, between boxes of a layer


@dataclass
class GraphNode:
    """One box: ``kind`` is inputs, outputs, python, llm, prompt, custom_llm or unknown."""

    id: str
    kind: str
    label: str
    aggregation: bool = False
    variants: list[str] = field(default_factory=list)
    default_variant: str | None = None
    activate: str | None = None  # "when is value"
    source: str | None = None
    items: list[str] = field(default_factory=list)  # the names in a flow inputs/outputs box
    layer: int = 0
    x: float = 0.0
    y: float = 0.0


@dataclass
class GraphEdge:
    """``source`` feeds ``target`` (``labels``: the inputs it feeds); ``kind`` is data or activate."""

    source: str
    target: str
    labels: list[str]
    kind: str = "data"

    @property
    def id(self) -> str:
        return f"{self.source}->{self.target}:{self.kind}"


@dataclass
class FlowGraph:
    nodes: list[GraphNode]
    edges: list[GraphEdge]

    def node(self, node_id: str) -> GraphNode | None:
        return next((n for n in self.nodes if n.id == node_id), None)


def flow_graph(spec: FlowSpec) -> FlowGraph:
    """The graph of ``spec``; a ``use_variants`` node shows its default variant's type and the references
    of all its variants."""
    names = {n.name for n in spec.nodes}
    boxes = [GraphNode(INPUTS, INPUTS, "Inputs", items=list(spec.inputs))]
    edges: dict[tuple[str, str, str], GraphEdge] = {}

    def link(source: str, target: str, label: str, kind: str) -> None:
        edge = edges.setdefault((source, target, kind), GraphEdge(source, target, [], kind))
        if label not in edge.labels:
            edge.labels.append(label)

    for node in spec.nodes:
        shapes = _shapes(spec, node)
        main = shapes[0]
        entry = spec.node_variants.get(node.name) if node.use_variants else None
        activate = None
        if main.activate is not None:
            activate = f"{main.activate.when} is {main.activate.is_!r}"
        boxes.append(GraphNode(
            node.name, main.type if main.type in ("python", "llm", "prompt", "custom_llm") else "unknown", node.name,
            aggregation=main.aggregation, activate=activate,
            variants=list(entry.variants) if entry else [], default_variant=entry.default_variant_id if entry else None,
            source=(main.source.path or main.source.tool) if main.source else None))
        for shape in shapes:
            for key, ref in shape.input_refs().items():
                source = _source_box(ref, names)
                if source:
                    link(source, node.name, key, "data")
            if shape.activate_ref is not None:
                source = _source_box(shape.activate_ref, names)
                if source:
                    link(source, node.name, "activate", "activate")
    boxes.append(GraphNode(OUTPUTS, OUTPUTS, "Outputs", items=list(spec.outputs)))
    for name, output in spec.outputs.items():
        source = _source_box(parse_reference(output.reference), names)
        if source:
            link(source, OUTPUTS, name, "data")
    graph = FlowGraph(boxes, list(edges.values()))
    layout(graph)
    return graph


def _shapes(spec: FlowSpec, node: Node) -> list[Node]:
    """The node as it runs: itself, or each of its variants (default first)."""
    entry = spec.node_variants.get(node.name) if node.use_variants else None
    if not entry or not entry.variants:
        return [node]
    ids = sorted(entry.variants, key=lambda v: v != entry.default_variant_id)
    shapes = []
    for vid in ids:
        try:
            shapes.append(Node.model_validate({**entry.variants[vid].node, "name": node.name}))
        except Exception:  # a broken variant is the validator's to report
            continue
    return shapes or [node]


def _source_box(ref, names: set[str]) -> str | None:
    if isinstance(ref, InputRef):
        return INPUTS
    if isinstance(ref, NodeRef) and ref.node in names:
        return ref.node
    return None


def layout(graph: FlowGraph) -> None:
    """Layers by longest path from the inputs (outputs last), then order inside a layer by the mean
    position of the parents (a few sweeps, fewer crossings); sets ``layer``, ``x`` and ``y``."""
    parents: dict[str, list[str]] = {n.id: [] for n in graph.nodes}
    for edge in graph.edges:
        if edge.source != edge.target:
            parents[edge.target].append(edge.source)
    layer: dict[str, int] = {}

    def depth(node_id: str, visiting: frozenset = frozenset()) -> int:
        if node_id in layer:
            return layer[node_id]
        if node_id == INPUTS:
            return 0
        above = [depth(p, visiting | {node_id}) for p in parents[node_id] if p not in visiting | {node_id}]
        layer[node_id] = 1 + max(above, default=0)
        return layer[node_id]

    for node in graph.nodes:
        node.layer = depth(node.id) if node.id != OUTPUTS else 0
    last = max((n.layer for n in graph.nodes if n.id != OUTPUTS), default=0)
    graph.node(OUTPUTS).layer = last + 1
    rows: dict[int, list[GraphNode]] = {}
    for node in graph.nodes:
        rows.setdefault(node.layer, []).append(node)
    position = {n.id: float(i) for row in rows.values() for i, n in enumerate(row)}
    for _ in range(4):
        for index in sorted(rows):
            row = rows[index]
            row.sort(key=lambda n: (sum(position[p] for p in parents[n.id]) / len(parents[n.id]))
                     if parents[n.id] else position[n.id])
            for i, n in enumerate(row):
                position[n.id] = i - (len(row) - 1) / 2
    for index, row in rows.items():
        for n in row:
            n.x, n.y = position[n.id] * SLOT_WIDTH, index * LAYER_GAP
