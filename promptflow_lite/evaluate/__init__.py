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
``evaluator_path`` finds an evaluator flow by name (built-in, installed or registered). Names resolve
lazily (numpy loads on first use).
"""

from __future__ import annotations

from promptflow_lite._lazy import lazy_exports

_EXPORTS = {
    "evaluate": "._session", "run_evaluation": "._session", "EvaluationPlan": "._session",
    "EvaluationResult": "._session", "compare": "._comparison", "ComparisonReport": "._comparison",
    "compare_runs": "._run_compare", "evaluator_path": "._registry", "builtin_names": "._registry",
    "evaluator_names": "._registry", "register_evaluator": "._registry",
    "compare_lines": "._line_compare", "start_evaluation": "._background",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
