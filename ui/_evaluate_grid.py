"""The New evaluation form's grid and analysis choices: every combination of several nodes' variants, successive
halving, slices and a price table (``pfl eval --grid --halving --slice-by --prices``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from promptflow_lite.errors import UserError


def grid_variants(flow: Path, selectors: list[str | None]) -> tuple[list[str | None], str | None] | None:
    """With two or more variant nodes, a *Grid* toggle; when on, the chosen node variants and the baseline
    (None: the flow's defaults) of the grid. None when the grid is off (one node's variants at a time)."""
    from promptflow_lite.evaluate._session import choose_variants, variant_labels
    from promptflow_lite.flow._variants import parse_variant

    options = [".".join(parse_variant(s)) for s in selectors if s]
    nodes = list(dict.fromkeys(option.split(".", 1)[0] for option in options))
    if len(nodes) < 2:
        return None
    if not st.toggle("Grid: every combination of the nodes' variants (" + " × ".join(nodes) + ")",
                     key="evaluate_grid", help="pfl eval --grid: node A × node B × …, labelled node=variant; "
                                               "nodes upstream of the variants run once per line"):
        return None
    left, right = st.columns([2, 1])
    picked = left.multiselect("Node variants in the grid", options, default=options, key="evaluate_grid_variants")
    if not picked:
        raise UserError("Choose at least one variant for the grid.")
    combinations = choose_variants(flow, ",".join(picked), grid=True)
    labels = variant_labels(combinations)
    left.caption(f"{len(combinations)} combinations: " + ", ".join(f"`{label}`" for label in labels))
    baseline = right.selectbox("Baseline", labels, key="evaluate_grid_baseline",
                               help="the first is the flow's defaults when they are in the grid")
    return combinations, baseline


def analysis_options(columns: list[str], variants: int) -> dict[str, Any]:
    """Halving (with several variants), slices, prices: the matching :class:`EvaluationPlan` fields."""
    with st.expander("Analysis: halving, slices, cost"):
        left, right = st.columns(2)
        halving = left.toggle("Successive halving", key="evaluate_halving", disabled=variants < 2,
                              help="start every variant on a small sample and drop those a paired test finds worse "
                                   "than the leader as the sample doubles (fewer LLM calls)")
        budget = right.number_input("Budget (line runs, 0: none)", min_value=0, value=0, step=100,
                                    key="evaluate_budget", disabled=not halving,
                                    help="at most this many variant × line runs in the race")
        slice_by = left.multiselect("Slice by", columns, key="evaluate_slice_by",
                                    help="every metric per value of these data columns (quartiles for numbers); "
                                         "slices that reverse a verdict are flagged")
        prices = right.text_input("Price table (YAML)", key="evaluate_prices", placeholder="prices.yaml",
                                  help="models: {NAME: {prompt: P, completion: C}} per 1k tokens; cost per variant "
                                       "and the Pareto front across quality × cost × latency")
    halving = bool(halving and variants > 1)
    return {"halving": halving, "budget_lines": int(budget) if halving and budget else None,
            "slice_by": list(slice_by), "prices": Path(prices.strip()).expanduser() if prices.strip() else None}
