"""One metric, one number, one interval: bootstrap CIs for means and Wilson intervals for pass rates."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from statistics import NormalDist
from typing import Any, Literal

import numpy as np

from promptflow_lite.errors import UserError

from ._values import as_values, check_confidence, check_resamples, chunks, to_dict

BootstrapMethod = Literal["bca", "percentile"]
NAN = float("nan")


@dataclass(frozen=True)
class Estimate:
    """A mean (or pass rate) with its confidence interval.

    ``low``/``high`` bound the interval at level ``confidence``; ``n`` counts the values used and
    ``n_missing`` the ones dropped (None/NaN). ``method`` is ``"wilson"``, ``"bootstrap-bca"`` or
    ``"bootstrap-percentile"``. ``stderr`` is the standard error (bootstrap SD, or sqrt(p(1-p)/n)).
    ``note`` explains degenerate cases (no values, one value, no spread); NaN means "not available".
    """

    mean: float
    low: float
    high: float
    n: int
    method: str
    n_missing: int = 0
    confidence: float = 0.95
    stderr: float = NAN
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; NaN becomes None."""
        return to_dict(self)

    def __str__(self) -> str:
        if math.isnan(self.mean):
            return f"n/a (n={self.n})"
        interval = "n/a" if math.isnan(self.low) else f"{self.low:.3f}, {self.high:.3f}"
        return f"{self.mean:.3f} [{interval}] (n={self.n}, {self.confidence:.0%} {self.method})"


def mean_ci(
    values: Any,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
    method: BootstrapMethod = "bca",
) -> Estimate:
    """Mean of per-line scores with a bootstrap confidence interval over lines.

    ``values``: one score per dataset line (None/NaN = missing, dropped and counted in ``n_missing``).
    ``confidence``: interval level; ``n_resamples``: bootstrap resamples (>= 100); ``seed``: fixes the
    resamples, so equal inputs give equal intervals. ``method``: ``"bca"`` (bias-corrected and
    accelerated, default; better for skewed scores) or ``"percentile"``.
    Edge cases: no values → ``mean`` NaN with a ``note``; one value → the mean with NaN bounds (one
    line says nothing about spread); all values equal → a zero-width interval. Like every bootstrap
    interval it runs a little narrow on tiny samples (about 89-90 % actual coverage at n = 10, ~94 % at 50).
    """
    return bootstrap_mean(as_values(values), confidence, n_resamples, np.random.default_rng(seed), method)


def proportion_ci(successes: int, n: int, confidence: float = 0.95) -> Estimate:
    """Pass rate ``successes / n`` with a Wilson score interval (good even for 0/n, n/n and small n).

    ``n == 0`` gives a NaN estimate with a ``note``.
    """
    z = check_confidence(confidence)
    if int(successes) != successes or int(n) != n or not 0 <= successes <= n:
        raise UserError(
            f"proportion_ci needs whole numbers 0 <= successes <= n, got successes={successes!r}, n={n!r}.",
            hint="count the passing lines and the scored lines",
        )
    successes, n = int(successes), int(n)
    if n == 0:
        return Estimate(NAN, NAN, NAN, 0, "wilson", confidence=confidence, note="no values: every line is missing")
    p = successes / n
    scale = 1.0 + z * z / n
    center = (p + z * z / (2 * n)) / scale
    half = z / scale * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low = 0.0 if successes == 0 else max(0.0, center - half)
    high = 1.0 if successes == n else min(1.0, center + half)
    return Estimate(p, low, high, n, "wilson", confidence=confidence, stderr=math.sqrt(p * (1 - p) / n))


def is_binary(values: Any) -> bool:
    """True when every non-missing value is 0 or 1 (booleans count); False when there are no values."""
    x = as_values(values)
    kept = x[~np.isnan(x)]
    return bool(kept.size) and bool(np.all((kept == 0) | (kept == 1)))


