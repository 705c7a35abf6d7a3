"""``pfl run compare``: paired statistics between existing runs (their outputs and their evaluation runs)."""

from __future__ import annotations

import json

import pytest

from promptflow_lite.cli.main import main
from promptflow_lite.evaluate._registry import evaluator_path
from promptflow_lite.evaluate._run_lines import read_run_lines
from promptflow_lite.runs._client import Client

WORDS = ["apple", "pear", "plum", "fig", "kiwi", "lime", "date", "melon", "grape", "peach",
         "mango", "guava", "lemon", "olive", "berry", "cherry", "quince", "papaya", "banana", "orange"]

FLOW = """
inputs:
  word: {type: string}
outputs:
  answer: {type: string, reference: "${guess.output.answer}"}
  length: {type: int, reference: "${guess.output.length}"}
nodes:
- name: guess
  type: python
  source: {type: code, path: guess.py}
  inputs: {word: "${inputs.word}"}
"""
GUESS = """
from promptflow.core import tool

@tool
def guess(word: str) -> dict:
    if word in {BROKEN}:
        raise ValueError("cannot handle " + word)
    answer = {ANSWER}
    return {{"answer": answer, "length": len(answer)}}
"""


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps({"word": w, "ground_truth": w}) + "\n" for w in WORDS))
    return path


@pytest.fixture
def client():
    return Client(progress=False)


def make_run(client, make_flow, data, name, answer="word", broken=()):
    """A run of a small python flow whose ``answer`` is the expression ``answer`` (of ``word``)."""
    flow = make_flow({"flow.dag.yaml": FLOW, "guess.py": GUESS.format(ANSWER=answer, BROKEN=set(broken) or "()")},
                     name=f"flow_{name}")
    return client.run(flow, data=data, name=name)


def evaluate(client, base, data, evaluator="exact_match"):
    return client.run(evaluator_path(evaluator), data=data, run=base, name=f"{base.name}_{evaluator}",
                      column_mapping={"answer": "${run.outputs.answer}", "ground_truth": "${data.ground_truth}"})


def compare(*args: str, capsys) -> tuple[int, str, str]:
    code = main(["run", "compare", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_compare_runs_on_their_evaluation_runs(client, make_flow, data, capsys):
    # "upper-case for every other word" is wrong on half the lines
    worse = make_run(client, make_flow, data, "half_right",
                     answer="word.upper() if len(word) % 2 else word")
    better = make_run(client, make_flow, data, "all_right")
    for run in (worse, better):
        evaluate(client, run, data)
    code, out, _ = compare("half_right", "all_right", "--metric", "exact_match", "-o", "json", capsys=capsys)
    assert code == 0
    result = json.loads(out)
    assert result["baseline"] == "half_right" and result["n_lines"] == len(WORDS)
    versus = result["variants"]["all_right"]["exact_match.passed"]["vs_baseline"]
    odd = sum(len(w) % 2 for w in WORDS)
    assert versus["diff_mean"] == pytest.approx(odd / len(WORDS))
    assert versus["wins"] == odd and versus["losses"] == 0
    assert versus["verdict"] == "better"


def test_compare_runs_on_their_own_numeric_outputs(client, make_flow, data, capsys):
    make_run(client, make_flow, data, "plain")
    make_run(client, make_flow, data, "padded", answer="word + '!'")
    code, out, _ = compare("plain", "padded", "--metric", "length", capsys=capsys)
    assert code == 0
    assert "length" in out and "+1.000" in out and "better" in out
    code, out, _ = compare("plain", "padded", "-m", "length", "--lower-is-better", "length", "-o", "json",
                           capsys=capsys)
    assert json.loads(out)["variants"]["padded"]["length"]["vs_baseline"]["verdict"] == "worse"


def test_default_metrics_are_every_column_all_runs_share(client, make_flow, data, capsys):
    a, b = make_run(client, make_flow, data, "a"), make_run(client, make_flow, data, "b")
    evaluate(client, a, data)
    code, out, _ = compare("a", "b", "-o", "json", capsys=capsys)
    assert code == 0
    assert list(json.loads(out)["variants"]["b"]) == ["length"]  # only a has an exact_match evaluation
    evaluate(client, b, data)
    _, out, _ = compare("a", "b", "-o", "json", capsys=capsys)
    assert list(json.loads(out)["variants"]["b"]) == ["length", "exact_match.passed"]


def test_failed_lines_stay_aligned_and_are_counted_as_missing(client, make_flow, data, capsys):
    broken = make_run(client, make_flow, data, "broken", broken=("fig", "lime"))
    fine = make_run(client, make_flow, data, "fine")
    evaluation = evaluate(client, broken, data)
    evaluate(client, fine, data)
    missing = {WORDS.index("fig"), WORDS.index("lime")}
    assert set(read_run_lines(client, evaluation).outputs) == set(range(len(WORDS))) - missing
    code, out, _ = compare("broken", "fine", "-m", "exact_match.passed", "-o", "json", capsys=capsys)
    versus = json.loads(out)["variants"]["fine"]["exact_match.passed"]["vs_baseline"]
    assert versus["n_pairs"] == len(WORDS) - 2 and versus["n_missing"] == 2
    assert versus["verdict"] == "no detectable difference" and versus["diff_mean"] == 0.0


def test_runs_over_different_data_are_refused(client, make_flow, data, tmp_path, capsys):
    short = tmp_path / "short.jsonl"
    short.write_text("".join(json.dumps({"word": w}) + "\n" for w in WORDS[:5]))
    make_run(client, make_flow, data, "full")
    make_run(client, make_flow, short, "short")
    code, _, err = compare("full", "short", capsys=capsys)
    assert code == 1 and "different numbers of lines (full: 20, short: 5)" in err


def test_an_unknown_metric_lists_the_shared_columns(client, make_flow, data, capsys):
    make_run(client, make_flow, data, "x")
    make_run(client, make_flow, data, "y")
    code, _, err = compare("x", "y", "--metric", "accuracy", capsys=capsys)
    assert code == 1 and "'accuracy'" in err and "length" in err
    code, _, err = compare("x", capsys=capsys)
    assert code == 1 and "at least two runs" in err
