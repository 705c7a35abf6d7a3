"""The rules of successive halving and the Pareto front on plain numbers (no runs): who is dropped, when, why."""

from __future__ import annotations

import math
import random

import pytest

from promptflow_lite.errors import UserError
from promptflow_lite.evaluate._costs import pareto_front
from promptflow_lite.evaluate._halving import Halving


def scores_for(race: Halving, rates: dict[str, float], seed: int = 0, shared: bool = True) -> dict[str, list[float]]:
    """Pass/fail per sampled line; ``shared``: the same draw per line for every variant (better rates win the same
    lines, so differences are easy to see), else an independent draw per variant."""
    draws = random.Random(seed)
    per_line = [draws.random() for _ in range(race.n_lines)]
    own = {v: [draws.random() for _ in range(race.n_lines)] for v in sorted(rates)}
    return {v: [float((per_line if shared else own[v])[i] < rates[v]) for i in race.sample]
            for v in race.rounds[-1].variants}


def test_samples_double_from_a_fixed_seed_until_the_full_data():
    race = Halving(400, ["a", "b", "c", "d", "e", "f"], "a", seed=7)
    assert race.sizes == [50, 100, 200, 400]
    first = race.next_lines()
    assert len(first) == 50 and first == Halving(400, list("abcdef"), "a", seed=7).next_lines()
    assert first != Halving(400, list("abcdef"), "a", seed=8).next_lines()
    race.decide({v: [1.0] * 50 for v in "abcdef"})
    assert race.next_lines() == race.order[50:100]  # only the new lines run


def test_a_clearly_worse_variant_is_dropped_but_never_the_baseline_or_the_leader():
    race = Halving(400, ["base", "good", "bad"], "base")
    race.next_lines()
    decided = race.decide(scores_for(race, {"base": 0.1, "good": 0.9, "bad": 0.1}))
    assert decided.leader == "good"
    assert [(d.variant, d.reason) for d in decided.dropped] == [("bad", "worse")]  # base is as bad, but stays
    assert decided.dropped[0].versus_leader.p_value < decided.level
    assert race.survivors == ["base", "good"]


def test_close_variants_stay_in_the_race_to_the_end():
    race = Halving(200, ["a", "b", "c"], "a")
    while race.next_lines():
        race.decide(scores_for(race, {"a": 0.50, "b": 0.52, "c": 0.51}, seed=3))
    assert race.survivors == ["a", "b", "c"] and race.rounds[-1].sample == 200
    assert all(not r.dropped for r in race.rounds)


def test_the_level_is_shared_by_every_pair_and_round():
    race = Halving(400, list("abcd"), "a")
    race.next_lines()
    decided = race.decide(scores_for(race, dict(zip("abcd", (0.5, 0.5, 0.5, 0.5)))))
    assert decided.level == pytest.approx(0.05 / (6 * 3))  # 6 pairs, 3 rounds planned


def test_the_budget_drops_the_lowest_ranked_then_shortens_the_last_sample():
    race = Halving(400, ["base", "w", "x", "y", "z"], "base", budget=500)
    race.next_lines()  # 5 x 50 = 250 line runs
    rates = {"base": 0.5, "w": 0.55, "x": 0.6, "y": 0.62, "z": 0.65}
    scores = scores_for(race, rates, shared=False)
    race.decide(scores)
    race.force_budget(scores)  # 250 left: 5 x 50 = 250 would fit ...
    assert not race.rounds[-1].dropped
    race.next_lines()
    scores = scores_for(race, rates, shared=False)
    race.decide(scores)
    race.force_budget(scores)  # ... now nothing is left for 5 x 100: the lowest ranked go, down to half
    assert [d.reason for d in race.rounds[-1].dropped] == ["budget"] * 2
    assert "base" in race.survivors and race.rounds[-1].leader in race.survivors
    assert race.next_lines() == [] and race.spent <= 500


def test_a_budget_below_the_first_sample_and_a_race_of_one_are_refused():
    with pytest.raises(UserError, match="cannot run 4 variants on a first sample of 20 lines"):
        Halving(400, list("abcd"), "a", budget=60)
    with pytest.raises(UserError, match="needs at least two variants"):
        Halving(400, ["a"], "a")


def test_the_pareto_front_keeps_what_nothing_beats_on_every_axis():
    points = {"cheap": (0.6, -1.0, -0.2), "best": (0.9, -5.0, -0.4), "dominated": (0.5, -2.0, -0.3),
              "fast": (0.55, -3.0, -0.1), "unknown": (math.nan, -0.5, -0.1)}
    assert pareto_front(points) == ["cheap", "best", "fast", "unknown"]
