"""``pfl eval`` end to end: two prompt variants against the scripted server, evaluators, statistics, outputs."""

from __future__ import annotations

import json
from xml.etree import ElementTree

import pytest

from promptflow_lite.cli.main import main
from promptflow_lite.testing import ScriptedServer

WORDS = ["apple", "pear", "plum", "fig", "kiwi", "lime", "date", "melon", "grape", "peach",
         "mango", "guava", "lemon", "olive", "berry", "cherry", "quince", "papaya", "banana", "orange",
         "apricot", "lychee", "durian", "yuzu", "sloe", "damson", "medlar", "rowan", "salak", "feijoa"]

FLOW = """
inputs:
  question:
    type: string
outputs:
  answer:
    type: string
    reference: ${answer.output}
nodes:
- name: answer
  use_variants: true
node_variants:
  answer:
    default_variant_id: variant_0
    variants:
      variant_0:
        node:
          type: llm
          source: {type: code, path: %(prompt_0)s}
          inputs: {model: gpt-4o-mini, temperature: 0, question: "${inputs.question}"}
          connection: open_ai_connection
          api: chat
      variant_1:
        node:
          type: llm
          source: {type: code, path: %(prompt_1)s}
          inputs: {model: gpt-4o-mini, temperature: 0, question: "${inputs.question}"}
          connection: open_ai_connection
          api: chat
"""
CASUAL = "# user:\nHelp me out. {{question}}\n"
PRECISE = "# system:\nReply with exactly the word asked for.\n# user:\n{{question}}\n"
# Only the precise prompt is answered correctly; every other prompt gets the server's hashed default answer.
RULES = [{"match": r"Reply with exactly the word asked for\.\s+user: Repeat the word: (\w+)", "reply": r"\1"}]


@pytest.fixture
def server(scripted_connections):
    """A scripted server behind the connection ``open_ai_connection`` (via PROMPTFLOW_CONNECTIONS)."""
    with ScriptedServer(rules=RULES) as running:
        scripted_connections(running, api_key="test-key")
        yield running


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps({"question": f"Repeat the word: {w}", "ground_truth": w}) + "\n"
                            for w in WORDS))
    return path


def variants_flow(make_flow, prompt_0: str, prompt_1: str):
    files = {"flow.dag.yaml": FLOW % {"prompt_0": "p0.jinja2", "prompt_1": "p1.jinja2"},
             "p0.jinja2": prompt_0, "p1.jinja2": prompt_1}
    return make_flow(files, name="words")


def pfl_eval(*args: str) -> int:
    return main(["eval", *map(str, args)])


