"""Naming the best variant on the primary metric, with its interval, its test against the baseline and its ties.

The best is the highest mean (lowest for a lower-is-better metric) among the eligible variants
(after successive halving: those that reached the end). It is "the best" outright only when the
paired test against every other eligible variant says better at level ``alpha / pairs``
(Bonferroni over all pairs, so picking the top mean first does not inflate the claim); the others
are listed as ties: the data cannot tell them from the best.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from promptflow_lite.evaluate._comparison import ComparisonReport, PairedResult
from promptflow_lite.evaluate.stats import Comparison, Estimate, paired_difference


@dataclass
class Best:
    metric: str
    variant: str
    estimate: Estimate
    versus_baseline: PairedResult | None
    level: float  # the level of the tests against the others
    versus_others: dict[str, Comparison] = field(default_factory=dict)  # best (b) against each other (a)
    ties: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "variant": self.variant, "estimate": self.estimate.to_dict(),
                "vs_baseline": self.versus_baseline.to_dict() if self.versus_baseline else None,
                "level": self.level, "ties": self.ties,
                "vs_others": {name: c.to_dict() for name, c in self.versus_others.items()}}


def name_best(report: ComparisonReport, line_means: dict[str, dict[str, list[float]]], metric: str, *,
              higher_is_better: bool = True, eligible: Sequence[str] | None = None) -> Best | None:
    """The best of ``eligible`` (default: every variant) on ``metric``; None when no variant has a mean."""
    candidates = [v for v in (eligible or report.variants) if report.summary(v, metric) is not None
                  and report.summary(v, metric).estimate.mean == report.summary(v, metric).estimate.mean]
    if not candidates:
        return None
    sign = 1 if higher_is_better else -1
    best = max(candidates, key=lambda v: sign * report.summary(v, metric).estimate.mean)
    pairs = len(candidates) * (len(candidates) - 1) // 2
    alpha = (1 - report.confidence) / max(1, pairs)
    found = Best(metric, best, report.summary(best, metric).estimate, report.pair(best, metric), alpha)
    for other in candidates:
        if other == best:
            continue
        versus = paired_difference(line_means[other][metric], line_means[best][metric], confidence=1 - alpha,
                                   higher_is_better=higher_is_better)
        found.versus_others[other] = versus
        if versus.verdict != "better":
            found.ties.append(other)
    return found
