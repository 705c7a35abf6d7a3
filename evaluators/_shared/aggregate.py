"""Aggregation node: log the mean of the per-line scores as one run metric.

For pass/fail scores (booleans) the mean is the pass rate. Lines whose score is missing (None,
e.g. an unparseable judge answer) are left out and counted in the returned ``missing``.
"""

from promptflow.core import log_metric, tool


@tool
def aggregate(scores: list, metric: str) -> dict:
    values = [float(score) for score in scores if isinstance(score, (bool, int, float)) and score == score]
    mean = round(sum(values) / len(values), 6) if values else None
    if mean is not None:
        log_metric(metric, mean)
    return {metric: mean, "scored": len(values), "missing": len(scores) - len(values)}
