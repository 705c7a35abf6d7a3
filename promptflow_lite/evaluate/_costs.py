"""Cost and latency per variant, and the Pareto front across quality × cost × latency.

Per variant, over its completed lines (a line's figure is the mean over its repeats): prompt and
completion tokens per line, cost per line from the user's price table, and the p50 / p95 line
latency, each with a bootstrap interval. Tokens are those of the flow as it would run on its own
(results answered from the response cache or shared between combinations count), so variants
compare as deployed. Latency is the critical path of node durations (see :mod:`._usage`); lines
with response-cache answers whose request time is unknown are counted in ``untimed``.

A variant is on the Pareto front when no other variant is at least as good on quality (the
primary metric's mean), cost per line (tokens per line without a price table) and p95 latency,
and better on one of them. Point estimates decide; the intervals say how firm each is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

from promptflow_lite.evaluate._prices import PriceTable
from promptflow_lite.evaluate._usage import LineUse, line_latency
from promptflow_lite.evaluate.stats import Estimate, mean_ci, quantile_ci

NAN = float("nan")


@dataclass
class VariantCost:
    variant: str
    lines: int
    prompt_tokens: Estimate  # per line
    completion_tokens: Estimate
    latency_p50: Estimate  # seconds
    latency_p95: Estimate
    cost: Estimate | None = None  # per line; None without a price for every model it used
    models: dict[str, list[int]] = field(default_factory=dict)  # model -> total [prompt, completion] tokens
    unpriced: list[str] = field(default_factory=list)
    untimed: float = 0.0  # share of lines with cache answers of unknown request time (latency too short)
    quality: float = NAN
    pareto: bool = False

    @property
    def tokens_per_line(self) -> float:
        return self.prompt_tokens.mean + self.completion_tokens.mean


@dataclass
class CostReport:
    variants: dict[str, VariantCost]
    prices: PriceTable | None
    primary: str | None  # the quality metric of the Pareto front
    front: list[str]
    basis: str  # "cost" or "tokens": what the front's cost axis is


def cost_report(uses: dict[str, list[dict[int, LineUse]]], dependencies: dict[str, dict[str, set[str]] | None],
                prices: PriceTable | None, quality: dict[str, float], *, primary: str | None = None,
                higher_is_better: bool = True, confidence: float = 0.95) -> CostReport:
    """``uses[variant]``: per repeat, its lines; ``dependencies[variant]``: its DAG (node → dependencies)."""
    variants = {name: _variant_cost(name, per_repeat, dependencies.get(name), prices, confidence)
                for name, per_repeat in uses.items()}
    for name, figures in variants.items():
        figures.quality = quality.get(name, NAN)
    priced = prices is not None and all(v.cost is not None for v in variants.values())
    basis = "cost" if priced else "tokens"
    front = pareto_front({name: (v.quality if higher_is_better else -v.quality,
                                 -(v.cost.mean if priced else v.tokens_per_line), -v.latency_p95.mean)
                          for name, v in variants.items()})
    for name in front:
        variants[name].pareto = True
    return CostReport(variants, prices, primary, front, basis)


def pareto_front(points: dict[str, Sequence[float]]) -> list[str]:
    """The names whose point no other point dominates (every coordinate: higher is better; NaN is worst)."""
    clean = {name: [(-math.inf if math.isnan(x) else x) for x in point] for name, point in points.items()}

    def dominates(a: list[float], b: list[float]) -> bool:
        return all(x >= y for x, y in zip(a, b)) and any(x > y for x, y in zip(a, b))

    return [name for name, point in clean.items()
            if not any(dominates(other, point) for o, other in clean.items() if o != name)]


def _variant_cost(name: str, per_repeat: list[dict[int, LineUse]], dependencies, prices: PriceTable | None,
                  confidence: float) -> VariantCost:
    per_line: dict[int, list[tuple[float, float, float | None, float, bool]]] = {}
    models: dict[str, list[int]] = {}
    unpriced: set[str] = set()
    for lines in per_repeat:
        for number, line in lines.items():
            if not line.ok:
                continue
            tokens = line.tokens()
            prompt = sum(pair[0] for pair in tokens.values())
            completion = sum(pair[1] for pair in tokens.values())
            cost = _cost(tokens, prices, unpriced) if prices is not None else None
            cached = any(node.untimed for node in line.nodes)
            per_line.setdefault(number, []).append((prompt, completion, cost, line_latency(line, dependencies),
                                                    cached))
            for model, (p, c) in tokens.items():
                total = models.setdefault(model, [0, 0])
                total[0], total[1] = total[0] + p, total[1] + c

    def column(index: int) -> list[float]:
        return [_mean([row[index] for row in rows]) for rows in per_line.values()]

    latencies = column(3)
    cost = None
    if prices is not None and not unpriced:
        cost = mean_ci(column(2), confidence)
    return VariantCost(
        name, len(per_line), mean_ci(column(0), confidence), mean_ci(column(1), confidence),
        quantile_ci(latencies, 0.5, confidence), quantile_ci(latencies, 0.95, confidence), cost,
        models, sorted(unpriced),
        sum(any(row[4] for row in rows) for rows in per_line.values()) / len(per_line) if per_line else 0.0)


def _cost(tokens: dict[str, list[int]], prices: PriceTable, unpriced: set[str]) -> float | None:
    total = 0.0
    for model, (prompt, completion) in tokens.items():
        cost = prices.cost(model, prompt, completion)
        if cost is None:
            unpriced.add(model)
            return None
        total += cost
    return total


def _mean(values: list[float | None]) -> float:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else NAN
