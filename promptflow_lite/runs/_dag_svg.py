"""A DAG flow drawn as an inline SVG for the run report: inputs on top, nodes in dependency layers, outputs below.

Each node box shows its name and a short summary line (the run's per-node figures); an arrow joins a
node to every node (or the outputs) that reads it, dashed when it only gates an ``activate`` condition;
an arrow that skips layers swings out to the right so it never hides behind a box.
Plain SVG, no script: every name is XML-escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any

from promptflow_lite.flow._model import FlowSpec
from promptflow_lite.flow._reference import InputRef, NodeRef

BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 190, 48, 24, 46, 12
BEND, BEND_STEP = 34, 16  # how far an arrow that skips layers swings out, and the extra per such arrow
INPUTS, OUTPUTS = "__inputs__", "__outputs__"


def layers(spec: FlowSpec) -> list[list[str]]:
    """Node names by layer: 0 holds the flow inputs, then each node one below its deepest dependency,
    the outputs last. Aggregation nodes come after every line node."""
    nodes = {node.name: node for node in spec.nodes}
    depth: dict[str, int] = {}

    def level(name: str, seen: tuple[str, ...] = ()) -> int:
        if name in depth:
            return depth[name]
        if name in seen:  # a cycle (validation reports it): draw it anyway
            return 1
        deps = [d for d in nodes[name].node_dependencies() if d in nodes]
        depth[name] = 1 + max((level(d, seen + (name,)) for d in deps), default=0)
        return depth[name]

    for name in nodes:
        level(name)
    line_nodes = [n for n in nodes if not nodes[n].aggregation]
    deepest = max((depth[n] for n in line_nodes), default=0)
    for name in nodes:
        if nodes[name].aggregation:
            depth[name] = max(depth[name], deepest + 1)
    count = max(depth.values(), default=0)
    grouped: list[list[str]] = [[INPUTS]] + [[] for _ in range(count)] + [[OUTPUTS]]
    for name in nodes:  # YAML order within a layer
        grouped[depth[name]].append(name)
    return [layer for layer in grouped if layer]


def edges(spec: FlowSpec) -> list[tuple[str, str, bool]]:
    """``(from, to, dashed)`` pairs: data references solid, activate conditions dashed."""
    found: dict[tuple[str, str], bool] = {}
    for node in spec.nodes:
        for ref in node.input_refs().values():
            found[(_source(ref), node.name)] = False
        if node.activate_ref is not None:
            found.setdefault((_source(node.activate_ref), node.name), True)
    for output in spec.outputs.values():
        ref = output.ref
        if ref is not None:
            found[(_source(ref), OUTPUTS)] = False
    return [(a, b, dashed) for (a, b), dashed in found.items() if a is not None]


def _source(ref: Any) -> str | None:
    if isinstance(ref, InputRef):
        return INPUTS
    if isinstance(ref, NodeRef):
        return ref.node
    return None


def render_svg(spec: FlowSpec, summaries: dict[str, str] | None = None) -> str:
    """The SVG drawing; ``summaries`` gives each node box its second line (e.g. ``python · 12 ms``)."""
    summaries = summaries or {}
    grouped = layers(spec)
    row_of = {name: row for row, layer in enumerate(grouped) for name in layer}
    links = [(a, b, dashed) for a, b, dashed in edges(spec) if a in row_of and b in row_of]
    long_links = [link for link in links if row_of[link[1]] - row_of[link[0]] > 1]
    widest = max(len(layer) for layer in grouped)
    body = widest * BOX_W + (widest - 1) * GAP_X
    width = MARGIN * 2 + body + (BEND + BEND_STEP * len(long_links) if long_links else 0)
    height = MARGIN * 2 + len(grouped) * BOX_H + (len(grouped) - 1) * GAP_Y
    where: dict[str, tuple[float, float]] = {}
    for row, layer in enumerate(grouped):
        used = len(layer) * BOX_W + (len(layer) - 1) * GAP_X
        left = MARGIN + (body - used) / 2
        for column, name in enumerate(layer):
            where[name] = (left + column * (BOX_W + GAP_X), MARGIN + row * (BOX_H + GAP_Y))
    types = {node.name: node.type or "python" for node in spec.nodes}
    aggregation = {node.name for node in spec.nodes if node.aggregation}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="dag" width="{width:.0f}" height="{height:.0f}" '
             f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="flow graph">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#8a8f98"/></marker></defs>']
    for source, target, dashed in links:
        (x1, y1), (x2, y2) = where[source], where[target]
        dash = ' stroke-dasharray="5 4"' if dashed else ""
        style = f' stroke="#8a8f98" stroke-width="1.4" fill="none"{dash} marker-end="url(#arrow)"'
        if (source, target, dashed) in long_links:  # skips a layer: swing out to the right of the boxes
            bend = BEND + BEND_STEP * long_links.index((source, target, dashed))
            start, end = (x1 + BOX_W, y1 + BOX_H / 2), (x2 + BOX_W + 2, y2 + BOX_H / 2)
            parts.append(f'<path d="M {start[0]:.0f} {start[1]:.0f} C {start[0] + bend:.0f} {start[1]:.0f}, '
                         f'{end[0] + bend:.0f} {end[1]:.0f}, {end[0]:.0f} {end[1]:.0f}"{style}/>')
        else:
            parts.append(f'<line x1="{x1 + BOX_W / 2:.0f}" y1="{y1 + BOX_H:.0f}" x2="{x2 + BOX_W / 2:.0f}" '
                         f'y2="{y2 - 2:.0f}"{style}/>')
    for name, (x, y) in where.items():
        if name in (INPUTS, OUTPUTS):
            label = "inputs" if name == INPUTS else "outputs"
            names = list(spec.inputs if name == INPUTS else spec.outputs)
            detail = ", ".join(names) or "none"
            kind = "io"
        else:
            label, detail = name, summaries.get(name, types[name])
            kind = "aggregation" if name in aggregation else types[name]
        parts.append(f'<g class="box {escape(kind)}"><title>{escape(label)}: {escape(detail)}</title>'
                     f'<rect x="{x:.0f}" y="{y:.0f}" width="{BOX_W}" height="{BOX_H}" rx="7"/>'
                     f'<text x="{x + BOX_W / 2:.0f}" y="{y + 20:.0f}" class="name">{escape(_fit(label, 24))}</text>'
                     f'<text x="{x + BOX_W / 2:.0f}" y="{y + 37:.0f}" class="detail">{escape(_fit(detail, 30))}</text>'
                     '</g>')
    parts.append("</svg>")
    return "".join(parts)


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
