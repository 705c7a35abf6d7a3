"""Repeat-aware reliability: how often a line's R repeated scores agree, and pass@k / pass^k for pass/fail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ._values import as_values, to_dict
from ._intervals import Estimate, bootstrap_mean, is_binary, proportion_ci


@dataclass(frozen=True)
class Consistency:
    """Agreement of repeated scores, line by line and overall.

    ``per_line[i]`` is the share of line i's repeats equal to that line's most common score (1.0 = stable;
    NaN when the line has no scores). ``mean`` is the mean agreement over lines with its bootstrap CI.
    ``flaky_lines`` lists the indices of lines whose repeats disagree. For pass/fail scores,
    ``all_pass`` (pass^k) is the share of lines that passed in every repeat and ``any_pass`` (pass@k,
    k = repeats) the share that passed at least once, each with a Wilson interval; None otherwise.
    """

    per_line: tuple[float, ...]
    mean: Estimate
    n_lines: int
    n_repeats: int
    flaky_lines: tuple[int, ...]
    binary: bool
    all_pass: Estimate | None = None
    any_pass: Estimate | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; NaN becomes None."""
        return to_dict(self)


def consistency(
    repeats: Sequence[Sequence[Any]], confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0
) -> Consistency:
    """Summarise ``--repeats R`` results: ``repeats[i]`` holds line i's R scores (None/NaN = failed repeat).

    Missing repeats are ignored, so pass^k/pass@k use the repeats a line actually has; lines with no
    score at all get agreement NaN and are left out of ``mean``, ``all_pass`` and ``any_pass``.
    Scores are compared for exact equality, so agreement suits discrete scores (pass/fail, 1-5 ratings).
    """
    lines = [_kept(as_values(scores, f"repeats of line {i}")) for i, scores in enumerate(repeats)]
    per_line = np.array([_agreement(scores) for scores in lines])
    scored = [scores for scores in lines if scores.size]
    binary = bool(scored) and is_binary(np.concatenate(scored))
    mean = bootstrap_mean(per_line, confidence, n_resamples, np.random.default_rng(seed))
    all_pass = any_pass = None
    if binary:
        all_pass = proportion_ci(sum(bool(s.min() == 1) for s in scored), len(scored), confidence)
        any_pass = proportion_ci(sum(bool(s.max() == 1) for s in scored), len(scored), confidence)
    return Consistency(
        per_line=tuple(float(v) for v in per_line),
        mean=mean,
        n_lines=len(lines),
        n_repeats=max((scores.size for scores in lines), default=0),
        flaky_lines=tuple(int(i) for i in np.flatnonzero(per_line < 1)),
        binary=binary,
        all_pass=all_pass,
        any_pass=any_pass,
    )


def _kept(scores: np.ndarray) -> np.ndarray:
    return scores[~np.isnan(scores)]


def _agreement(scores: np.ndarray) -> float:
    if scores.size == 0:
        return float("nan")
    _, counts = np.unique(scores, return_counts=True)
    return float(counts.max() / scores.size)
