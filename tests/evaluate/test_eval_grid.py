"""``pfl eval --grid``: every combination of two nodes' variants, readable labels, the best named with its
statistics, and the python node upstream of both variant nodes run once per line, not once per combination."""

from __future__ import annotations

import json

import pytest

from _grid_flow import BASELINE, BEST, EXACT, pfl, server, write_grid_flow, write_words  # noqa: F401


def test_a_grid_evaluates_every_combination_and_names_the_best(server, tmp_path, capsys):
    flow, data = write_grid_flow(tmp_path / "words"), write_words(tmp_path / "data.jsonl", 60)
    assert pfl("eval", "--flow", flow, "--data", data, "--grid", *EXACT, "--json", tmp_path / "r.json") == 0
    out = capsys.readouterr().out

    result = json.loads((tmp_path / "r.json").read_text())
    combos = result["grid"]["combinations"]
    assert len(combos) == 6 and result["grid"]["nodes"] == ["rewrite", "answer"]
    assert combos[BEST] == {"rewrite": "plain", "answer": "precise"}
    assert result["baseline"] == BASELINE  # the flow's defaults
    best = result["best"]
    assert best["variant"] == BEST and best["metric"] == "exact_match.passed"
    assert best["estimate"]["mean"] == pytest.approx(0.9) and best["estimate"]["low"] < 0.9 < best["estimate"]["high"]
    versus = best["vs_baseline"]
    assert versus["diff_mean"] == pytest.approx(0.6) and versus["p_value"] < 0.001 and versus["verdict"] == "better"
    assert versus["p_holm"] < 0.001
    means = {label: v["exact_match.passed"]["mean"] for label, v in result["variants"].items()}
    assert means == pytest.approx({BASELINE: 0.3, "rewrite=plain,answer=careful": 0.6, BEST: 0.9,
                                   "rewrite=short,answer=casual": 0.3, "rewrite=short,answer=careful": 0.6,
                                   "rewrite=short,answer=precise": 0.8})

    assert "6 variants on 60 lines; baseline: rewrite=plain,answer=casual" in out
    assert f"Best on exact_match.passed: {BEST}  0.900 [" in out
    assert "vs baseline rewrite=plain,answer=casual: +0.600 [" in out
    assert "Cost and latency per variant" in out


def test_the_python_node_upstream_of_the_variants_runs_once_per_line(server, tmp_path, capsys):
    flow, data = write_grid_flow(tmp_path / "words"), write_words(tmp_path / "data.jsonl", 30)
    assert pfl("eval", "--flow", flow, "--data", data, "--grid", *EXACT, "--json", tmp_path / "r.json") == 0
    assert len((tmp_path / "prep.log").read_text().splitlines()) == 30  # not 6 x 30
    # rewrite runs twice per line (one per variant), answer six times: 8 requests per line
    assert server.stats["requests"] == 30 * 8

    result = json.loads((tmp_path / "r.json").read_text())
    assert result["spend"]["calls"] == 30 * 8
    assert result["spend"]["reused_node_results"] == 30 * 5 + 30 * 4  # prep x 5 combinations, rewrite x 2 x 2
    # the run of a later combination records where its shared nodes came from
    runs = result["runs"]["rewrite=short,answer=precise"]["base"]
    assert len(runs) == 1
    from promptflow_lite.runs._client import Client

    details = Client().get_details(runs[0])
    assert list(details["outputs.answer"][:3]) == ["apple", "pear", "plum"]
    from promptflow_lite.runs._store import RunFolder

    entry = RunFolder(Client().runs.get(runs[0]).output_path).read_journal()[0]
    nodes = {node["node"]: node for node in entry["nodes"]}
    assert nodes["prep"]["reused_from"].endswith("rewrite_plain_answer_casual")
    assert nodes["rewrite"]["reused_from"].endswith("rewrite_short_answer_casual")
    assert "reused_from" not in nodes["answer"]
    # the line's trace still shows every node; a reused one says where it came from
    capsys.readouterr()
    assert pfl("trace", "show", details["trace_id"][0], "--output", "json") == 0
    spans = {span["name"]: span for span in json.loads(capsys.readouterr().out)["spans"]}
    assert {"prep", "rewrite", "answer"} <= set(spans)
    assert spans["prep"]["attributes"]["reused_from"] == nodes["prep"]["reused_from"]
    assert "reused_from" not in spans["answer"]["attributes"]


