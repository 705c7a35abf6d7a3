"""Variant grids: every combination of the chosen variants of several nodes, and what combinations share.

``grid_selectors(flow, wanted)`` turns ``--grid`` / ``--variants 'summarize.*,answer.*'`` into run
selectors, one per combination (node A × node B × …, the flow's defaults first):
``${summarize.variant_1},${answer.variant_0}``, labelled ``summarize=variant_1,answer=variant_0``
by :func:`combination_label`. :func:`sharing_keys` says, for each node of each selector, which
variant choices its result depends on (its own and its ancestors'): selectors that agree on a
node's key compute the same thing on a line, so they can share it.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Sequence

from promptflow_lite.errors import UserError

#: A node's sharing key: the (variant node, variant id) pairs among the node and its ancestors.
SharingKey = tuple[tuple[str, str], ...]


def combination_label(selector: str) -> str:
    """``${a.v1},${b.v0}`` → ``a=v1,b=v0``."""
    from promptflow_lite.flow._variants import parse_variants

    return ",".join(f"{node}={variant_id}" for node, variant_id in parse_variants(selector).items())


def is_combination(selector: str | None) -> bool:
    from promptflow_lite.flow._variants import parse_variants

    return bool(selector) and len(parse_variants(selector)) > 1


def grid_selectors(flow: Path, wanted: str | None) -> list[str]:
    """One selector per combination of the chosen variants, the flow's defaults first.

    ``wanted``: None or ``all`` (every variant of every variant node), or a comma list of
    ``node.*`` (all of a node's variants), ``node.id``, ``${node.id}`` or a bare id when only one
    node has it. Nodes not named keep their default variant and are not part of the grid.
    """
    spec, file = _dag(flow)
    options = _chosen_options(spec, wanted, file)
    nodes = list(options)
    combos = [dict(zip(nodes, ids)) for ids in itertools.product(*(options[n] for n in nodes))]
    from promptflow_lite.flow._variants import variant_selector

    return [variant_selector(choices) for choices in combos]


def dependencies(flow: Path, selectors: Sequence[str | None]) -> dict[str | None, dict[str, set[str]]]:
    """``deps[selector][node]``: the line nodes ``node`` waits for in that selector's flow (empty: not a DAG)."""
    from promptflow_lite.flow._loader import flow_kind, load_dag, resolve_flow_path
    from promptflow_lite.flow._variants import apply_variant

    file, _ = resolve_flow_path(flow)
    if flow_kind(file) != "dag":
        return {selector: {} for selector in selectors}
    spec = load_dag(file)
    found = {}
    for selector in selectors:
        nodes = {n.name: n for n in apply_variant(spec, selector).nodes if not n.aggregation}
        found[selector] = {name: node.node_dependencies() & nodes.keys() for name, node in nodes.items()}
    return found


def sharing_keys(flow: Path, selectors: Sequence[str | None]) -> dict[str | None, dict[str, SharingKey]]:
    """``keys[selector][node]``: the variant choices among ``node`` and its ancestors in that selector's flow."""
    from promptflow_lite.flow._loader import load_dag, resolve_flow_path
    from promptflow_lite.flow._variants import variant_choices

    graphs = dependencies(flow, selectors)
    if not any(graphs.values()):
        return {selector: {} for selector in selectors}
    spec = load_dag(resolve_flow_path(flow)[0])
    varied = [n.name for n in spec.nodes if n.use_variants]
    keys: dict[str | None, dict[str, SharingKey]] = {}
    for selector, graph in graphs.items():
        choices = variant_choices(spec, selector)
        ancestry: dict[str, set[str]] = {}

        def ancestors(name: str) -> set[str]:
            if name not in ancestry:
                ancestry[name] = {name}  # also guards against a cycle (validation reports those)
                for dep in graph[name]:
                    ancestry[name] |= ancestors(dep)
            return ancestry[name]

        keys[selector] = {name: tuple((v, choices[v]) for v in varied if v in ancestors(name)) for name in graph}
    return keys


def _dag(flow: Path):
    from promptflow_lite.flow._loader import flow_kind, load_dag, resolve_flow_path

    file, _ = resolve_flow_path(flow)
    if flow_kind(file) != "dag":
        raise UserError("A variant grid needs a DAG flow with node variants.", file=str(file),
                        hint="drop --grid (flex flows and prompties have no node variants).")
    return load_dag(file), file


def _chosen_options(spec, wanted: str | None, file: Path) -> dict[str, list[str]]:
    """Node → the variant ids chosen for it (default first), in the flow's node order."""
    every = {n.name: _ids(spec, n.name) for n in spec.nodes if n.use_variants and n.name in spec.node_variants}
    if not every:
        raise UserError("The flow has no node variants, so there is no grid to evaluate.", file=str(file),
                        hint="drop --grid, or add node_variants to the flow.")
    if not wanted or wanted.strip() == "all":
        return every
    chosen: dict[str, list[str]] = {}
    for item in (part.strip() for part in wanted.split(",") if part.strip()):
        bare = item[2:-1] if item.startswith("${") and item.endswith("}") else item
        node, _, variant_id = bare.rpartition(".")
        if node and node not in every:
            raise UserError(f"--variants: '{item}' names node '{node}', which has no variants.", file=str(file),
                            hint=f"nodes with variants: {', '.join(every)}.")
        if variant_id == "*":
            picked = [(node, v) for v in every[node]]
        else:
            picked = [(n, variant_id) for n in ([node] if node else every) if variant_id in every[n]]
            if len(picked) != 1:
                listed = ", ".join(f"{n}.{v}" for n in every for v in every[n])
                raise UserError(f"--variants: '{item}' is {'ambiguous' if picked else 'not a variant of the flow'}.",
                                file=str(file), hint=f"write NODE.ID or NODE.*; variants: {listed}.")
        for n, v in picked:
            if v not in chosen.setdefault(n, []):
                chosen[n].append(v)
    return {n: sorted(chosen[n], key=every[n].index) for n in every if n in chosen}


def _ids(spec, node: str) -> list[str]:
    entry = spec.node_variants[node]
    return sorted(entry.variants, key=lambda v: (v != entry.default_variant_id, v))
