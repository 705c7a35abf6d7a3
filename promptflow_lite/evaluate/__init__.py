"""Evaluation: score run outputs with evaluators and compare variants with honest statistics.

    from promptflow_lite.evaluate import evaluate
    result = evaluate("flows/qa", "qa.jsonl", ["exact_match", "f1_score"], fail_under=["exact_match=0.8"])
    print(result.report)        # means with CIs, paired differences, verdicts
    result.passed               # False when a gate failed

A grid of several nodes' variants, raced by successive halving, sliced and costed::

    result = evaluate("flows/support_grid", "data.jsonl", ["exact_match"], grid=True, halving=True,
                      slice_by=["topic"], prices=Path("prices.yaml"))
    result.analysis.best.variant, result.analysis.costs.front, result.analysis.slices.flags

``compare`` does the statistics on plain per-line scores, ``compare_runs`` on existing runs (``compare_lines``
also puts each line side by side), ``start_evaluation`` runs ``pfl eval`` in the background,
``evaluator_path`` finds a built-in evaluator flow. Names resolve lazily (numpy loads on first use).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "evaluate": "session", "run_evaluation": "session", "EvaluationPlan": "session", "EvaluationResult": "session",
    "compare": "comparison", "ComparisonReport": "comparison", "compare_runs": "run_compare",
    "evaluator_path": "builtin", "builtin_names": "builtin", "compare_lines": "line_compare",
    "start_evaluation": "background",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'promptflow_lite.evaluate' has no attribute {name!r}")
    return getattr(importlib.import_module(f"promptflow_lite.evaluate.{_EXPORTS[name]}"), name)
