"""The built-in evaluators: ordinary flow folders, checked against textbook answers."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from promptflow_lite.connections._types import OpenAIConnection
from promptflow_lite.engine import load_flow, run_sync
from promptflow_lite.errors import UserError
from promptflow_lite.evaluate._registry import builtin_names, evaluator_path, evaluators_root
from promptflow_lite.testing import ScriptedServer

JUDGES = ["coherence", "fluency", "groundedness", "relevance", "similarity"]


def evaluate(name, lines, connections=None):
    """Run evaluator ``name`` on each inputs dict; return (per-line outputs, metrics)."""
    flow = load_flow(evaluator_path(name), connections=connections)
    results = [flow.run(inputs) for inputs in lines]
    for result in results:
        assert result.ok, result.error
    aggregation = run_sync(flow.aaggregate(results))
    assert aggregation.error is None, aggregation.error
    return [r.outputs for r in results], aggregation.metrics


def load_module(evaluator, filename):
    path = evaluators_root() / evaluator / filename
    spec = importlib.util.spec_from_file_location(f"test_{evaluator}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


# ---------------------------------------------------------------- registry


def test_every_builtin_evaluator_is_a_flow_folder_found_by_name():
    assert builtin_names() == sorted([
        "bleu", "coherence", "contains", "embedding_similarity", "exact_match", "f1_score", "fluency",
        "groundedness", "json_valid", "regex", "relevance", "rouge", "similarity"])
    for name in builtin_names():
        assert (evaluator_path(name) / "flow.dag.yaml").is_file()


def test_an_unknown_evaluator_name_lists_the_builtin_ones():
    with pytest.raises(UserError) as info:
        evaluator_path("f1")
    assert "Unknown evaluator 'f1'" in str(info.value)
    assert "f1_score" in str(info.value) and "groundedness" in str(info.value)


def test_shared_helpers_are_one_file_included_by_each_evaluator():
    """aggregate.py and parse_score.py live once in _shared/ and reach each folder as additional includes."""
    from promptflow_lite.flow._loader import load_dag

    root = evaluators_root().resolve()
    assert not list(root.glob("[!_]*/aggregate.py")) and not list(root.glob("[!_]*/parse_score.py"))
    judges_including_parser = []
    for name in builtin_names():
        includes = load_dag(evaluator_path(name)).additional_includes
        assert all((evaluator_path(name) / include).resolve().parent == root / "_shared" for include in includes)
        if "../_shared/parse_score.py" in includes:
            judges_including_parser.append(name)
    assert sorted(judges_including_parser) == sorted(JUDGES)
    assert "_shared" not in builtin_names()


def test_the_readme_documents_every_evaluator():
    readme = (evaluators_root() / "README.md").read_text()
    for name in builtin_names():
        assert f"## {name}" in readme


# ---------------------------------------------------------------- deterministic


def test_exact_match_strips_whitespace_and_can_ignore_case():
    outputs, metrics = evaluate("exact_match", [
        {"answer": " Paris\n", "ground_truth": "Paris"},
        {"answer": "paris", "ground_truth": "Paris"},
        {"answer": "paris", "ground_truth": "Paris", "ignore_case": True},
        {"answer": "Lyon", "ground_truth": "Paris"},
    ])
    assert [o["passed"] for o in outputs] == [True, False, True, False]
    assert metrics == {"exact_match": 0.5}


def test_f1_score_is_squad_token_f1():
    outputs, metrics = evaluate("f1_score", [
        {"answer": "the cat sat", "ground_truth": "A cat sat on mat."},  # P = 1, R = 1/2
        {"answer": "The Eiffel Tower!", "ground_truth": "eiffel tower"},  # identical after normalisation
        {"answer": "blue", "ground_truth": "red"},
        {"answer": "the", "ground_truth": "a"},  # both empty after removing articles
    ])
    assert [round(o["f1_score"], 6) for o in outputs] == [0.666667, 1.0, 0.0, 1.0]
    assert metrics == {"f1_score": round((2 / 3 + 1 + 0 + 1) / 4, 6)}


def test_rouge_matches_the_rouge_score_reference_example():
    # rouge-score's README: precision/recall 0.75/0.667 (ROUGE-1) and 0.625/0.556 (ROUGE-L).
    outputs, _ = evaluate("rouge", [{"answer": "The quick brown dog jumps on the log.",
                                     "ground_truth": "The quick brown fox jumps over the lazy dog"}])
    f = lambda p, r: 2 * p * r / (p + r)  # noqa: E731
    assert outputs[0]["rouge1"] == pytest.approx(f(6 / 8, 6 / 9))
    assert outputs[0]["rouge2"] == pytest.approx(f(2 / 7, 2 / 8))
    assert outputs[0]["rougeL"] == pytest.approx(f(5 / 8, 5 / 9))


def test_rouge_metrics_are_means_over_lines():
    _, metrics = evaluate("rouge", [{"answer": "a b", "ground_truth": "a b"}, {"answer": "c", "ground_truth": "a b"}])
    assert metrics == {"rouge1": 0.5, "rouge2": 0.5, "rougeL": 0.5}


# NLTK's documented examples (nltk.translate.bleu_score docstrings)
HYPOTHESIS_1 = ("It is a guide to action which ensures that the military always obeys the commands of the "
                "party").split()
REFERENCES_1 = [
    "It is a guide to action that ensures that the military will forever heed Party commands".split(),
    "It is the guiding principle which guarantees the military forces always being under the command of the "
    "Party".split(),
    "It is the practical guide for the army always to heed the directions of the party".split(),
]
HYPOTHESIS_2 = "he read the book because he was interested in world history".split()
REFERENCES_2 = ["he was interested in world history because he read the book".split()]


def test_bleu_matches_nltk_sentence_and_corpus_examples():
    math = load_module("bleu", "bleu_math.py")
    first = math.ngram_stats(HYPOTHESIS_1, REFERENCES_1)
    second = math.ngram_stats(HYPOTHESIS_2, REFERENCES_2)
    assert math.bleu(first) == pytest.approx(0.5045666840058485)
    assert math.bleu(math.add_stats([first, second])) == pytest.approx(0.5920778868801042)


def test_sentence_bleu_smooths_and_corpus_bleu_is_logged():
    outputs, metrics = evaluate("bleu", [
        {"answer": "the cat sat on the mat", "ground_truth": "the cat sat on the mat"},
        {"answer": "the cat", "ground_truth": "the cat sat on the mat"},  # effective order 2, brevity penalty e^-2
        {"answer": "a dog ran", "ground_truth": "the cat sat on the mat"},  # nothing shared
    ])
    assert outputs[0]["bleu"] == pytest.approx(1.0)
    assert outputs[1]["bleu"] == pytest.approx(2.718281828 ** -2)
    assert outputs[2]["bleu"] == 0.0
    assert metrics["bleu"] == pytest.approx((1 + 2.718281828 ** -2) / 3, abs=1e-6)
    # corpus: 8/11 unigrams, 6/8 bigrams, 4/5 trigrams, 3/3 four-grams match; lengths 11 vs 18
    expected = (8 / 11 * 6 / 8 * 4 / 5 * 3 / 3) ** 0.25 * 2.718281828 ** (1 - 18 / 11)
    assert metrics["corpus_bleu"] == pytest.approx(expected, abs=1e-6)


def test_contains_uses_substring_or_ground_truth():
    outputs, metrics = evaluate("contains", [
        {"answer": "It is Paris.", "ground_truth": "paris"},
        {"answer": "It is Paris.", "substring": "paris", "case_sensitive": True},
        {"answer": "It is Paris.", "substring": "Paris", "ground_truth": "Lyon"},
    ])
    assert [o["passed"] for o in outputs] == [True, False, True]
    assert metrics == {"contains": round(2 / 3, 6)}


def test_contains_without_anything_to_look_for_fails_the_line_with_a_fix():
    result = load_flow(evaluator_path("contains")).run({"answer": "x"})
    assert not result.ok
    assert "contains:substring=" in result.error["message"]


def test_regex_searches_or_fully_matches():
    outputs, _ = evaluate("regex", [
        {"answer": "Order 123", "pattern": r"\d+"},
        {"answer": "Order 123", "pattern": r"\d+", "full_match": True},
        {"answer": "ORDER", "pattern": "order", "case_sensitive": False},
    ])
    assert [o["passed"] for o in outputs] == [True, False, True]


def test_regex_reports_a_bad_pattern():
    result = load_flow(evaluator_path("regex")).run({"answer": "x", "pattern": "("})
    assert not result.ok and "not a valid regular expression" in result.error["message"]


def test_json_valid_checks_syntax_fences_and_required_keys():
    outputs, metrics = evaluate("json_valid", [
        {"answer": '{"name": "x", "age": 3}', "required_keys": "name, age"},
        {"answer": '```json\n{"name": "x"}\n```', "required_keys": "name,age"},
        {"answer": "[1, 2]"},
        {"answer": "{name: x}"},
        {"answer": '```json\n{"a": 1}\n```', "allow_code_fence": False},
    ])
    assert [o["passed"] for o in outputs] == [True, False, True, False, False]
    assert outputs[1]["reason"] == "missing keys: age"
    assert outputs[3]["reason"].startswith("not valid JSON")
    assert metrics == {"json_valid": 0.4}


# ---------------------------------------------------------------- model-based


@pytest.fixture
def server():
    with ScriptedServer() as running:
        yield running


@pytest.fixture
def connections(server):
    return {"open_ai_connection": OpenAIConnection(api_key="test-key", base_url=server.base_url)}


def test_embedding_similarity_is_the_cosine_of_the_embeddings(server, connections):
    outputs, metrics = evaluate("embedding_similarity", [
        {"answer": "Paris is the capital of France", "ground_truth": "the capital of France is Paris"},
        {"answer": "bananas are yellow", "ground_truth": "the capital of France is Paris"},
    ], connections)
    assert outputs[0]["similarity"] == pytest.approx(1.0)  # the scripted embeddings are bags of words
    assert outputs[1]["similarity"] < 0.5
    assert metrics["embedding_similarity"] == pytest.approx((1.0 + outputs[1]["similarity"]) / 2, abs=1e-6)
    models = {request["body"]["model"] for request in server.requests}
    assert models == {"text-embedding-3-small"}


JUDGE_INPUTS = {
    "groundedness": {"answer": "Paris", "context": "The capital of France is Paris."},
    "relevance": {"question": "What is the capital of France?", "answer": "Paris"},
    "coherence": {"answer": "Paris"},
    "fluency": {"answer": "Paris"},
    "similarity": {"answer": "Paris", "ground_truth": "It is Paris."},
}


@pytest.mark.parametrize("judge", JUDGES)
def test_llm_judges_score_1_to_5_and_keep_the_reason(judge, server, connections):
    server.rules = [
        {"match": rf"Rate the {judge}.*ANSWER:\s*Paris\s*$", "reply": '{"score": 5, "reason": "fully right"}'},
        {"match": rf"Rate the {judge}.*ANSWER:\s*Lyon", "reply": "Score: 2\nThe answer is wrong."},
        {"match": rf"Rate the {judge}", "reply": "I cannot tell."},
    ]
    lines = [JUDGE_INPUTS[judge], {**JUDGE_INPUTS[judge], "answer": "Lyon"},
             {**JUDGE_INPUTS[judge], "answer": "Rome"}]
    outputs, metrics = evaluate(judge, lines, connections)
    assert outputs[0] == {"score": 5.0, "reason": "fully right"}
    assert outputs[1] == {"score": 2.0, "reason": "Score: 2\nThe answer is wrong."}
    assert outputs[2]["score"] is None and "no score found" in outputs[2]["reason"]
    assert metrics == {judge: 3.5}  # the unparseable line is left out of the mean
    body = server.requests[0]["body"]
    assert body["model"] == "gpt-4o-mini" and body["temperature"] == 0


def test_the_judge_model_is_a_parameter(server, connections):
    server.rules = [{"match": "Rate the fluency", "reply": "4"}]
    outputs, _ = evaluate("fluency", [{"answer": "Fine.", "judge_model": "gpt-4o"}], connections)
    assert outputs[0]["score"] == 4.0
    assert server.requests[0]["body"]["model"] == "gpt-4o"


def test_judge_score_parsing_is_robust():
    parse = load_module("_shared", "parse_score.py").parse_score
    assert parse('```json\n{"score": "4", "reason": "ok"}\n```') == {"score": 4.0, "reason": "ok"}
    assert parse('Here you go: {"score": 3, "explanation": "half"} done')["score"] == 3.0
    assert parse("**Score:** 4\nGood.")["score"] == 4.0
    assert parse("The rating is 2 because it is vague.")["score"] == 2.0
    assert parse("5")["score"] == 5.0
    assert parse('{"score": 9, "reason": "x"}')["score"] is None
    assert parse("")["score"] is None
