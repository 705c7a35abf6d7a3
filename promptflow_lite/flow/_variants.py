"""Node variants (FLOW_FORMAT §1.9): pick one variant per ``use_variants`` node.

Selecting a variant replaces the whole node with the variant's ``node`` dict plus the
original name. promptflow tunes one node per run (``${node.variant_id}``); here a selector may
also name one variant for each of several nodes (``${summarize.v1},${answer.v0}``, a
combination of a variant grid). Every other ``use_variants`` node takes its ``default_variant_id``.
"""

from __future__ import annotations

import re

from promptflow_lite.errors import UserError

_SELECTOR = re.compile(r"^\$\{([^.]+)\.([^}]+)}$")


class InvalidVariant(UserError):
    """A variant selector or a ``node_variants`` entry is wrong."""


def parse_variant(selector: str) -> tuple[str, str]:
    """``'${summarize.variant_1}'`` → ``("summarize", "variant_1")`` (surrounding quotes allowed)."""
    text = selector.strip().strip("'\"")
    match = _SELECTOR.match(text)
    if not match:
        raise InvalidVariant(
            f"Invalid variant '{selector}'.", hint="write it as '${node_name.variant_id}', e.g. '${summarize.variant_1}'."
        )
    return match.group(1), match.group(2)


def parse_variants(selector: str) -> dict[str, str]:
    """``'${summarize.v1},${answer.v0}'`` → ``{"summarize": "v1", "answer": "v0"}``; one selector gives one entry."""
    parts = [part for part in selector.strip().strip("'\"").split(",") if part.strip()]
    if not parts:
        raise InvalidVariant(f"Invalid variant '{selector}'.", hint="write it as '${node_name.variant_id}'.")
    chosen: dict[str, str] = {}
    for part in parts:
        node, variant_id = parse_variant(part)
        if chosen.setdefault(node, variant_id) != variant_id:
            raise InvalidVariant(f"Variant '{selector}' names two variants of node '{node}'.",
                                 hint="name at most one variant per node.")
    return chosen


def variant_selector(choices: dict[str, str]) -> str:
    """The selector of ``choices`` (node → variant id): ``${a.v1}`` or ``${a.v1},${b.v0}``."""
    return ",".join(f"${{{node}.{variant_id}}}" for node, variant_id in choices.items())


def variant_id_of(selector: str | None) -> str:
    """The id a run name or ``${variant_id}`` shows: ``variant_1``, ``v1-v0`` for a combination, ``variant_0`` for none."""
    return "-".join(parse_variants(selector).values()) if selector else "variant_0"


def variant_choices(spec: "FlowSpec", variant: str | None = None) -> dict[str, str]:
    """The variant id each ``use_variants`` node will run with."""
    tuned = parse_variants(variant) if variant else {}
    names = {n.name for n in spec.nodes}
    for name in tuned:
        if name not in names:
            raise InvalidVariant(f"Node '{name}' named by variant '{variant}' is not in the flow.",
                                 file=_file(spec), hint=f"choose one of the nodes: {', '.join(sorted(names))}.")
    choices = {}
    for node in spec.nodes:
        if not node.use_variants:
            if node.name in tuned:
                raise InvalidVariant(f"Node '{node.name}' has no variants (use_variants is not set).",
                                     file=_file(spec), node=node.name)
            continue
        entry = spec.node_variants.get(node.name)
        if entry is None:
            raise InvalidVariant("The node sets use_variants but has no entry in node_variants.",
                                 file=_file(spec), node=node.name, hint=f"add node_variants.{node.name}.")
        wanted = tuned.get(node.name, entry.default_variant_id)
        if not wanted:
            raise InvalidVariant("node_variants entry has no default_variant_id.", file=_file(spec), node=node.name,
                                 hint=f"set node_variants.{node.name}.default_variant_id.")
        if wanted not in entry.variants:
            raise InvalidVariant(f"Variant '{wanted}' does not exist.", file=_file(spec), node=node.name,
                                 hint=f"known variants: {', '.join(entry.variants) or 'none'}.")
        choices[node.name] = wanted
    return choices


def apply_variant(spec: "FlowSpec", variant: str | None = None) -> "FlowSpec":
    """A copy of ``spec`` whose ``use_variants`` nodes are replaced by the chosen variants."""
    from promptflow_lite.flow._model import Node

    choices = variant_choices(spec, variant)
    if not choices:
        return spec
    nodes = []
    for node in spec.nodes:
        if node.name in choices:
            raw = dict(spec.node_variants[node.name].variants[choices[node.name]].node)
            raw["name"] = node.name
            nodes.append(Node.model_validate(raw))
        else:
            nodes.append(node)
    resolved = spec.model_copy(update={"nodes": nodes, "node_variants": {}})
    return resolved.located(spec.path, spec.working_dir)


def all_variant_ids(spec: "FlowSpec") -> list[str]:
    """Every selector ``${node.variant}`` in the flow, defaults first."""
    selectors = []
    for name, entry in spec.node_variants.items():
        ids = sorted(entry.variants, key=lambda v: (v != entry.default_variant_id, v))
        selectors += [f"${{{name}.{v}}}" for v in ids]
    return selectors


def _file(spec) -> str | None:
    return str(spec.path) if spec.path else None