def test_the_better_prompt_wins_with_a_significant_paired_difference(server, data, make_flow, tmp_path, capsys):
    flow = variants_flow(make_flow, CASUAL, PRECISE)
    out = tmp_path / "out"
    code = pfl_eval("--flow", flow, "--data", data, "--evaluator", "exact_match", "f1_score",
                    "--report", out / "report.html", "--json", out / "result.json", "--junit", out / "junit.xml")
    assert code == 0
    table = capsys.readouterr().out
    assert "exact_match.passed" in table and "f1_score.f1_score" in table
    assert "better" in table

    result = json.loads((out / "result.json").read_text())
    assert result["baseline"] == "variant_0" and result["n_lines"] == len(WORDS)
    worse, better = result["variants"]["variant_0"], result["variants"]["variant_1"]
    assert worse["exact_match.passed"]["mean"] == 0.0 and better["exact_match.passed"]["mean"] == 1.0
    assert better["exact_match.passed"]["method"] == "wilson"
    versus = better["exact_match.passed"]["vs_baseline"]
    assert versus["verdict"] == "better" and versus["diff_mean"] == 1.0
    assert versus["p_value"] < 1e-6 and versus["low"] > 0.5 and versus["test"] == "mcnemar-exact"
    assert better["f1_score.f1_score"]["vs_baseline"]["verdict"] == "better"
    assert "vs_baseline" not in worse["exact_match.passed"]
    assert result["runs"]["variant_1"]["logged_metrics"]["exact_match"] == {"exact_match": 1.0}

    suites = ElementTree.parse(out / "junit.xml").getroot()
    cases = suites.findall(".//testcase")
    assert len(cases) == 4 and suites.get("failures") == "0"  # 2 variants x 2 metrics, no gate

    html = (out / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "<script src" not in html and "http" not in html.split("<body>")[1]
    assert "exact_match.passed" in html and "better" in html
    assert "Repeat the word: apple" in html  # the per-line side-by-side view


def test_identical_variants_show_no_detectable_difference(server, data, make_flow, tmp_path):
    flow = variants_flow(make_flow, CASUAL, CASUAL)
    assert pfl_eval("--flow", flow, "--data", data, "-e", "exact_match", "--json", tmp_path / "r.json") == 0
    versus = json.loads((tmp_path / "r.json").read_text())["variants"]["variant_1"]["exact_match.passed"]["vs_baseline"]
    assert versus["verdict"] == "no detectable difference"
    assert versus["diff_mean"] == 0.0 and versus["p_value"] == 1.0


def test_fail_under_gates_the_mean_and_sets_the_exit_code(server, data, make_flow, tmp_path, capsys):
    flow = variants_flow(make_flow, CASUAL, PRECISE)
    code = pfl_eval("--flow", flow, "--data", data, "-e", "exact_match", "--fail-under", "exact_match=0.9",
                    "--junit", tmp_path / "junit.xml")
    assert code == 1
    assert "FAILED variant_0 exact_match.passed: mean 0 is below the gate 0.9" in capsys.readouterr().err
    failures = ElementTree.parse(tmp_path / "junit.xml").getroot().findall(".//failure")
    assert len(failures) == 1 and "gate on the mean" in failures[0].get("message")

    assert pfl_eval("--flow", flow, "--data", data, "-e", "exact_match", "--variants", "variant_1",
                    "--fail-under", "exact_match=0.9") == 0


def test_fail_if_worse_fails_a_significant_regression(server, data, make_flow, capsys):
    flow = variants_flow(make_flow, CASUAL, PRECISE)
    code = pfl_eval("--flow", flow, "--data", data, "-e", "exact_match", "--baseline", "variant_1", "--fail-if-worse")
    assert code == 1
    captured = capsys.readouterr()
    assert "worse" in captured.out
    assert "FAILED variant_0 exact_match.passed: significantly worse than variant_1" in captured.err


def test_repeats_sample_each_line_again_and_report_consistency(server, data, make_flow, tmp_path, capsys):
    flow = variants_flow(make_flow, CASUAL, PRECISE)
    before = len([r for r in server.requests if r["path"].endswith("/chat/completions")])
    code = pfl_eval("--flow", flow, "--data", data, "-e", "exact_match", "--repeats", "2",
                    "--json", tmp_path / "r.json")
    assert code == 0
    calls = len([r for r in server.requests if r["path"].endswith("/chat/completions")]) - before
    assert calls == 2 * 2 * len(WORDS)  # the cache keys each repeat apart: every line sampled twice per variant
    table = capsys.readouterr().out
    assert "consistency" in table and "pass^2" in table and "pass@2" in table
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["repeats"] == 2
    consistency = result["variants"]["variant_1"]["exact_match.passed"]["consistency"]
    assert consistency["mean"]["mean"] == 1.0 and consistency["flaky_lines"] == []
    assert len(result["runs"]["variant_0"]["base"]) == 2


COIN_FLOW = """
inputs:
  question: {type: string}
outputs:
  answer: {type: string, reference: "${coin.output}"}
nodes:
- name: coin
  type: python
  source: {type: code, path: coin.py}
  inputs: {question: "${inputs.question}"}
"""
COIN = """
import random
from promptflow.core import tool

@tool
def coin(question: str) -> str:
    return question.split()[-1] if random.random() < 0.5 else "no idea"
"""


def test_repeats_find_flaky_lines(data, make_flow, tmp_path):
    flow = make_flow({"flow.dag.yaml": COIN_FLOW, "coin.py": COIN}, name="coin")
    code = pfl_eval("--flow", flow, "--data", data, "-e", "exact_match", "--repeats", "4",
                    "--json", tmp_path / "r.json")
    assert code == 0
    result = json.loads((tmp_path / "r.json").read_text())
    assert list(result["variants"]) == ["default"] and result["baseline"] is None
    metric = result["variants"]["default"]["exact_match.passed"]
    consistency = metric["consistency"]
    # each line passes with probability 1/2 per repeat: all four repeats agree with probability 1/8
    assert len(consistency["flaky_lines"]) >= 10
    assert consistency["mean"]["mean"] < 0.95
    # pass^4 (every repeat passed) is rare (1/16 a line), pass@4 (some repeat passed) is common (15/16; under 0.7
    # of 30 lines ~1e-5, where 0.8 failed about one run in a hundred)
    assert consistency["all_pass"]["mean"] < 0.4 < 0.7 < consistency["any_pass"]["mean"]
    assert 0.2 < metric["mean"] < 0.8 and metric["method"].startswith("bootstrap")


def test_evaluator_parameters_and_mappings(server, data, make_flow, tmp_path):
    flow = variants_flow(make_flow, PRECISE, PRECISE)
    code = pfl_eval("--flow", flow, "--data", data, "--variants", "variant_0", "--json", tmp_path / "r.json",
                    "-e", "has_a=contains:substring=a", "-e", "regex:pattern=^[a-z]+$,full_match=true",
                    "-e", "self=exact_match", "--evaluator-mapping", "self.ground_truth=${run.outputs.answer}")
    assert code == 0
    metrics = json.loads((tmp_path / "r.json").read_text())["variants"]["variant_0"]
    with_a = sum("a" in word for word in WORDS) / len(WORDS)
    assert metrics["has_a.passed"]["mean"] == pytest.approx(with_a)
    assert metrics["regex.passed"]["mean"] == 1.0
    assert metrics["self.passed"]["mean"] == 1.0


def test_an_unmappable_evaluator_input_is_reported_before_anything_runs(server, data, make_flow, capsys):
    flow = variants_flow(make_flow, PRECISE, PRECISE)
    code = pfl_eval("--flow", flow, "--data", data, "-e", "groundedness")
    assert code == 1
    err = capsys.readouterr().err
    assert "Evaluator 'groundedness' needs input 'context'" in err
    assert "--evaluator-mapping groundedness.context=" in err
    assert server.requests == []


def test_a_misspelt_gate_is_reported_before_anything_runs(server, data, make_flow, capsys):
    flow = variants_flow(make_flow, PRECISE, PRECISE)
    assert pfl_eval("--flow", flow, "--data", data, "-e", "exact_match", "--fail-under", "exact_macth=0.9") == 1
    assert "Unknown metric 'exact_macth'" in capsys.readouterr().err
    assert server.requests == []


def test_unknown_evaluator_parameter_and_variant_are_clear_errors(server, data, make_flow, capsys):
    flow = variants_flow(make_flow, PRECISE, PRECISE)
    assert pfl_eval("--flow", flow, "--data", data, "-e", "contains:substrng=a") == 1
    assert "has no input 'substrng'" in capsys.readouterr().err
    assert pfl_eval("--flow", flow, "--data", data, "-e", "exact_match", "--variants", "variant_7") == 1
    assert "'variant_7' is not a variant of the flow" in capsys.readouterr().err


def test_llm_judges_run_on_their_own_connection_and_keep_reasons(data, make_flow, tmp_path, monkeypatch):
    judge_rules = [
        {"match": r"Rate the similarity.*GROUND TRUTH:\s*(\w+)\s+ANSWER:\s*\1\s*$",
         "reply": '{"score": 5, "reason": "same word"}'},
        {"match": r"Rate the similarity", "reply": '{"score": 1, "reason": "different word"}'},
    ]
    with ScriptedServer(rules=RULES) as flow_server, ScriptedServer(rules=judge_rules) as judge_server:
        file = tmp_path / "connections.json"
        file.write_text(json.dumps({name: {"type": "OpenAIConnection", "value": {"api_key": "k", "base_url": url}}
                                    for name, url in (("open_ai_connection", flow_server.base_url),
                                                      ("judge_conn", judge_server.base_url))}))
        monkeypatch.setenv("PROMPTFLOW_CONNECTIONS", str(file))
        flow = variants_flow(make_flow, CASUAL, PRECISE)
        code = pfl_eval("--flow", flow, "--data", data, "-e", "similarity:judge_model=gpt-4o",
                        "--connections", "judge.connection=judge_conn",
                        "--json", tmp_path / "r.json", "--report", tmp_path / "r.html")
        assert code == 0
        judged = [r for r in judge_server.requests if r["path"].endswith("/chat/completions")]
        assert len(judged) == 2 * len(WORDS) and {r["body"]["model"] for r in judged} == {"gpt-4o"}
        assert all("Rate the similarity" not in json.dumps(r["body"]) for r in flow_server.requests)
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["variants"]["variant_0"]["similarity.score"]["mean"] == 1.0
    assert result["variants"]["variant_1"]["similarity.score"]["mean"] == 5.0
    assert result["variants"]["variant_1"]["similarity.score"]["vs_baseline"]["verdict"] == "better"
    html = (tmp_path / "r.html").read_text()
    assert "similarity.reason: same word" in html and "similarity.reason: different word" in html



def test_an_evaluator_that_scores_no_line_is_shown_and_fails_its_gate(server, data, make_flow, tmp_path, capsys):
    flow = variants_flow(make_flow, CASUAL, PRECISE)  # the judge's prompts get the server's hashed answer: no score
    code = pfl_eval("--flow", flow, "--data", data, "-e", "coherence", "--fail-under", "coherence.score=3",
                    "--junit", tmp_path / "junit.xml")
    assert code == 1
    captured = capsys.readouterr()
    assert "coherence.score" in captured.out and " n/a " in captured.out
    assert "FAILED variant_1 coherence.score: mean n/a is below the gate 3" in captured.err
    assert len(ElementTree.parse(tmp_path / "junit.xml").getroot().findall(".//failure")) == 2


PICKY = """
from promptflow.core import tool

@tool
def coin(question: str) -> str:
    word = question.split()[-1]
    if word == "fig":
        raise ValueError("cannot handle fig")
    return word
"""


def test_failed_lines_are_missing_scores_and_listed_in_the_report(data, make_flow, tmp_path):
    flow = make_flow({"flow.dag.yaml": COIN_FLOW, "coin.py": PICKY}, name="picky")
    code = pfl_eval("--flow", flow, "--data", data, "-e", "exact_match", "--json", tmp_path / "r.json",
                    "--report", tmp_path / "r.html")
    assert code == 0
    metric = json.loads((tmp_path / "r.json").read_text())["variants"]["default"]["exact_match.passed"]
    assert metric["n"] == len(WORDS) - 1 and metric["n_missing"] == 1 and metric["mean"] == 1.0
    html = (tmp_path / "r.html").read_text()
    failed_section = html.split("<h2>Failed lines</h2>")[1]
    assert "cannot handle fig" in failed_section


def test_data_columns_feed_same_named_inputs_even_when_they_have_a_default(data, make_flow, tmp_path):
    with_default = COIN_FLOW.replace("question: {type: string}", 'question: {type: string, default: "say: x"}')
    flow = make_flow({"flow.dag.yaml": with_default, "coin.py": PICKY}, name="defaulted")
    assert pfl_eval("--flow", flow, "--data", data, "-e", "exact_match", "--json", tmp_path / "r.json") == 0
    metric = json.loads((tmp_path / "r.json").read_text())["variants"]["default"]["exact_match.passed"]
    assert metric["mean"] == 1.0  # the default ("say: x") would answer "x" on every line


def test_the_python_api_mirrors_the_command(data, make_flow):
    from promptflow_lite.evaluate import evaluate

    flow = make_flow({"flow.dag.yaml": COIN_FLOW, "coin.py": PICKY}, name="api")
    result = evaluate(flow, data, ["exact_match", "short=regex:pattern=^.{1,5}$,full_match=true"],
                      fail_under=["exact_match=0.99", "short=0.9"])
    assert "exact_match.passed" in str(result.report) and "short.passed" in str(result.report)
    short = sum(len(w) <= 5 for w in WORDS if w != "fig") / (len(WORDS) - 1)
    assert result.report.summary("default", "short.passed").estimate.mean == pytest.approx(short)
    assert not result.passed  # short < 0.9
    assert [c.metric for c in result.checks if not c.passed] == ["short.passed"]


GRADED_FLOW = FLOW.replace("""      variant_0:
        node:""", """      variant_0:
        description: casual wording, no instruction
        node:""").replace("""      variant_1:
        node:""", """      variant_1:
        description: a system message asking for the exact word
        node:""")

SHOUT_EVALUATOR = {
    "flow.dag.yaml": """
        inputs:
          answer: {type: string}
        outputs:
          loud:
            type: bool
            description: the answer is in capital letters
            reference: ${judge.output}
        nodes:
        - {name: judge, type: python, source: {type: code, path: judge.py}, inputs: {answer: "${inputs.answer}"}}
        - name: summary
          type: python
          source: {type: code, path: summary.py}
          inputs: {values: "${judge.output}"}
          aggregation: true
    """,
    "judge.py": "from promptflow import tool\n\n@tool\ndef judge(answer: str) -> bool:\n    return answer.isupper()\n",
    "summary.py": ("from promptflow import tool, log_metric\n\n@tool\ndef summary(values: list) -> dict:\n"
                   "    log_metric('shouting_share', sum(values) / len(values))\n    return {}\n"),
}


def test_the_table_says_what_variants_and_metrics_are_with_one_sentence_per_verdict(server, data, make_flow, capsys):
    flow = make_flow({"flow.dag.yaml": GRADED_FLOW % {"prompt_0": "p0.jinja2", "prompt_1": "p1.jinja2"},
                      "p0.jinja2": CASUAL, "p1.jinja2": PRECISE}, name="graded")
    shout = make_flow(SHOUT_EVALUATOR, name="shout")
    assert pfl_eval("--flow", flow, "--data", data, "--evaluator", "exact_match", f"shout={shout}") == 0
    out = capsys.readouterr().out
    assert "variant_0: casual wording, no instruction" in out  # the variants' descriptions
    assert "exact_match.passed: share of lines where the answer equals the ground truth" in out
    assert "shout.loud: share of lines where the answer is in capital letters" in out
    assert ("exact_match.passed: variant_1 is better than variant_0: it passes 100 points more often than variant_0 "
            "(0% → 100%)") in " ".join(out.split())
    assert "shout.shouting_share" in out  # a custom evaluator's logged metric is in the terminal too
    for jargon in ("Wilson", "BCa", "McNemar", "Newcombe"):
        assert jargon not in out
    assert "--explain" in out

    assert pfl_eval("--flow", flow, "--data", data, "--evaluator", "exact_match", "--explain", "-q") == 0
    explained = capsys.readouterr().out
    assert "Wilson" in explained and "McNemar" in explained
