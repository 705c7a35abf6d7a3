"""Quality gates for CI: ``--fail-under metric=value`` (on the mean over lines) and ``--fail-if-worse``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

from promptflow_lite.errors import UserError
from promptflow_lite.evaluate._comparison import ComparisonReport
from promptflow_lite.evaluate.stats._paired import WORSE


@dataclass(frozen=True)
class Gate:
    """Every variant's mean of ``metric`` must be at least ``threshold``."""

    metric: str
    threshold: float


@dataclass(frozen=True)
class Check:
    """One variant on one metric: passed, or failed with the reasons (gates missed, significantly worse)."""

    variant: str
    metric: str
    failures: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.failures


def parse_gates(items: Iterable[str] | None) -> list[Gate]:
    """``["exact_match=0.8", ...]`` → gates; the value must be a number."""
    gates = []
    for item in items or []:
        name, sep, value = item.rpartition("=")
        try:
            threshold = float(value)
        except ValueError:
            threshold = math.nan
        if not sep or not name.strip() or math.isnan(threshold):
            raise UserError(f"Bad --fail-under '{item}': expected METRIC=NUMBER, e.g. exact_match.passed=0.8.")
        gates.append(Gate(name.strip(), threshold))
    return gates


def resolve_metric(name: str, metrics: Sequence[str]) -> str:
    """The metric column meant by ``name``: the full ``evaluator.output`` name, or a unique evaluator or output name."""
    if name in metrics:
        return name
    by_evaluator = [m for m in metrics if m.split(".", 1)[0] == name]
    by_output = [m for m in metrics if m.split(".", 1)[-1] == name]
    for candidates in (by_evaluator, by_output):
        if len(candidates) == 1:
            return candidates[0]
    ambiguous = by_evaluator or by_output
    if ambiguous:
        raise UserError(f"Metric '{name}' is ambiguous: it could be {', '.join(ambiguous)}.",
                        hint="write the full name evaluator.output.")
    raise UserError(f"Unknown metric '{name}'.", hint=f"the metrics of this evaluation are: {', '.join(metrics)}.")


def check(report: ComparisonReport, gates: Sequence[Gate] = (), fail_if_worse: bool = False) -> list[Check]:
    """One :class:`Check` per variant and metric, in table order."""
    thresholds = gated_metrics(report, gates)
    checks = []
    for metric in report.metrics:
        for variant in report.variants:
            summary = report.summary(variant, metric)
            if summary is None:
                continue
            failures = []
            mean = summary.estimate.mean
            for threshold in thresholds.get(metric, []):
                if math.isnan(mean) or mean < threshold:
                    shown = "n/a" if math.isnan(mean) else f"{mean:.4g}"
                    failures.append(f"mean {shown} is below the gate {threshold:g} (gate on the mean over lines)")
            pair = report.pair(variant, metric)
            if fail_if_worse and pair is not None and pair.verdict == WORSE:
                c = pair.comparison
                failures.append(f"significantly worse than {pair.baseline}: diff {c.diff_mean:+.4g} "
                                f"[{c.low:+.4g}, {c.high:+.4g}], p={c.p_value:.3g}")
            checks.append(Check(variant, metric, tuple(failures)))
    return checks


def gated_metrics(report: ComparisonReport, gates: Sequence[Gate]) -> dict[str, list[float]]:
    """Resolved metric name → its thresholds."""
    found: dict[str, list[float]] = {}
    for gate in gates:
        found.setdefault(resolve_metric(gate.metric, report.metrics), []).append(gate.threshold)
    return found
