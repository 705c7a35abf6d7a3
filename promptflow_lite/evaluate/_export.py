"""``pfl eval --json``: the whole result as JSON (statistics, the runs behind them, the CI checks)."""

from __future__ import annotations

from typing import Any

from promptflow_lite.evaluate._session import EvaluationResult


def result_json(result: EvaluationResult) -> dict[str, Any]:
    """``variants[v][metric]`` = mean, CI, n (+ ``vs_baseline``: diff, CI, p-value, verdict); plus runs and checks."""
    plan = result.plan
    data = {
        "flow": str(plan.flow),
        "data": str(plan.data),
        "evaluators": {spec.alias: {"path": str(spec.path), "params": spec.params} for spec in plan.evaluators},
        **result.report.to_dict(),
        "runs": {
            runs.label: {
                "variant": runs.selector,
                "base": [lines.name for lines in runs.base],
                "evaluations": {alias: [lines.name for lines in per_repeat]
                                for alias, per_repeat in runs.evaluations.items()},
                "logged_metrics": runs.metrics,
            }
            for runs in result.variants
        },
        "checks": [{"variant": c.variant, "metric": c.metric, "passed": c.passed, "failures": list(c.failures)}
                   for c in result.checks],
        "passed": result.passed,
    }
    return data
