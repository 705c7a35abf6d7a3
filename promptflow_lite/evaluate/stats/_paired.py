"""Variant B against variant A on the same lines: paired difference, its interval, a test and a verdict.

Pass/fail metrics: Newcombe's square-and-add interval for paired proportions (Newcombe 1998, method 10,
as in Fagerland, Lydersen & Laake 2017) and McNemar's exact test. Other metrics: BCa bootstrap interval of
mean(b - a) over lines and a two-sided sign-flip permutation test (exact up to 16 non-zero differences).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from promptflow_lite.errors import UserError

from ._values import as_values, check_confidence, check_resamples, chunks, to_dict
from ._intervals import NAN, bootstrap_mean, is_binary, proportion_ci

BETTER, WORSE, NO_DIFFERENCE = "better", "worse", "no detectable difference"
#: Up to this many non-zero differences the sign-flip test enumerates all 2**n sign patterns.
EXACT_MAX_PAIRS = 16


@dataclass(frozen=True)
class Comparison:
    """Variant ``b`` compared with variant ``a``, line by line.

    ``diff_mean`` = mean(b) - mean(a) over the ``n_pairs`` lines both scored (``n_missing`` pairs had a
    missing side and were dropped); ``low``/``high`` bound it at level ``confidence``. ``method`` names
    the interval, ``test`` the test behind ``p_value`` (two-sided). ``verdict`` is b's verdict relative to
    a ("better", "worse", "no detectable difference"), taking ``higher_is_better`` into account; a
    winner is declared only when the interval excludes 0 *and* p < 1 - confidence. ``wins``/``losses``/
    ``ties`` count lines where b scored better/worse/the same as a. ``note`` explains degenerate cases.
    """

    diff_mean: float
    low: float
    high: float
    p_value: float
    n_pairs: int
    method: str
    verdict: str
    test: str
    n_missing: int = 0
    confidence: float = 0.95
    higher_is_better: bool = True
    mean_a: float = NAN
    mean_b: float = NAN
    wins: int = 0
    losses: int = 0
    ties: int = 0
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; NaN becomes None."""
        return to_dict(self)


def paired_difference(
    a: Any,
    b: Any,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
    higher_is_better: bool = True,
    binary: bool | None = None,
) -> Comparison:
    """Compare per-line scores of variant ``b`` with those of variant ``a`` (aligned: same line, same index).

    Pairs where either side is missing (None/NaN) are dropped and counted. ``binary=None`` picks the
    pass/fail methods (Newcombe + McNemar) when both columns hold only 0/1, else the continuous ones
    (bootstrap + sign-flip test, using ``n_resamples`` resamples and permutations, fixed by ``seed``);
    pass True/False to force.
    ``higher_is_better=False`` (e.g. latency, cost) makes a negative difference "better".
    Identical columns give diff 0, p = 1 and "no detectable difference"; no pairs give NaNs and a note.
    """
    check_confidence(confidence)
    n_resamples = check_resamples(n_resamples)
    xa, xb = as_values(a, "variant a"), as_values(b, "variant b")
    if xa.size != xb.size:
        raise UserError(
            f"variant results are not aligned: a has {xa.size} lines, b has {xb.size}.",
            hint="compare runs made over the same dataset, one score per line",
        )
    both = ~(np.isnan(xa) | np.isnan(xb))
    xa, xb = xa[both], xb[both]
    if binary is None:
        binary = is_binary(xa) and is_binary(xb)
    elif binary and not np.all(np.isin(np.concatenate([xa, xb]), (0.0, 1.0))):
        raise UserError("binary=True but the scores are not all 0/1 (or booleans).", hint="pass binary=None")
    gain = xb - xa if higher_is_better else xa - xb
    common = dict(
        n_pairs=int(xa.size),
        n_missing=int(both.size - xa.size),
        confidence=confidence,
        higher_is_better=higher_is_better,
        mean_a=float(xa.mean()) if xa.size else NAN,
        mean_b=float(xb.mean()) if xb.size else NAN,
        wins=int(np.sum(gain > 0)),
        losses=int(np.sum(gain < 0)),
        ties=int(np.sum(gain == 0)),
    )
    if xa.size == 0:
        method, test = ("newcombe", "mcnemar-exact") if binary else ("bootstrap-bca", "sign-flip")
        note = "no pairs: every line is missing in a or b"
        return Comparison(NAN, NAN, NAN, NAN, method=method, verdict=NO_DIFFERENCE, test=test, note=note, **common)
    if binary:
        result = _compare_pass_rates(xa, xb, confidence)
    else:
        result = _compare_means(xa, xb, confidence, n_resamples, seed)
    verdict = _verdict(result["low"], result["high"], result["p_value"], 1.0 - confidence, higher_is_better)
    return Comparison(**result, verdict=verdict, **common)


def _compare_pass_rates(xa: np.ndarray, xb: np.ndarray, confidence: float) -> dict[str, Any]:
    only_a, only_b = int(np.sum((xa == 1) & (xb == 0))), int(np.sum((xa == 0) & (xb == 1)))
    both_pass, both_fail = int(np.sum((xa == 1) & (xb == 1))), int(np.sum((xa == 0) & (xb == 0)))
    low, high = newcombe_paired_ci(both_pass, only_a, only_b, both_fail, confidence)
    return dict(
        diff_mean=(only_b - only_a) / xa.size,
        low=low,
        high=high,
        p_value=mcnemar_exact(only_a, only_b),
        method="newcombe",
        test="mcnemar-exact",
    )


