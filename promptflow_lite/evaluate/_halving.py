"""Successive halving: every variant on a small sample, drop those clearly worse, double the sample, repeat.

The samples are nested: a permutation of the line numbers fixed by ``seed``; round r evaluates the
survivors on its first ``n_r`` lines (only the lines new in the round run). ``n_r`` doubles until
the full data, with ``1 + ceil(log2(variants))`` rounds planned and at least ``MIN_LINES`` in the
first one. After a round the leader is the best mean of the primary metric on the sample.

A variant is dropped only when

* the paired test against the leader says it is worse at level ``alpha / (pairs × rounds)``: a
  Bonferroni bound over every pair of the round's variants and every round, which holds whichever
  variant leads, so the chance that halving ever drops a variant on a false "worse" is at most
  ``alpha``; or
* the budget (``budget`` line runs: one variant on one line, each repeat counting) cannot pay for
  every survivor on the next sample: the lowest ranked go first, down to the better half, then the
  sample grows only by what is left and that round is the last. Such drops say "budget".

The leader and the baseline are never dropped (every variant stays comparable with the baseline
on the same lines), and nothing is dropped after the last round.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

from promptflow_lite.errors import UserError
from promptflow_lite.evaluate.stats import Comparison, paired_difference

MIN_LINES = 20  # lines of the first sample, at least (a paired test on fewer says little)
WORSE, BUDGET = "worse", "budget"


@dataclass(frozen=True)
class Drop:
    """A variant leaving the race: ``reason`` is "worse" (the test) or "budget"; ``versus_leader`` its test."""

    variant: str
    reason: str
    versus_leader: Comparison


@dataclass
class Round:
    """One round: the lines it ran, who ran them, the leader after it, who was dropped and why."""

    number: int
    sample: int  # lines in the sample so far
    new_lines: int  # lines run in this round
    variants: list[str]
    leader: str = ""
    means: dict[str, float] = field(default_factory=dict)
    level: float = math.nan  # the test level of this round's drops
    dropped: list[Drop] = field(default_factory=list)
    spend: dict[str, Any] = field(default_factory=dict)  # filled by the session: calls, tokens, saved


class Halving:
    """The state of a successive-halving race over ``variants`` (the first is kept as the baseline)."""

    def __init__(self, n_lines: int, variants: Sequence[str], baseline: str | None, *, repeats: int = 1,
                 seed: int = 0, budget: int | None = None, alpha: float = 0.05, higher_is_better: bool = True):
        import numpy as np

        if len(variants) < 2:
            raise UserError("--halving needs at least two variants to choose between.",
                            hint="evaluate a grid (--grid) or several variants (--variants all).")
        self.n_lines, self.repeats, self.alpha, self.seed = n_lines, repeats, alpha, seed
        self.higher_is_better = higher_is_better
        self.baseline = baseline
        self.survivors = list(variants)
        self.order = [int(i) for i in np.random.default_rng(seed).permutation(n_lines)]
        self.planned = 1 + math.ceil(math.log2(len(variants)))
        first = max(MIN_LINES, math.ceil(n_lines / 2 ** (self.planned - 1)))
        self.budget = budget
        if budget is not None:
            affordable = budget // (len(variants) * repeats)
            if affordable < min(MIN_LINES, n_lines):
                raise UserError(f"--budget-lines {budget} cannot run {len(variants)} variants on a first sample of "
                                f"{min(MIN_LINES, n_lines)} lines{' x %d repeats' % repeats if repeats > 1 else ''}.",
                                hint=f"raise it to at least {len(variants) * repeats * min(MIN_LINES, n_lines)}.")
            first = min(first, affordable)
        self.sizes = [min(n_lines, first * 2 ** r) for r in range(self.planned)]
        self.sizes = sorted(set(self.sizes[:-1] + [n_lines]))  # always planned to end on the full data
        self.planned = len(self.sizes)
        self.spent = 0
        self.rounds: list[Round] = []
        self.finished = False

    def next_lines(self) -> list[int]:
        """The line numbers the survivors run next (empty when the race is over); the budget may shrink them."""
        done = self.rounds[-1].sample if self.rounds else 0
        if self.finished or done >= self.n_lines or len(self.rounds) >= len(self.sizes):
            return []
        target = self.sizes[len(self.rounds)]
        if self.budget is not None:
            target = done + self._afford(target - done)
        if target <= done:
            self.finished = True
            return []
        if target < self.sizes[len(self.rounds)]:
            self.sizes = self.sizes[:len(self.rounds)] + [target]  # the budget ends the race with this round
        self.rounds.append(Round(len(self.rounds) + 1, target, target - done, list(self.survivors)))
        self.spent += (target - done) * len(self.survivors) * self.repeats
        return self.order[done:target]

    @property
    def sample(self) -> list[int]:
        """The line numbers evaluated so far (in sample order)."""
        return self.order[:self.rounds[-1].sample] if self.rounds else []

    def decide(self, scores: dict[str, Sequence[float | None]]) -> Round:
        """Close the current round: ``scores[variant][i]`` is the primary metric on ``sample[i]`` (None = no score)."""
        current = self.rounds[-1]
        means = {v: _mean(scores[v]) for v in current.variants}
        current.means = means
        current.leader = max(current.variants, key=lambda v: _rank_value(means[v], self.higher_is_better))
        last = current.sample >= self.n_lines or len(self.rounds) >= len(self.sizes)
        pairs = len(current.variants) * (len(current.variants) - 1) // 2
        current.level = self.alpha / max(1, pairs * self.planned)
        if last or len(current.variants) < 2:
            self.finished = True
            return current
        for variant in current.variants:
            if variant in (current.leader, self.baseline):
                continue
            versus = self._versus_leader(scores, current.leader, variant, current.level)
            if versus.verdict == "worse":
                current.dropped.append(Drop(variant, WORSE, versus))
        gone = {d.variant for d in current.dropped}
        self.survivors = [v for v in current.variants if v not in gone]
        return current

    def force_budget(self, scores: dict[str, Sequence[float | None]]) -> None:
        """Before the next round: drop the lowest ranked survivors the budget cannot pay for (to the better half)."""
        if self.budget is None or self.finished or not self.rounds:
            return
        current, done = self.rounds[-1], self.rounds[-1].sample
        if len(self.rounds) >= len(self.sizes):
            return
        wanted = self.sizes[len(self.rounds)] - done
        keep_at_least = max(math.ceil(len(current.variants) / 2), len({current.leader, self.baseline} - {None}))
        ranked = sorted(self.survivors, key=lambda v: _rank_value(current.means[v], self.higher_is_better))
        for variant in ranked:  # worst first
            if self._cost(wanted) <= self._left() or len(self.survivors) <= keep_at_least:
                break
            if variant in (current.leader, self.baseline):
                continue
            versus = self._versus_leader(scores, current.leader, variant, current.level)
            current.dropped.append(Drop(variant, BUDGET, versus))
            self.survivors.remove(variant)

    def _versus_leader(self, scores, leader: str, variant: str, level: float) -> Comparison:
        return paired_difference(scores[leader], scores[variant], confidence=1 - level,
                                 higher_is_better=self.higher_is_better)

    def _cost(self, lines: int) -> int:
        return lines * len(self.survivors) * self.repeats

    def _left(self) -> int:
        return (self.budget or 0) - self.spent

    def _afford(self, lines: int) -> int:
        return max(0, min(lines, self._left() // max(1, len(self.survivors) * self.repeats)))


def _mean(values: Sequence[float | None]) -> float:
    kept = [v for v in values if v is not None and not math.isnan(v)]
    return sum(kept) / len(kept) if kept else math.nan


def _rank_value(mean: float, higher_is_better: bool) -> float:
    if math.isnan(mean):
        return -math.inf
    return mean if higher_is_better else -mean
