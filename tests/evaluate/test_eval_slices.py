"""``pfl eval --slice-by``: every metric per slice with its CI and paired difference; a slice where a variant
reverses the overall verdict is flagged, and on data where nothing differs nothing is (fixed seeds)."""

from __future__ import annotations

import json
import random

from promptflow_lite.cli.main import main

FLOW = """
inputs:
  topic: {type: string}
  u1: {type: double}
  u2: {type: double}
outputs:
  answer: {type: string, reference: "${judge.output}"}
nodes:
- name: judge
  use_variants: true
node_variants:
  judge:
    default_variant_id: old
    variants:
      old:
        node: {type: python, source: {type: code, path: old.py},
               inputs: {topic: "${inputs.topic}", u: "${inputs.u1}"}}
      new:
        node: {type: python, source: {type: code, path: new.py},
               inputs: {topic: "${inputs.topic}", u: "${inputs.u2}"}}
"""
JUDGE = """
from promptflow.core import tool


@tool
def judge(topic: str, u: float) -> str:
    return "yes" if u < {rates}.get(topic, {default}) else "no"
"""
EXACT = ["-e", "exact_match", "--evaluator-mapping", "exact_match.answer=${run.outputs.answer}",
         "exact_match.ground_truth=${data.truth}"]


def judge_flow(make_flow, old: dict, new: dict, default_old: float, default_new: float, name: str):
    return make_flow({"flow.dag.yaml": FLOW,
                      "old.py": JUDGE.replace("{rates}", repr(old)).replace("{default}", repr(default_old)),
                      "new.py": JUDGE.replace("{rates}", repr(new)).replace("{default}", repr(default_new))},
                     name=name)


def topic_data(path, seed: int, lines: int = 300):
    rng = random.Random(seed)
    rows = [{"topic": "abc"[i % 3], "u1": rng.random(), "u2": rng.random(), "truth": "yes",
             "length": rng.randint(1, 1000)} for i in range(lines)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def evaluate(flow, data, tmp_path, *extra) -> dict:
    out = tmp_path / f"{flow.name}.json"
    assert main(["eval", "--flow", str(flow), "--data", str(data), *EXACT, "--json", str(out), "-q", *extra]) == 0
    return json.loads(out.read_text())


def test_a_slice_where_the_overall_winner_loses_is_flagged(make_flow, tmp_path, capsys):
    # "new" is right 95 % of the time on topics a and b but only 20 % on c; "old" 50 % everywhere
    flow = judge_flow(make_flow, {}, {"c": 0.2}, 0.5, 0.95, "reversal")
    result = evaluate(flow, topic_data(tmp_path / "data.jsonl", seed=11), tmp_path, "--slice-by", "topic")
    out = capsys.readouterr().out
    assert result["variants"]["new"]["exact_match.passed"]["vs_baseline"]["verdict"] == "better"

    slices = result["slices"]
    assert slices["columns"][0]["slices"] == {"a": 100, "b": 100, "c": 100}
    assert slices["tests"] == 3  # 3 slices x 1 variant x 1 metric
    cells = {(c["slice"], c["variant"]): c for c in slices["columns"][0]["cells"]}
    assert cells[("c", "new")]["vs_baseline"]["diff_mean"] < -0.2 and cells[("c", "new")]["low"] < 0.3
    assert [cells[(s, "new")]["verdict"] for s in "abc"] == ["better", "better", "worse"]
    assert [(f["slice"], f["variant"], f["kind"]) for f in slices["flags"]] == [("c", "new", "reverses")]
    assert slices["flags"][0]["p_holm"] < 0.01
    assert "! new is better overall on exact_match.passed but worse where topic = c:" in out
    flagged = [r for r in result["charts"]["slices"] if r["flag"]]
    assert [(r["slice"], r["variant"]) for r in flagged] == [("c", "new")]


def test_where_nothing_differs_nothing_is_flagged(make_flow, tmp_path, capsys):
    flow = judge_flow(make_flow, {}, {}, 0.6, 0.6, "null")  # both right 60 % of the time, independently
    result = evaluate(flow, topic_data(tmp_path / "data.jsonl", seed=3), tmp_path, "--slice-by", "${data.topic}",
                      "length")
    assert result["slices"]["flags"] == []
    assert result["slices"]["tests"] == 3 + 4  # topics and quartiles of length
    assert [c["binned"] for c in result["slices"]["columns"]] == [False, True]
    quartiles = list(result["slices"]["columns"][1]["slices"])
    assert len(quartiles) == 4 and quartiles[0].startswith("[") and quartiles[-1].endswith("]")
    assert "No slice changes a verdict (Holm-adjusted over 7 slice tests)." in capsys.readouterr().out


def test_the_guard_keeps_false_flags_rare_over_many_null_datasets():
    """Without the Holm adjustment about half of these datasets would show a flag (12 tests each)."""
    from promptflow_lite.evaluate._slices import analyse_slices
    from promptflow_lite.evaluate._comparison import compare, means_per_line

    flagged = 0
    for seed in range(40):
        rng = random.Random(seed)
        data = [{"group": "wxyz"[i % 4]} for i in range(200)]
        scores = {v: {"m": [[float(rng.random() < 0.5)] for _ in data]} for v in ("A", "B", "C", "D")}
        report = compare(scores, "A")
        means = {v: means_per_line(scores[v]) for v in scores}
        flagged += bool(analyse_slices(["group"], data, means, report).flags)
    assert flagged <= 4  # the guard's bound is 5 % of 40 = 2 in expectation


def test_a_slice_column_the_data_lacks_is_named(make_flow, tmp_path, capsys):
    flow = judge_flow(make_flow, {}, {}, 0.6, 0.6, "missing")
    data = topic_data(tmp_path / "data.jsonl", seed=1, lines=20)
    assert main(["eval", "--flow", str(flow), "--data", str(data), *EXACT, "--slice-by", "region"]) == 1
    err = capsys.readouterr().err
    assert "--slice-by region: the data has no column 'region'" in err and "length, topic, truth" in err
    assert "running" not in err  # refused before the first run


def test_slices_come_from_the_data(make_flow, tmp_path, capsys):
    flow = judge_flow(make_flow, {}, {}, 0.6, 0.6, "outputs")
    data = topic_data(tmp_path / "data.jsonl", seed=1, lines=20)
    assert main(["eval", "--flow", str(flow), "--data", str(data), *EXACT, "--slice-by", "${run.outputs.answer}"]) == 1
    assert "slices come from the data; write ${data.COLUMN} or COLUMN" in capsys.readouterr().err


def test_one_variant_gets_its_metrics_per_slice_without_comparisons(make_flow, tmp_path, capsys):
    flow = judge_flow(make_flow, {"c": 0.1}, {}, 0.9, 0.6, "single")
    data = topic_data(tmp_path / "data.jsonl", seed=5, lines=90)
    result = evaluate(flow, data, tmp_path, "--variants", "old", "--slice-by", "topic", "--report",
                      str(tmp_path / "report.html"))
    out = capsys.readouterr().out
    block = out[out.index("By topic: exact_match.passed"):]
    header = block.splitlines()[2].split()
    assert header == ["topic", "n", "variant", "exact_match.passed", "CI"]  # nothing to compare with
    assert "slice tests" not in out
    means = {c["slice"]: c["mean"] for c in result["slices"]["columns"][0]["cells"]}
    assert means["c"] < 0.3 < 0.7 < means["a"]
    html = (tmp_path / "report.html").read_text()
    assert "exact_match.passed by topic (95% CI)" in html and "slice tests" not in html
