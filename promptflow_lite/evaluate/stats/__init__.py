"""Statistics for evaluations: every number with its uncertainty, and paired tests between variants.

Which method when:

* a metric's mean → :func:`metric_ci` (Wilson for pass/fail, BCa bootstrap over lines otherwise);
  :func:`mean_ci` and :func:`proportion_ci` for either one explicitly; a median or p95 (latency) →
  :func:`quantile_ci`;
* variant B against variant A on the same lines → :func:`paired_difference` (pass/fail: Newcombe
  interval + exact McNemar; otherwise: bootstrap interval + sign-flip permutation test), with a verdict;
* many comparisons at once → :func:`holm_adjust` on their p-values;
* ``--repeats R`` → :func:`consistency` (per-line agreement, pass@k and pass^k).

Everything is deterministic for a given ``seed``; None/NaN scores are dropped and counted.
"""

from __future__ import annotations

from ._intervals import Estimate, is_binary, mean_ci, metric_ci, proportion_ci, quantile_ci
from ._paired import Comparison, holm_adjust, mcnemar_exact, newcombe_paired_ci, paired_difference
from ._repeats import Consistency, consistency

__all__ = [
    "Comparison",
    "Consistency",
    "Estimate",
    "consistency",
    "holm_adjust",
    "is_binary",
    "mcnemar_exact",
    "mean_ci",
    "metric_ci",
    "newcombe_paired_ci",
    "paired_difference",
    "proportion_ci",
    "quantile_ci",
]
