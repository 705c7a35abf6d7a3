"""Column mapping (FLOW_FORMAT §4.3): defaults, references, literals, merging by line — and the loud warnings."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from promptflow_lite.cli.main import main as pfl
from promptflow_lite.runs._errors import InputMappingError
from promptflow_lite.runs._mapping import effective_mapping, map_lines


def spec(default=None):
    return SimpleNamespace(default=default, has_default=default is not None)


INPUTS = {"question": spec(), "style": spec("short")}
DATA = [{"question": "q0", "style": "long", "truth": "t0"}, {"question": "q1", "style": "long", "truth": "t1"}]


def test_default_mapping_skips_inputs_with_a_default_and_warns_about_the_hidden_column():
    warnings = []
    lines = map_lines(INPUTS, {"data": DATA}, warn=warnings.append)
    assert lines == [(0, {"question": "q0"}), (1, {"question": "q1"})]
    assert len(warnings) == 1
    assert "Data column 'style' is NOT used" in warnings[0] and "--column-mapping style='${data.style}'" in warnings[0]


def test_explicit_mapping_overrides_and_silences_the_warning():
    warnings = []
    mapping = {"style": "${data.style}", "answer": "${data.truth}", "model": "gpt-4o", "line_number": "${data.x}"}
    lines = map_lines(INPUTS, {"data": DATA}, mapping, warn=warnings.append)
    assert lines[1] == (1, {"question": "q1", "style": "long", "answer": "t1", "model": "gpt-4o"})
    assert warnings == []
    assert "line_number" not in effective_mapping(INPUTS, mapping)


def test_unknown_columns_are_all_reported_with_the_available_ones():
    with pytest.raises(InputMappingError) as info:
        map_lines(INPUTS, {"data": DATA}, {"question": "${data.qestion}", "style": "${data.styel}"})
    message = str(info.value)
    assert "${data.qestion}" in message and "${data.styel}" in message
    assert "data: question, style, truth" in message


def test_an_input_without_default_and_without_column_explains_the_default_mapping():
    with pytest.raises(InputMappingError) as info:
        map_lines({"prompt": spec()}, {"data": DATA})
    assert "input 'prompt' has no default and no mapping, so it defaults to ${data.prompt}" in str(info.value)
    assert "--column-mapping prompt=" in str(info.value)


def test_a_mapping_of_only_literals_is_rejected():
    with pytest.raises(InputMappingError, match="at least one binding"):
        map_lines(INPUTS, {"data": DATA}, {"question": "fixed"})


def test_run_outputs_merge_by_line_number_and_dropped_lines_are_named():
    warnings = []
    outputs = [{"line_number": 0, "answer": "a0"}, {"line_number": 2, "answer": "a2"}]
    data = DATA + [{"question": "q2", "truth": "t2"}]
    lines = map_lines({"answer": spec(), "truth": spec()}, {"data": data, "run.outputs": outputs},
                      {"answer": "${run.outputs.answer}", "truth": "${data.truth}"}, warn=warnings.append,
                      source_labels={"run.outputs": "base run 'b'"})
    assert lines == [(0, {"answer": "a0", "truth": "t0"}), (2, {"answer": "a2", "truth": "t2"})]
    assert warnings == ["1 of 3 lines are DROPPED because base run 'b' has no row for them: line(s) 1."]


def test_dotted_column_names_resolve_shortest_source_first():
    lines = map_lines({"x": spec()}, {"run.outputs": [{"line_number": 0, "a.b": 1}]}, {"x": "${run.outputs.a.b}"})
    assert lines == [(0, {"x": 1})]


def test_positional_sources_of_different_lengths_cannot_be_aligned():
    with pytest.raises(InputMappingError, match="not aligned"):
        map_lines({"x": spec()}, {"data": DATA, "run.inputs": DATA[:1]}, {"x": "${data.question}"})


def test_a_value_missing_on_one_row_leaves_that_input_out_of_that_line():
    lines = map_lines({"x": spec()}, {"data": [{"x": 1}, {"y": 2}]})
    assert lines == [(0, {"x": 1}), (1, {})]


# end to end: an evaluation run over a base run --------------------------------------------------
HEADER = "from promptflow.core import tool, log_metric\n"
ANSWER_FLOW = {
    "answer.py": HEADER + "@tool\ndef answer(question: str) -> str:\n"
                          "    if 'fail' in question:\n        raise RuntimeError('cannot answer')\n"
                          "    return question.upper()\n",
    "flow.dag.yaml": """
        inputs:
          question:
            type: string
        outputs:
          answer:
            type: string
            reference: ${answer.output}
        nodes:
        - name: answer
          type: python
          source: {type: code, path: answer.py}
          inputs: {question: "${inputs.question}"}
        """,
}
EVAL_FLOW = {
    "grade.py": HEADER + "@tool\ndef grade(answer: str, truth: str, question: str) -> dict:\n"
                         "    return {'correct': answer == truth, 'question': question}\n",
    "accuracy.py": HEADER + "@tool\ndef accuracy(grades: list) -> float:\n"
                            "    value = sum(g['correct'] for g in grades) / len(grades)\n"
                            "    log_metric('accuracy', value)\n    return value\n",
    "flow.dag.yaml": """
        inputs:
          answer:
            type: string
          truth:
            type: string
          question:
            type: string
        outputs:
          correct:
            type: bool
            reference: ${grade.output.correct}
        nodes:
        - name: grade
          type: python
          source: {type: code, path: grade.py}
          inputs: {answer: "${inputs.answer}", truth: "${inputs.truth}", question: "${inputs.question}"}
        - name: accuracy
          type: python
          source: {type: code, path: accuracy.py}
          inputs: {grades: "${grade.output}"}
          aggregation: true
        """,
}


def test_evaluation_run_maps_base_outputs_and_base_inputs(make_flow, tmp_path, capsys):
    answer, grade = make_flow(ANSWER_FLOW, name="answer"), make_flow(EVAL_FLOW, name="grade")
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in [
        {"question": "hi", "truth": "HI"}, {"question": "please fail", "truth": "x"},
        {"question": "yo", "truth": "nope"}]))
    assert pfl(["run", "create", "--flow", str(answer), "--data", str(data), "--name", "base",
                "--allow-failures"]) == 0
    capsys.readouterr()
    code = pfl(["run", "create", "--flow", str(grade), "--data", str(data), "--run", "base", "--name", "eval",
                "--column-mapping", "answer=${run.outputs.answer}", "truth=${data.truth}",
                "question=${run.inputs.question}"])
    captured = capsys.readouterr()
    assert code == 0  # the evaluation itself succeeded on every line it got
    assert "1 of 3 lines are DROPPED because base run 'base'" in captured.err and "line(s) 1" in captured.err
    pfl(["run", "show", "eval"])
    shown = json.loads(capsys.readouterr().out)
    assert shown["run"] == "base" and shown["status"] == "Completed" and shown["total_lines"] == 2
    pfl(["run", "show-details", "eval", "-o", "json"])
    details = json.loads(capsys.readouterr().out)
    assert [(d["line_number"], d["inputs.question"], d["outputs.correct"]) for d in details] == [
        (0, "hi", True), (2, "yo", False)]
    pfl(["run", "show-metrics", "eval"])
    assert json.loads(capsys.readouterr().out) == {"accuracy": 0.5}