def _compare_means(xa: np.ndarray, xb: np.ndarray, confidence: float, n_resamples: int, seed: int) -> dict[str, Any]:
    boot_rng, flip_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    estimate = bootstrap_mean(xb - xa, confidence, n_resamples, boot_rng)
    p_value, exact = sign_flip_p_value(xb - xa, n_resamples, flip_rng)
    return dict(
        diff_mean=estimate.mean,
        low=estimate.low,
        high=estimate.high,
        p_value=p_value,
        method=estimate.method,
        test="sign-flip-exact" if exact else "sign-flip-monte-carlo",
        note=estimate.note,
    )


def _verdict(low: float, high: float, p_value: float, alpha: float, higher_is_better: bool) -> str:
    if math.isnan(low) or math.isnan(high) or not p_value < alpha:
        return NO_DIFFERENCE
    if low > 0:
        return BETTER if higher_is_better else WORSE
    if high < 0:
        return WORSE if higher_is_better else BETTER
    return NO_DIFFERENCE


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts (lines only a passed / only b passed).

    Binomial test of ``min(only_a, only_b)`` out of ``only_a + only_b`` at p = 0.5, doubled and capped at 1;
    computed with exact integers, so it stays accurate for thousands of discordant lines. No discordant
    lines → 1.0.
    """
    discordant = only_a + only_b
    if discordant == 0:
        return 1.0
    term = tail = 1  # C(discordant, 0); then C(n, k + 1) = C(n, k) * (n - k) / (k + 1), exactly
    for k in range(min(only_a, only_b)):
        term = term * (discordant - k) // (k + 1)
        tail += term
    return min(1.0, 2 * tail / 2**discordant)


def newcombe_paired_ci(
    both_pass: int, only_a: int, only_b: int, both_fail: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Newcombe's square-and-add interval for the paired difference of pass rates, p(b) - p(a).

    Combines the Wilson intervals of both pass rates with a (continuity-corrected) estimate of their
    correlation; the four arguments are the cells of the paired 2x2 table.
    """
    n = both_pass + only_a + only_b + both_fail
    if n == 0:
        return NAN, NAN
    b_pass, a_pass = both_pass + only_b, both_pass + only_a
    p_b, p_a = b_pass / n, a_pass / n
    wilson_b, wilson_a = proportion_ci(b_pass, n, confidence), proportion_ci(a_pass, n, confidence)
    margins = b_pass * (n - b_pass) * a_pass * (n - a_pass)
    cross = both_pass * both_fail - only_a * only_b
    if margins == 0 or 0 <= cross <= n / 2:
        phi = 0.0
    else:
        phi = (cross - n / 2 if cross > 0 else cross) / math.sqrt(margins)
    down_b, up_b = p_b - wilson_b.low, wilson_b.high - p_b
    down_a, up_a = p_a - wilson_a.low, wilson_a.high - p_a
    diff = p_b - p_a
    low = diff - math.sqrt(max(0.0, down_b**2 + up_a**2 - 2 * phi * down_b * up_a))
    high = diff + math.sqrt(max(0.0, up_b**2 + down_a**2 - 2 * phi * up_b * down_a))
    return max(-1.0, low), min(1.0, high)


def sign_flip_p_value(differences: np.ndarray, n_resamples: int, rng: np.random.Generator) -> tuple[float, bool]:
    """Two-sided paired permutation test of mean difference 0; returns ``(p_value, exact)``.

    Under the null each line's difference is as likely to have either sign; the statistic is
    |sum(differences)|. Zero differences carry no information and are left out. With at most
    ``EXACT_MAX_PAIRS`` non-zero differences all sign patterns are enumerated (exact p); otherwise
    ``n_resamples`` random patterns are drawn and p = (extreme + 1) / (n_resamples + 1).
    """
    d = differences[differences != 0]
    m = d.size
    if m == 0:
        return 1.0, True
    observed = abs(float(d.sum()))
    tolerance = 1e-9 * float(np.abs(d).sum())
    if m <= EXACT_MAX_PAIRS:
        flips = (np.arange(2**m)[:, None] >> np.arange(m)) & 1
        totals = np.abs((1 - 2 * flips) @ d)
        return float(np.mean(totals >= observed - tolerance)), True
    total, extreme = float(d.sum()), 0
    for rows in chunks(n_resamples, m):
        random_bytes = np.frombuffer(rng.bytes((rows * m + 7) // 8), dtype=np.uint8)
        flips = np.unpackbits(random_bytes, count=rows * m).reshape(rows, m)
        extreme += int(np.sum(np.abs(total - 2.0 * (flips @ d)) >= observed - tolerance))
    return (extreme + 1) / (n_resamples + 1), False


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, for comparing many metrics (or variants) at once.

    Controls the chance of any false "better"/"worse" across the family at alpha: compare each adjusted
    p-value with alpha as usual. NaN (no test) stays NaN and does not count towards the family size.
    """
    p = np.asarray(p_values, dtype=float)
    valid = ~np.isnan(p)
    if np.any((p[valid] < 0) | (p[valid] > 1)):
        raise UserError(f"p-values must lie between 0 and 1, got {p_values!r}.")
    order = np.argsort(p[valid], kind="stable")
    m = order.size
    stepped = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[valid][order]))
    adjusted = np.empty(m)
    adjusted[order] = stepped
    result = p.copy()
    result[valid] = adjusted
    return result.tolist()
