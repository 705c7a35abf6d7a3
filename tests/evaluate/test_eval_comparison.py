"""The pieces behind ``pfl eval`` on plain score lists: comparison, table, gates, JUnit, evaluator specs."""

from __future__ import annotations

import random
from xml.etree import ElementTree

import pytest

from promptflow_lite.errors import UserError
from promptflow_lite.evaluate._registry import evaluator_path
from promptflow_lite.evaluate._comparison import compare
from promptflow_lite.evaluate._evaluators import (
    EvaluatorSpec, input_mapping, parse_evaluator, parse_evaluators, parse_mapping_overrides,
)
from promptflow_lite.evaluate._gates import check, parse_gates, resolve_metric
from promptflow_lite.evaluate._junit import junit_xml
from promptflow_lite.evaluate._explain import format_report


def single(values):
    """One repeat per line."""
    return [[v] for v in values]


def synthetic(shift: float, n: int = 60, seed: int = 7):
    """Scores of variant a, and of b = a + shift + small noise (paired by construction)."""
    rng = random.Random(seed)
    a = [rng.uniform(0, 1) for _ in range(n)]
    b = [x + shift + rng.gauss(0, 0.05) for x in a]
    return a, b


# ---------------------------------------------------------------- comparison


def test_a_variant_better_by_construction_is_better_and_the_baseline_sees_it_worse():
    a, b = synthetic(0.1)
    report = compare({"a": {"score": single(a)}, "b": {"score": single(b)}})
    pair = report.pair("b", "score")
    assert report.baseline == "a" and pair.verdict == "better"
    assert 0.05 < pair.comparison.low < 0.1 < pair.comparison.high < 0.15
    flipped = compare({"a": {"score": single(a)}, "b": {"score": single(b)}}, baseline="b")
    assert flipped.pair("a", "score").verdict == "worse"


def test_identical_variants_show_no_detectable_difference():
    a, _ = synthetic(0.0)
    report = compare({"a": {"score": single(a)}, "b": {"score": single(a)}})
    pair = report.pair("b", "score")
    assert pair.verdict == "no detectable difference"
    assert pair.comparison.diff_mean == 0.0 and pair.comparison.p_value == 1.0


def test_a_tiny_difference_drowned_in_noise_is_not_declared():
    rng = random.Random(3)
    a = [rng.uniform(0, 1) for _ in range(40)]
    b = [x + rng.gauss(0.01, 0.3) for x in a]
    assert compare({"a": {"s": single(a)}, "b": {"s": single(b)}}).pair("b", "s").verdict == "no detectable difference"


def test_lower_is_better_turns_the_verdict_around():
    a, b = synthetic(0.1)
    report = compare({"a": {"latency": single(a)}, "b": {"latency": single(b)}}, lower_is_better=["latency"])
    assert report.pair("b", "latency").verdict == "worse"


def test_pass_fail_metrics_use_wilson_and_mcnemar():
    a = [1] * 10 + [0] * 20
    b = [1] * 28 + [0] * 2
    report = compare({"a": {"passed": single(a)}, "b": {"passed": single(b)}})
    assert report.summary("b", "passed").estimate.method == "wilson"
    assert report.pair("b", "passed").comparison.test == "mcnemar-exact"
    assert report.pair("b", "passed").verdict == "better"


def test_repeats_are_averaged_per_line_and_measured_for_consistency():
    lines = [[1, 1, 1], [1, 0, 1], [0, 0, 0], [None, 1, 1]]
    report = compare({"only": {"passed": lines}})
    summary = report.summary("only", "passed")
    assert report.repeats == 3 and report.baseline is None and not report.paired
    assert summary.estimate.mean == pytest.approx((1 + 2 / 3 + 0 + 1) / 4)
    assert summary.consistency.flaky_lines == (1,)


def test_missing_scores_are_dropped_and_counted():
    report = compare({"a": {"s": single([1.0, None, 0.5])}, "b": {"s": single([0.5, 0.5, None])}})
    assert report.summary("a", "s").estimate.n_missing == 1
    assert report.pair("b", "s").comparison.n_pairs == 1 and report.pair("b", "s").comparison.n_missing == 2


def test_holm_adjusted_p_values_are_never_smaller():
    a, b = synthetic(0.03, n=30)
    report = compare({"a": {"x": single(a), "y": single(b)}, "b": {"x": single(b), "y": single(a)}})
    for pair in report.paired.values():
        assert pair.p_holm >= pair.comparison.p_value


def test_misaligned_variants_and_unknown_baselines_are_errors():
    with pytest.raises(UserError, match="different numbers of lines"):
        compare({"a": {"s": single([1, 0])}, "b": {"s": single([1, 0, 1])}})
    with pytest.raises(UserError, match="Baseline 'c'"):
        compare({"a": {"s": single([1])}, "b": {"s": single([0])}}, baseline="c")


def test_json_form_has_mean_ci_and_the_comparison_per_variant_and_metric():
    a, b = synthetic(0.1)
    data = compare({"a": {"s": single(a)}, "b": {"s": single(b)}}).to_dict()
    entry = data["variants"]["b"]["s"]
    assert {"mean", "low", "high", "n", "method"} <= set(entry)
    assert {"diff_mean", "low", "high", "p_value", "p_holm", "verdict", "baseline"} <= set(entry["vs_baseline"])
    assert "vs_baseline" not in data["variants"]["a"]["s"]


def test_the_table_names_every_number():
    a, b = synthetic(0.1)
    text = format_report(compare({"a": {"s": single(a)}, "b": {"s": single(b)}}))
    assert "2 variants on 60 lines; baseline: a" in text
    assert "95% CI" in text and "diff vs baseline" in text and "better" in text
    assert "p_holm" not in text  # a single comparison needs no correction


