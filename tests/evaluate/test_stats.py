"""Statistics core: known answers from textbooks and published examples, plus simulations of coverage and
type I error (seeded, so every run sees the same draws)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from promptflow_lite.errors import UserError
from promptflow_lite.evaluate.stats import (
    consistency,
    holm_adjust,
    is_binary,
    mcnemar_exact,
    mean_ci,
    metric_ci,
    newcombe_paired_ci,
    paired_difference,
    proportion_ci,
)
from promptflow_lite.evaluate.stats._paired import sign_flip_p_value

# ---------------------------------------------------------------- known answers


def test_wilson_interval_matches_textbook_values():
    eight_of_ten = proportion_ci(8, 10)
    assert eight_of_ten.method == "wilson"
    assert eight_of_ten.mean == 0.8
    assert eight_of_ten.low == pytest.approx(0.4902, abs=5e-4)
    assert eight_of_ten.high == pytest.approx(0.9433, abs=5e-4)

    none_pass, all_pass = proportion_ci(0, 10), proportion_ci(10, 10)
    assert (none_pass.low, none_pass.high) == (0.0, pytest.approx(0.2775, abs=5e-4))
    assert (all_pass.low, all_pass.high) == (pytest.approx(0.7225, abs=5e-4), 1.0)

    assert proportion_ci(8, 10, confidence=0.90).high < eight_of_ten.high


def test_proportion_of_nothing_is_nan_with_a_note_and_bad_counts_are_refused():
    empty = proportion_ci(0, 0)
    assert math.isnan(empty.mean) and empty.n == 0 and "no values" in empty.note
    with pytest.raises(UserError, match="successes"):
        proportion_ci(11, 10)
    with pytest.raises(UserError, match="confidence"):
        proportion_ci(1, 10, confidence=95)


def test_mcnemar_exact_p_value_on_known_tables():
    # b=10, c=2 discordant lines: p = 2 * P(X <= 2 | n=12, 0.5) = 2 * (1 + 12 + 66) / 4096
    assert mcnemar_exact(10, 2) == pytest.approx(2 * 79 / 4096)
    assert mcnemar_exact(10, 2) == pytest.approx(0.0386, abs=1e-4)
    assert mcnemar_exact(2, 10) == mcnemar_exact(10, 2)
    # Fagerland, Lydersen & Laake (2017), ch. 8, Cavo et al. 2012: exact conditional McNemar P = 0.052479
    assert mcnemar_exact(6, 16) == pytest.approx(0.052479, abs=1e-6)
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(7, 7) == 1.0


def test_newcombe_interval_matches_published_example():
    # Same Cavo table (59, 6 / 16, 80): square-and-add estimate -0.0621, 95 % CI -0.1186 to -0.0046
    low, high = newcombe_paired_ci(both_pass=59, only_a=16, only_b=6, both_fail=80)
    assert low == pytest.approx(-0.1186, abs=1e-4)
    assert high == pytest.approx(-0.0046, abs=1e-4)


def test_sign_flip_test_is_exact_for_few_pairs():
    rng = np.random.default_rng(0)
    # Only the all-plus and all-minus sign patterns reach |sum| = 6 out of 2**3.
    assert sign_flip_p_value(np.array([1.0, 2.0, 3.0]), 1000, rng) == (0.25, True)
    # Zero differences carry no information: five equal gains → 2 / 2**5.
    assert sign_flip_p_value(np.array([0.5] * 5 + [0.0] * 3), 1000, rng) == (2 / 32, True)


def test_holm_adjustment_of_several_metric_p_values():
    adjusted = holm_adjust([0.01, 0.04, 0.03, float("nan"), 0.5])
    assert adjusted[:3] == pytest.approx([0.04, 0.09, 0.09])
    assert math.isnan(adjusted[3]) and adjusted[4] == 0.5


# ---------------------------------------------------------------- comparing variants


def test_variant_b_better_by_construction_is_called_better():
    rng = np.random.default_rng(7)
    a = rng.normal(0.6, 0.15, size=200)
    b = a + 0.1 + rng.normal(0, 0.05, size=200)

    comparison = paired_difference(a, b)
    assert comparison.verdict == "better"
    assert 0 < comparison.low < comparison.diff_mean < comparison.high
    assert comparison.diff_mean == pytest.approx(np.mean(b - a))
    assert comparison.p_value < 0.01 and comparison.test == "sign-flip-monte-carlo"
    assert comparison.wins > comparison.losses and comparison.n_pairs == 200

    assert paired_difference(b, a).verdict == "worse"


def test_identical_variants_show_no_difference():
    scores = np.random.default_rng(1).normal(size=50)
    comparison = paired_difference(scores, scores.copy())
    assert comparison.verdict == "no detectable difference"
    assert comparison.p_value == 1.0
    assert (comparison.diff_mean, comparison.low, comparison.high) == (0.0, 0.0, 0.0)
    assert comparison.ties == 50

    passes = [True, False, True, True]
    binary = paired_difference(passes, passes)
    assert (binary.diff_mean, binary.p_value, binary.verdict) == (0.0, 1.0, "no detectable difference")


def test_lower_is_better_metrics_flip_the_verdict():
    rng = np.random.default_rng(3)
    latency_a = rng.gamma(4.0, 0.5, size=100)
    latency_b = latency_a * 0.7
    comparison = paired_difference(latency_a, latency_b, higher_is_better=False)
    assert comparison.diff_mean < 0 and comparison.high < 0
    assert comparison.verdict == "better"
    assert comparison.wins == 100


def test_pass_fail_comparison_uses_mcnemar_and_newcombe():
    # 40 lines: both pass on 20, both fail on 8, b fixes 10 lines and breaks 2.
    a = [1] * 20 + [0] * 8 + [0] * 10 + [1] * 2
    b = [1] * 20 + [0] * 8 + [1] * 10 + [0] * 2
    comparison = paired_difference(a, b)
    assert (comparison.method, comparison.test) == ("newcombe", "mcnemar-exact")
    assert comparison.p_value == pytest.approx(mcnemar_exact(2, 10))
    assert comparison.diff_mean == pytest.approx(8 / 40)
    assert comparison.low > 0 and comparison.verdict == "better"
    assert (comparison.wins, comparison.losses, comparison.ties) == (10, 2, 28)


def test_paired_inputs_must_line_up_and_be_numbers():
    with pytest.raises(UserError, match="a has 3 lines, b has 2"):
        paired_difference([1, 2, 3], [1, 2])
    with pytest.raises(UserError, match="line 1 is 'good'"):
        paired_difference([1.0, "good", 0.5], [1.0, 0.2, 0.3])
    with pytest.raises(UserError, match="not all 0/1"):
        paired_difference([0.5, 1.0], [1.0, 1.0], binary=True)


# ---------------------------------------------------------------- single metrics, missing values, edge cases


def test_missing_values_are_dropped_and_counted():
    estimate = mean_ci([0.2, None, 0.4, float("nan"), 0.6])
    assert (estimate.mean, estimate.n, estimate.n_missing) == (pytest.approx(0.4), 3, 2)

    pass_rate = metric_ci([True, None, False, True, float("nan")])
    assert pass_rate.method == "wilson" and pass_rate.n == 3 and pass_rate.n_missing == 2

    comparison = paired_difference([0.1, None, 0.5, 0.7], [0.2, 0.3, float("nan"), 0.9])
    assert (comparison.n_pairs, comparison.n_missing) == (2, 2)
    assert comparison.diff_mean == pytest.approx(0.15)


def test_degenerate_samples_say_why_there_is_no_interval():
    nothing = mean_ci([None, None])
    assert math.isnan(nothing.mean) and nothing.n == 0 and nothing.n_missing == 2 and nothing.note

    single = mean_ci([0.7])
    assert single.mean == 0.7 and math.isnan(single.low) and math.isnan(single.high) and single.note

    constant = mean_ci([0.5] * 20)
    assert (constant.low, constant.high) == (0.5, 0.5)

    no_pairs = paired_difference([None, 1.0], [0.5, None])
    assert no_pairs.n_pairs == 0 and no_pairs.verdict == "no detectable difference" and no_pairs.note


def test_binary_detection():
    assert is_binary([True, False, None])
    assert is_binary(np.array([0.0, 1.0, np.nan]))
    assert not is_binary([0, 1, 0.5])
    assert not is_binary([None])
    assert metric_ci([0.2, 0.9, 0.4]).method == "bootstrap-bca"


def test_results_are_reproducible_and_serialisable():
    values = np.random.default_rng(5).exponential(size=80)
    assert mean_ci(values, seed=1) == mean_ci(values, seed=1)
    assert mean_ci(values, seed=1).low != mean_ci(values, seed=2).low

    as_json = json.loads(json.dumps(mean_ci([0.3]).to_dict()))
    assert as_json["mean"] == 0.3 and as_json["low"] is None
    assert json.loads(json.dumps(paired_difference([1, 0], [1, 1]).to_dict()))["verdict"]


# ---------------------------------------------------------------- repeats


def test_consistency_of_repeated_pass_fail_runs():
    result = consistency([[1, 1, 1], [1, 0, 1], [0, 0, 0], [0, 1, None], [None, None, None]])
    assert result.per_line[:4] == pytest.approx([1.0, 2 / 3, 1.0, 0.5])
    assert math.isnan(result.per_line[4])
    assert result.flaky_lines == (1, 3)
    assert (result.n_lines, result.n_repeats) == (5, 3)
    assert result.mean.mean == pytest.approx((1 + 2 / 3 + 1 + 0.5) / 4) and result.mean.n_missing == 1
    assert result.binary
    assert (result.all_pass.mean, result.all_pass.n) == (0.25, 4)  # pass^k: only line 0
    assert result.any_pass.mean == 0.75  # pass@k: lines 0, 1, 3


def test_consistency_of_ratings_has_no_pass_rates():
    result = consistency([[4, 4, 5], [3, 3, 3]])
    assert result.per_line == pytest.approx((2 / 3, 1.0))
    assert not result.binary and result.all_pass is None and result.any_pass is None


# ---------------------------------------------------------------- simulations


def _coverage(intervals, truth):
    return np.mean([low <= truth <= high for low, high in intervals])


def test_mean_ci_coverage_on_normal_data():
    rng = np.random.default_rng(11)
    intervals = [(e.low, e.high) for e in (mean_ci(rng.normal(0.5, 0.2, 50), seed=i) for i in range(300))]
    assert 0.90 <= _coverage(intervals, 0.5) <= 0.99


def test_wilson_coverage_on_bernoulli_data():
    rng = np.random.default_rng(12)
    intervals = [(e.low, e.high) for e in (proportion_ci(int(k), 50) for k in rng.binomial(50, 0.7, 2000))]
    assert 0.92 <= _coverage(intervals, 0.7) <= 0.98


def test_paired_difference_coverage_for_scores_and_pass_rates():
    rng = np.random.default_rng(13)
    scores = []
    for i in range(300):
        a = rng.normal(0.0, 1.0, 50)
        scores.append(paired_difference(a, a + 0.2 + rng.normal(0, 0.5, 50), seed=i))
    assert 0.90 <= _coverage([(c.low, c.high) for c in scores], 0.2) <= 0.99

    passes = []
    for _ in range(1000):
        a = rng.random(50) < 0.7
        b = np.where(rng.random(50) < 0.8, a, rng.random(50) < 0.75)  # P(b) = 0.8 * 0.7 + 0.2 * 0.75 = 0.71
        passes.append(paired_difference(a, b))
    assert all(c.method == "newcombe" for c in passes)
    assert 0.90 <= _coverage([(c.low, c.high) for c in passes], 0.01) <= 0.99


def test_paired_tests_keep_type_one_error_near_alpha():
    rng = np.random.default_rng(14)
    scores = []
    for i in range(400):
        a = rng.normal(0.0, 1.0, 30)
        scores.append(paired_difference(a, a + rng.normal(0, 0.5, 30), n_resamples=1000, seed=i))
    assert 0.02 <= np.mean([c.p_value < 0.05 for c in scores]) <= 0.08
    assert np.mean([c.verdict != "no detectable difference" for c in scores]) <= 0.08

    passes = []
    for _ in range(1000):
        a = rng.random(60) < 0.6
        passes.append(paired_difference(a, np.where(rng.random(60) < 0.7, a, rng.random(60) < 0.6)))
    rejections = np.mean([c.p_value < 0.05 for c in passes])
    assert 0.005 <= rejections <= 0.06  # the exact McNemar test is conservative, never liberal


def test_quantile_ci_gives_a_median_and_a_p95_with_intervals():
    from promptflow_lite.evaluate.stats import quantile_ci

    values = list(range(1, 102))  # 1..101
    median, p95 = quantile_ci(values, 0.5), quantile_ci(values, 0.95)
    assert median.mean == 51 and median.low < 51 < median.high and median.method == "bootstrap-percentile"
    assert p95.mean == 96 and p95.low <= 96 <= p95.high <= 101
    assert quantile_ci(values, 0.5, seed=1) == quantile_ci(values, 0.5, seed=1)
    one = quantile_ci([0.3, None], 0.95)
    assert one.mean == 0.3 and math.isnan(one.low) and one.n_missing == 1
    assert math.isnan(quantile_ci([], 0.5).mean)
