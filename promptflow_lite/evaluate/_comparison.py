"""Compare variants line by line: each metric's mean with its CI, and each variant against a baseline.

Input: per variant and metric, one list per dataset line holding that line's score in each repeat
(``None``/NaN = no score). A line's value is the mean of its repeats, so the line stays the unit
of every statistic (repeats of one line are not independent samples). Output: a
:class:`ComparisonReport`, ready to print, gate, or write as JSON / HTML / JUnit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from promptflow_lite.errors import UserError
from promptflow_lite.evaluate.stats import Comparison, Consistency, Estimate, consistency, holm_adjust
from promptflow_lite.evaluate.stats import metric_ci, paired_difference

#: per variant → per metric → per line → per repeat
Scores = Mapping[str, Mapping[str, Sequence[Sequence[Any]]]]


@dataclass(frozen=True)
class MetricSummary:
    """One variant's result on one metric: mean and CI over lines, and repeat consistency if repeated."""

    variant: str
    metric: str
    estimate: Estimate
    consistency: Consistency | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {"variant": self.variant, "metric": self.metric, **self.estimate.to_dict()}
        if self.consistency is not None:
            c = self.consistency
            data["consistency"] = {
                "mean": c.mean.to_dict(),
                "flaky_lines": list(c.flaky_lines),
                "all_pass": c.all_pass.to_dict() if c.all_pass else None,
                "any_pass": c.any_pass.to_dict() if c.any_pass else None,
            }
        return data


@dataclass(frozen=True)
class PairedResult:
    """``variant`` against ``baseline`` on ``metric``; ``p_holm`` adjusts p over every pair in the report."""

    variant: str
    baseline: str
    metric: str
    comparison: Comparison
    p_holm: float = math.nan

    @property
    def verdict(self) -> str:
        return self.comparison.verdict

    def to_dict(self) -> dict[str, Any]:
        data = {"variant": self.variant, "baseline": self.baseline, "metric": self.metric}
        data.update(self.comparison.to_dict())
        data["p_holm"] = None if math.isnan(self.p_holm) else self.p_holm
        return data


@dataclass
class ComparisonReport:
    """Every summary and paired comparison of one evaluation, in variant and metric order."""

    variants: list[str]
    metrics: list[str]
    baseline: str | None
    n_lines: int
    repeats: int
    confidence: float
    summaries: dict[tuple[str, str], MetricSummary] = field(default_factory=dict)
    paired: dict[tuple[str, str], PairedResult] = field(default_factory=dict)

    def summary(self, variant: str, metric: str) -> MetricSummary | None:
        return self.summaries.get((variant, metric))

    def pair(self, variant: str, metric: str) -> PairedResult | None:
        return self.paired.get((variant, metric))

    def __str__(self) -> str:
        from promptflow_lite.evaluate._explain import format_report

        return format_report(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline,
            "confidence": self.confidence,
            "n_lines": self.n_lines,
            "repeats": self.repeats,
            "variants": {
                variant: {
                    metric: _variant_metric(self, variant, metric)
                    for metric in self.metrics
                    if (variant, metric) in self.summaries
                }
                for variant in self.variants
            },
        }


def _variant_metric(report: ComparisonReport, variant: str, metric: str) -> dict[str, Any]:
    data = report.summaries[(variant, metric)].to_dict()
    data.pop("variant"), data.pop("metric")
    pair = report.pair(variant, metric)
    if pair is not None:
        vs = pair.to_dict()
        for key in ("variant", "metric", "baseline", "confidence", "higher_is_better"):
            vs.pop(key)
        data["vs_baseline"] = {"baseline": pair.baseline, **vs}
    return data


def compare(
    scores: Scores,
    baseline: str | None = None,
    confidence: float = 0.95,
    seed: int = 0,
    lower_is_better: Sequence[str] = (),
    n_lines: int | None = None,
) -> ComparisonReport:
    """Summarise every variant's metrics and compare each variant with ``baseline`` (default: the first).

    ``scores[variant][metric][line]`` lists that line's score per repeat; all variants must cover
    the same lines. Metrics named in ``lower_is_better`` (e.g. latency) count a decrease as better.
    With one variant there is nothing to compare and ``baseline`` is None. ``n_lines`` (the dataset
    size) is only needed when there may be no scores at all.
    """
    variants = list(scores)
    if not variants:
        raise UserError("Nothing to compare: no variant has scores.")
    baseline = _check_baseline(variants, baseline)
    metrics = _metric_order(scores)
    n_lines = _line_count(scores, n_lines)
    repeats = max((len(line) for per_metric in scores.values() for lines in per_metric.values() for line in lines),
                  default=1)
    report = ComparisonReport(variants, metrics, baseline, n_lines, max(repeats, 1), confidence)
    line_means = {v: means_per_line(scores[v]) for v in variants}
    for variant in variants:
        for metric, lines in scores[variant].items():
            estimate = metric_ci(line_means[variant][metric], confidence, seed=seed)
            spread = consistency(lines, confidence, seed=seed) if repeats > 1 else None
            report.summaries[(variant, metric)] = MetricSummary(variant, metric, estimate, spread)
    if baseline is None:
        return report
    pairs = []
    for variant in variants:
        if variant == baseline:
            continue
        for metric in metrics:
            if metric not in scores[variant] or metric not in scores[baseline]:
                continue
            result = paired_difference(line_means[baseline][metric], line_means[variant][metric], confidence,
                                       seed=seed, higher_is_better=metric not in lower_is_better)
            pairs.append(PairedResult(variant, baseline, metric, result))
    adjusted = holm_adjust([pair.comparison.p_value for pair in pairs]) if pairs else []
    for pair, p_holm in zip(pairs, adjusted):
        report.paired[(pair.variant, pair.metric)] = PairedResult(pair.variant, pair.baseline, pair.metric,
                                                                  pair.comparison, p_holm)
    return report


def means_per_line(per_metric: Mapping[str, Sequence[Sequence[Any]]]) -> dict[str, list[float]]:
    """One variant's ``scores[metric][line]`` (per repeat) as ``{metric: [line mean]}`` (NaN: no score)."""
    return {metric: [_mean(line) for line in lines] for metric, lines in per_metric.items()}


def _check_baseline(variants: list[str], baseline: str | None) -> str | None:
    if baseline is None:
        return variants[0] if len(variants) > 1 else None
    if baseline not in variants:
        raise UserError(f"Baseline '{baseline}' is not among the compared variants.",
                        hint=f"choose one of: {', '.join(variants)}.")
    return baseline


def _metric_order(scores: Scores) -> list[str]:
    metrics: list[str] = []
    for per_metric in scores.values():
        metrics += [m for m in per_metric if m not in metrics]
    return metrics


def _line_count(scores: Scores, expected: int | None) -> int:
    counts = {len(lines) for per_metric in scores.values() for lines in per_metric.values()}
    if expected is not None:
        counts.add(expected)
    if len(counts) > 1:
        raise UserError(f"The variants were scored on different numbers of lines ({sorted(counts)}).",
                        hint="compare runs made over the same dataset.")
    return counts.pop() if counts else 0


def _mean(values: Sequence[Any]) -> float:
    kept = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return sum(kept) / len(kept) if kept else math.nan