def metric_ci(values: Any, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> Estimate:
    """The right interval for a metric column: Wilson for pass/fail (0/1, bool), bootstrap BCa otherwise.

    Missing values (None/NaN) are dropped and counted in ``n_missing`` either way.
    """
    x = as_values(values)
    if not is_binary(x):
        return mean_ci(x, confidence, n_resamples, seed)
    kept = x[~np.isnan(x)]
    estimate = proportion_ci(int(kept.sum()), kept.size, confidence)
    return replace(estimate, n_missing=x.size - kept.size)


def quantile_ci(values: Any, q: float, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> Estimate:
    """The ``q`` quantile (0.5: median, 0.95: p95) of per-line values with a percentile-bootstrap interval.

    Suits latencies and other skewed figures; for tail quantiles the interval is only as good as the
    number of lines beyond the quantile (a p95 over 40 lines rests on two of them). Missing values are
    dropped and counted; no values give NaN, one value NaN bounds.
    """
    check_confidence(confidence)
    n_resamples = check_resamples(n_resamples)
    if not 0.0 <= q <= 1.0:
        raise UserError(f"quantile must be between 0 and 1, got {q!r}.")
    x = as_values(values)
    kept = x[~np.isnan(x)]
    common = dict(n=kept.size, method="bootstrap-percentile", n_missing=x.size - kept.size, confidence=confidence)
    if kept.size == 0:
        return Estimate(NAN, NAN, NAN, **common, note="no values: every line is missing")
    point = float(np.quantile(kept, q))
    if kept.size == 1:
        return Estimate(point, NAN, NAN, **common, note="one line: no interval")
    rng = np.random.default_rng(seed)
    boot = np.concatenate([np.quantile(kept[rng.integers(0, kept.size, size=(rows, kept.size))], q, axis=1)
                           for rows in chunks(n_resamples, kept.size)])
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(boot, (tail, 1.0 - tail))
    return Estimate(point, float(low), float(high), **common, stderr=float(boot.std(ddof=1)))


def bootstrap_mean(
    x: np.ndarray, confidence: float, n_resamples: int, rng: np.random.Generator, method: BootstrapMethod = "bca"
) -> Estimate:
    """:func:`mean_ci` on an array from :func:`as_values` with a given random generator."""
    z = check_confidence(confidence)
    n_resamples = check_resamples(n_resamples)
    if method not in ("bca", "percentile"):
        raise UserError(f"unknown bootstrap method {method!r}.", hint="use 'bca' or 'percentile'")
    kept = x[~np.isnan(x)]
    n, n_missing, label = kept.size, x.size - kept.size, f"bootstrap-{method}"
    common = dict(n=n, method=label, n_missing=n_missing, confidence=confidence)
    if n == 0:
        return Estimate(NAN, NAN, NAN, **common, note="no values: every line is missing")
    mean = float(kept.mean())
    if n == 1:
        return Estimate(mean, NAN, NAN, **common, note="one line: no interval")
    if np.ptp(kept) == 0:
        return Estimate(mean, mean, mean, **common, stderr=0.0, note="all values equal: no spread to resample")
    boot = bootstrap_means(kept, n_resamples, rng)
    tail = (1.0 - confidence) / 2.0
    levels = _bca_levels(kept, mean, boot, z) if method == "bca" else None
    low, high = np.quantile(boot, levels or (tail, 1.0 - tail))
    return Estimate(mean, float(low), float(high), **common, stderr=float(boot.std(ddof=1)))


def bootstrap_means(x: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Means of ``n_resamples`` resamples (with replacement) of ``x``, built in memory-bounded chunks."""
    n = x.size
    return np.concatenate([x[rng.integers(0, n, size=(rows, n))].mean(axis=1) for rows in chunks(n_resamples, n)])


def _bca_levels(x: np.ndarray, mean: float, boot: np.ndarray, z: float) -> tuple[float, float] | None:
    """Quantile levels of the BCa interval (Efron 1987), or None to fall back to the percentile method.

    Bias correction z0 from the share of resampled means below the observed mean (ties count half);
    acceleration from the jackknife, which for the mean reduces to sum(d^3) / (6 * sum(d^2)^1.5).
    """
    normal = NormalDist()
    below = float(np.mean(boot < mean) + 0.5 * np.mean(boot == mean))
    if not 0.0 < below < 1.0:
        return None
    z0 = normal.inv_cdf(below)
    deviations = x - mean
    acceleration = float(np.sum(deviations**3) / (6.0 * np.sum(deviations**2) ** 1.5))
    levels = []
    for zq in (-z, z):
        shifted = z0 + zq
        denominator = 1.0 - acceleration * shifted
        if denominator <= 0:
            return None
        levels.append(normal.cdf(z0 + shifted / denominator))
    return levels[0], levels[1]