# ---------------------------------------------------------------- gates and JUnit


def pass_fail_report():
    return compare({"v0": {"exact_match.passed": single([1] * 6 + [0] * 14), "f1_score.f1_score": single([0.5] * 20)},
                    "v1": {"exact_match.passed": single([1] * 19 + [0]), "f1_score.f1_score": single([0.9] * 20)}})


def test_gates_are_parsed_and_name_metrics_by_full_evaluator_or_output_name():
    assert parse_gates(["exact_match=0.8", "f1_score.f1_score=0.5"])[0].threshold == 0.8
    metrics = ["exact_match.passed", "f1_score.f1_score", "contains.passed"]
    assert resolve_metric("exact_match", metrics) == "exact_match.passed"
    assert resolve_metric("f1_score", metrics) == "f1_score.f1_score"
    with pytest.raises(UserError, match="ambiguous"):
        resolve_metric("passed", metrics)
    with pytest.raises(UserError, match="Unknown metric 'bleu'"):
        resolve_metric("bleu", metrics)
    for bad in ("exact_match", "exact_match=high", "=0.5"):
        with pytest.raises(UserError, match="--fail-under"):
            parse_gates([bad])


def test_gates_check_every_variants_mean():
    checks = check(pass_fail_report(), parse_gates(["exact_match=0.8"]))
    by_key = {(c.variant, c.metric): c for c in checks}
    assert len(checks) == 4
    assert not by_key[("v0", "exact_match.passed")].passed
    failures = by_key[("v0", "exact_match.passed")].failures
    assert "mean 0.3 is below the gate 0.8 (gate on the mean over lines)" in failures
    assert by_key[("v1", "exact_match.passed")].passed and by_key[("v0", "f1_score.f1_score")].passed


def test_fail_if_worse_flags_significant_regressions_only():
    checks = check(pass_fail_report(), fail_if_worse=True)
    assert all(c.passed for c in checks)  # v1 is better than the baseline v0
    report = compare({"v0": {"s": single([1] * 20)}, "v1": {"s": single([0] * 20)}})
    (baseline, variant) = check(report, fail_if_worse=True)
    assert baseline.passed and not variant.passed and "significantly worse than v0" in variant.failures[0]


def test_junit_has_one_testcase_per_variant_and_metric():
    report = pass_fail_report()
    xml = junit_xml(report, check(report, parse_gates(["exact_match=0.8"])))
    root = ElementTree.fromstring(xml)
    assert root.tag == "testsuites" and root.get("tests") == "4" and root.get("failures") == "1"
    failed = [case for case in root.iter("testcase") if case.find("failure") is not None]
    assert [(case.get("classname"), case.get("name")) for case in failed] == [("pfl.eval.v0", "exact_match.passed")]
    properties = {p.get("name"): p.get("value") for p in failed[0].iter("property")}
    assert properties["mean"] == "0.3" and properties["n"] == "20"


# ---------------------------------------------------------------- evaluator specs and mapping


def test_evaluator_specs_with_parameters_aliases_and_paths(make_flow):
    spec = parse_evaluator(r"regex:pattern=^\d{3},\d+$,full_match=true")
    assert spec.alias == "regex" and spec.path == evaluator_path("regex")
    assert spec.params == {"pattern": r"^\d{3},\d+$", "full_match": "true"}
    assert parse_evaluator("paris=contains:substring=Paris").alias == "paris"
    folder = make_flow({"flow.dag.yaml": "inputs:\n  answer: {type: string}\n"}, name="my_eval")
    assert parse_evaluator(str(folder)) == EvaluatorSpec("my_eval", folder.resolve(), {})
    assert parse_evaluator(f"mine={folder}:answer=x").params == {"answer": "x"}
    with pytest.raises(UserError, match="Unknown evaluator 'rogue'"):
        parse_evaluator("rogue")
    with pytest.raises(UserError, match="Two evaluators are named 'contains'"):
        parse_evaluators(["contains:substring=a", "contains:substring=b"])


def test_mapping_overrides_name_an_evaluator_and_an_input():
    specs = parse_evaluators(["f1_score"])
    assert parse_mapping_overrides(["f1_score.answer=${run.outputs.text}"], specs) == {
        "f1_score": {"answer": "${run.outputs.text}"}}
    with pytest.raises(UserError, match="names no evaluator"):
        parse_mapping_overrides(["bleu.answer=x"], specs)
    with pytest.raises(UserError, match="EVALUATOR.INPUT=VALUE"):
        parse_mapping_overrides(["f1_score=x"], specs)


def test_inputs_map_from_overrides_params_outputs_then_data():
    spec = parse_evaluator("contains:case_sensitive=true")
    mapping = input_mapping(spec, run_outputs=["answer"], data_columns=["question", "ground_truth", "substring"])
    assert mapping == {"answer": "${run.outputs.answer}", "substring": "${data.substring}",
                       "ground_truth": "${data.ground_truth}", "case_sensitive": "true"}
    mapping = input_mapping(spec, ["answer", "ground_truth"], ["ground_truth"], {"answer": "${data.ground_truth}"})
    assert mapping["answer"] == "${data.ground_truth}" and mapping["ground_truth"] == "${run.outputs.ground_truth}"
    assert "substring" not in mapping  # has a default: left to it


def test_answer_falls_back_to_the_flows_only_output():
    mapping = input_mapping(parse_evaluator("exact_match"), ["category"], ["ground_truth"])
    assert mapping["answer"] == "${run.outputs.category}"
    with pytest.raises(UserError, match="needs input 'answer'") as info:
        input_mapping(parse_evaluator("exact_match"), ["category", "priority"], ["ground_truth"])
    assert "--evaluator-mapping exact_match.answer=" in str(info.value)
