"""``pfl eval --json``: the whole result as JSON (statistics, the runs behind them, the CI checks)."""

from __future__ import annotations

from typing import Any

from promptflow_lite.evaluate._session import EvaluationResult


def result_json(result: EvaluationResult) -> dict[str, Any]:
    """``variants[v][metric]`` = mean, CI, n (+ ``vs_baseline``: diff, CI, p-value, verdict); plus runs and checks,
    the analyses (best, halving, costs, spend, slices) and ``charts``: the records the report's charts draw."""
    plan = result.plan
    data = {
        "flow": str(plan.flow),
        "data": str(plan.data),
        "evaluators": {spec.alias: {"path": str(spec.path), "params": spec.params} for spec in plan.evaluators},
        **result.report.to_dict(),
        "runs": {
            runs.label: {
                "variant": runs.selector,
                "base": [name for lines in runs.base for name in lines.names],
                "evaluations": {alias: [name for lines in per_repeat for name in lines.names]
                                for alias, per_repeat in runs.evaluations.items()},
                "logged_metrics": runs.metrics,
            }
            for runs in result.variants
        },
        "checks": [{"variant": c.variant, "metric": c.metric, "passed": c.passed, "failures": list(c.failures)}
                   for c in result.checks],
        "passed": result.passed,
    }
    if result.analysis is not None:
        from promptflow_lite.evaluate._analysis_json import analysis_json

        data.update(analysis_json(result))
    return data