def test_variants_with_a_wildcard_choose_the_nodes_of_the_grid(server, tmp_path, capsys):
    flow, data = write_grid_flow(tmp_path / "words"), write_words(tmp_path / "data.jsonl", 20)
    code = pfl("eval", "--flow", flow, "--data", data, "--variants", "rewrite.*,answer.careful,answer.precise",
               *EXACT, "--json", tmp_path / "r.json", "-q")
    assert code == 0
    result = json.loads((tmp_path / "r.json").read_text())
    assert list(result["grid"]["combinations"]) == ["rewrite=plain,answer=careful", BEST,
                                                    "rewrite=short,answer=careful", "rewrite=short,answer=precise"]
    assert result["baseline"] == "rewrite=plain,answer=careful"  # the defaults are not in the grid: the first


def test_a_run_takes_one_variant_for_each_of_several_nodes(server, tmp_path, capsys):
    flow, data = write_grid_flow(tmp_path / "words"), write_words(tmp_path / "data.jsonl", 10)
    code = pfl("run", "create", "--flow", flow, "--data", data, "--variant", "${rewrite.short},${answer.precise}",
               "--name", "combo")
    assert code == 0
    from promptflow_lite.runs._client import Client

    answers = list(Client().get_details("combo")["outputs.answer"])
    assert answers[:7] == ["apple", "pear", "plum", "fig", "kiwi", "lime", "date"]
    assert answers[7] != "melon" and answers[9] != "grape"  # short loses line 7's word, precise misses 9


def test_grid_mistakes_are_named_before_anything_runs(server, tmp_path, make_flow, capsys):
    flow, data = write_grid_flow(tmp_path / "words"), write_words(tmp_path / "data.jsonl", 5)
    assert pfl("eval", "--flow", flow, "--data", data, "--variants", "retrieve.*", *EXACT) == 1
    assert "'retrieve.*' names node 'retrieve', which has no variants" in capsys.readouterr().err
    plain = make_flow({"flow.dag.yaml": "inputs: {question: {type: string}}\noutputs: {answer: {type: string, "
                                        "reference: '${inputs.question}'}}\nnodes: []\n"}, name="plain")
    assert pfl("eval", "--flow", plain, "--data", data, "--grid", *EXACT) == 1
    assert "The flow has no node variants, so there is no grid to evaluate" in capsys.readouterr().err
    assert pfl("run", "create", "--flow", flow, "--data", data, "--variant", "${rewrite.plain},${rewrite.short}") == 1
    assert "names two variants of node 'rewrite'" in capsys.readouterr().err
    assert server.stats["requests"] == 0


def test_a_grid_started_in_the_background_races_as_on_the_command_line(tmp_path, monkeypatch):
    import time

    import yaml

    from promptflow_lite.evaluate._background import FAILED, SUCCEEDED, start_evaluation
    from promptflow_lite.evaluate._evaluators import parse_evaluators, parse_mapping_overrides
    from promptflow_lite.evaluate._session import EvaluationPlan, choose_variants
    from _grid_flow import RULES

    monkeypatch.setenv("PREP_LOG", str(tmp_path / "prep.log"))
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(RULES))
    flow, data = write_grid_flow(tmp_path / "words"), write_words(tmp_path / "data.jsonl", 60)
    specs = parse_evaluators(["exact_match"])
    plan = EvaluationPlan(flow=flow, data=data, evaluators=specs, variants=choose_variants(flow, None, grid=True),
                          evaluator_mapping=parse_mapping_overrides([EXACT[-1]], specs), name="bgrid",
                          halving=True, slice_by=["topic"])
    job = start_evaluation(plan, evaluator_args=["exact_match"], scripted_llm=tmp_path / "rules.yaml")
    assert job.runs[:2] == ["bgrid_rewrite_plain_answer_casual_round1",
                            "bgrid_rewrite_plain_answer_casual_round1_exact_match"]  # the first round's runs
    deadline = time.monotonic() + 300
    while job.state not in (SUCCEEDED, FAILED):
        assert time.monotonic() < deadline, job.log[-2000:]
        time.sleep(0.2)
    assert job.state == SUCCEEDED, job.log[-2000:]
    assert job.result["best"]["variant"] == BEST and len(job.result["grid"]["combinations"]) == 6
    assert job.result["halving"]["rounds"][0]["lines"] == 20 and job.result["slices"]["columns"][0]["column"] == "topic"
