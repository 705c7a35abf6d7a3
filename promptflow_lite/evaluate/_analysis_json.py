"""The analyses of an evaluation as JSON for ``pfl eval --json``: best, halving, costs, spend, slices and charts."""

from __future__ import annotations

import math
from typing import Any

from promptflow_lite.evaluate._chart_data import chart_data


def analysis_json(result: Any) -> dict[str, Any]:
    """Keys ``primary``, ``grid``, ``best``, ``halving``, ``costs``, ``spend``, ``slices`` and ``charts`` (None when
    an analysis does not apply)."""
    analysis = result.analysis
    prices = analysis.prices
    data: dict[str, Any] = {
        "primary": analysis.primary,
        "grid": _grid(result) if analysis.grid else None,
        "best": analysis.best.to_dict() if analysis.best else None,
        "halving": _halving(analysis) if analysis.race else None,
        "costs": _costs(analysis) if analysis.costs else None,
        "spend": analysis.spend.to_dict(prices),
        "slices": _slices(analysis) if analysis.slices else None,
        "charts": chart_data(result),
    }
    return _clean(data)


def _grid(result) -> dict[str, Any]:
    from promptflow_lite.flow._variants import parse_variants

    combos = {runs.label: parse_variants(runs.selector) for runs in result.variants if runs.selector}
    nodes = list(dict.fromkeys(node for choices in combos.values() for node in choices))
    return {"nodes": nodes, "combinations": combos, "baseline": result.report.baseline}


def _halving(analysis) -> dict[str, Any]:
    race = analysis.race
    return {
        "seed": race.seed, "budget_lines": race.budget, "line_runs": race.spent, "survivors": race.survivors,
        "totals": analysis.race_totals,
        "rounds": [{"round": r.number, "lines": r.sample, "new_lines": r.new_lines, "variants": r.variants,
                    "leader": r.leader, "means": r.means, "level": r.level, "spend": r.spend,
                    "dropped": [{"variant": d.variant, "reason": d.reason, "vs_leader": d.versus_leader.to_dict()}
                                for d in r.dropped]}
                   for r in race.rounds],
    }


def _costs(analysis) -> dict[str, Any]:
    costs = analysis.costs
    return {
        "basis": costs.basis, "primary": costs.primary, "front": costs.front,
        "currency": costs.prices.currency if costs.prices else None,
        "prices": costs.prices.source if costs.prices else None,
        "variants": {name: {"lines": v.lines, "prompt_tokens": v.prompt_tokens.to_dict(),
                            "completion_tokens": v.completion_tokens.to_dict(),
                            "cost": v.cost.to_dict() if v.cost else None,
                            "latency_p50": v.latency_p50.to_dict(), "latency_p95": v.latency_p95.to_dict(),
                            "tokens_by_model": v.models, "unpriced_models": v.unpriced, "untimed_lines": v.untimed,
                            "quality": v.quality, "pareto": v.pareto}
                     for name, v in costs.variants.items()},
    }


def _slices(analysis) -> dict[str, Any]:
    found = analysis.slices
    alpha = 1 - found.confidence
    return {
        "confidence": found.confidence, "tests": found.tests,
        "columns": [{"column": c.column, "binned": c.binned,
                     "slices": {label: len(lines) for label, lines in c.slices.items()},
                     "cells": [{"slice": label, "variant": variant, "metric": metric, **cell.estimate.to_dict(),
                                "vs_baseline": cell.versus.to_dict() if cell.versus else None,
                                "p_holm": cell.p_holm, "verdict": cell.verdict(alpha) if cell.versus else None}
                               for (label, variant, metric), cell in c.cells.items()]}
                    for c in found.columns],
        "flags": [{"column": f.column, "slice": f.slice, "variant": f.variant, "metric": f.metric, "kind": f.kind,
                   "overall": f.overall, "verdict": f.verdict, "p_holm": f.p_holm, "vs_baseline": f.versus.to_dict()}
                  for f in found.flags],
    }


def _clean(value: Any) -> Any:
    """NaN → None, recursively (JSON has no NaN)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item) for item in value]
    return value
