"""Editing a flow through the library (what the UI calls): nodes, references, variants, inputs, outputs;
the graph the editor draws; new flows from templates (`pfl flow init`)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from promptflow_lite.errors import UserError
from promptflow_lite.flow import _editing as editing
from promptflow_lite.flow._document import FlowDocument
from promptflow_lite.flow._graph import INPUTS, OUTPUTS, flow_graph
from promptflow_lite.flow._validate import find_problems

ROOT = Path(__file__).resolve().parents[2]
PFL = [sys.executable, "-m", "promptflow_lite.cli.main"]


def _flow_test(folder: Path, text: str) -> dict:
    """`pfl flow test` of a classification flow, offline: its JSON outputs."""
    result = subprocess.run(PFL + ["--scripted-llm", str(folder / "scripted_llm.yaml"), "flow", "test", "--flow",
                                   str(folder), "--inputs", f"text={text}", "-o", "json"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def classification(tmp_path) -> FlowDocument:
    shutil.copytree(ROOT / "flows/classification", tmp_path / "classification")
    return FlowDocument(tmp_path / "classification")


def test_rename_node_follows_every_reference(classification):
    doc = classification
    changed = editing.rename_node(doc, "parse_category", "category")
    assert changed == 4  # triage_bug.activate, summarize, category_counts, output 'category'
    doc.save()
    text = doc.file.read_text()
    assert "${parse_category" not in text and "- name: category\n" in text
    assert find_problems(FlowDocument(doc.folder).spec()) == []
    assert _flow_test(doc.folder, "The app crashes on start")["category"] == "bug"


def test_rename_a_variant_node_renames_its_variants(classification):
    editing.rename_node(classification, "classify", "classifier")
    spec = classification.spec()
    assert "classifier" in spec.node_variants and "classify" not in spec.node_variants
    assert find_problems(spec) == []


def test_deleting_a_used_node_is_refused_with_its_users(classification):
    with pytest.raises(editing.InUse) as caught:
        editing.delete_node(classification, "parse_category")
    assert caught.value.users == ["node 'triage_bug' activate.when", "node 'summarize' input 'category'",
                                  "node 'category_counts' input 'categories'", "output 'category'"]
    assert not classification.dirty
    editing.delete_node(classification, "category_counts")  # nobody uses it
    assert "category_counts" not in editing.node_names(classification)


def test_invalid_and_duplicate_names_are_refused(classification):
    for bad in ("clean_text", "1x", "inputs", "has space"):
        with pytest.raises(UserError):
            editing.rename_node(classification, "summarize", bad)


def test_add_python_node_wire_it_to_an_output_then_validate_and_test(classification, tmp_path):
    doc = classification
    editing.add_node(doc, "shout", "python", inputs={"text": "${clean_text.output}"})
    editing.set_flow_output(doc, "loud", "${shout.output}")
    doc.set_source_text("shout.py", doc.source_text("shout.py").replace("return text", "return text.upper()"))
    assert doc.problems() == []
    doc.save()
    result = subprocess.run(PFL + ["flow", "validate", "--source", str(doc.folder)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert _flow_test(doc.folder, "crash on start")["loud"] == "CRASH ON START"


def test_add_variant_copies_the_prompt_file_and_can_become_default(classification):
    doc = classification
    new = editing.add_variant(doc, "classify")
    assert new == "variant_2"
    variant = editing.body(doc, "classify", "variant_2")
    assert variant["source"]["path"] == "classify_zero_shot_variant_2.jinja2"
    assert doc.source_text("classify_zero_shot_variant_2.jinja2") == doc.source_text("classify_zero_shot.jinja2")
    editing.set_default_variant(doc, "classify", "variant_2")
    with pytest.raises(UserError, match="default"):
        editing.remove_variant(doc, "classify", "variant_2")
    editing.remove_variant(doc, "classify", "variant_1")
    assert doc.problems() == []
    assert sorted(doc.spec().node_variants["classify"].variants) == ["variant_0", "variant_2"]


def test_a_node_without_variants_gets_its_first_variants(classification):
    doc = classification
    editing.add_variant(doc, "clean_text")
    spec = doc.spec()
    assert spec.node("clean_text").use_variants
    assert sorted(spec.node_variants["clean_text"].variants) == ["variant_0", "variant_1"]
    assert spec.node_variants["clean_text"].default_variant_id == "variant_0"
    assert doc.problems() == []


def test_flow_inputs_rename_and_removal(classification):
    doc = classification
    editing.rename_flow_input(doc, "text", "ticket")
    assert editing.body(doc, "clean_text")["inputs"]["text"] == "${inputs.ticket}"
    with pytest.raises(editing.InUse, match="node 'clean_text' input 'text'"):
        editing.remove_flow_input(doc, "ticket")
    editing.set_flow_input(doc, "language", "string", default="en")
    assert doc.spec().inputs["language"].default == "en"
    editing.remove_flow_input(doc, "language")
    assert "language" not in doc.spec().inputs


def test_a_broken_reference_is_reported_on_its_node_exactly_as_validate_does(classification):
    doc = classification
    editing.set_input(doc, "summarize", "category", "${parse_categroy.output}")
    problems = doc.problems()
    assert [(p.node, p.message) for p in problems] == [
        ("summarize", "input 'category' refers to node 'parse_categroy', which does not exist.")]
    doc.save()
    result = subprocess.run(PFL + ["flow", "validate", "--source", str(doc.folder)], capture_output=True, text=True)
    assert str(problems[0]) in result.stderr


def test_activate_and_literal_inputs_are_editable(classification):
    doc = classification
    editing.set_activate(doc, "summarize", "${parse_category.output}", "bug")
    assert doc.spec().node("summarize").activate.is_ == "bug"
    editing.set_activate(doc, "summarize", None)
    assert doc.spec().node("summarize").activate is None
    editing.set_input(doc, "classify", "temperature", 0.5, variant="variant_1")
    assert doc.spec().node_variants["classify"].variants["variant_1"].node["inputs"]["temperature"] == 0.5


def test_graph_of_classification(classification):
    graph = flow_graph(classification.spec())
    ids = [n.id for n in graph.nodes]
    assert ids[0] == INPUTS and ids[-1] == OUTPUTS
    assert set(ids[1:-1]) == set(editing.node_names(classification))
    classify = graph.node("classify")
    assert classify.kind == "llm" and classify.variants == ["variant_0", "variant_1"]
    assert classify.default_variant == "variant_0"
    assert graph.node("category_counts").aggregation
    assert graph.node("triage_bug").activate == "${parse_category.output} is 'bug'"
    kinds = {(e.source, e.target): e.kind for e in graph.edges}
    assert kinds[("parse_category", "triage_bug")] == "activate"
    assert kinds[(INPUTS, "clean_text")] == "data" and kinds[("summarize", OUTPUTS)] == "data"
    for edge in graph.edges:  # layered: every edge goes down
        assert graph.node(edge.source).layer < graph.node(edge.target).layer
    positions = {(n.x, n.y) for n in graph.nodes}
    assert len(positions) == len(graph.nodes)  # no two boxes on one spot


def test_graph_of_a_wide_flow_keeps_boxes_apart():
    from promptflow_lite.flow._model import FlowSpec

    nodes = [{"name": f"n{i}", "type": "python", "source": {"type": "code", "path": "t.py"},
              "inputs": {"x": "${inputs.q}" if i < 10 else f"${{n{i % 10}.output}}"}} for i in range(50)]
    spec = FlowSpec.model_validate({"inputs": {"q": {"type": "string"}}, "nodes": nodes,
                                    "outputs": {"o": {"reference": "${n49.output}"}}})
    graph = flow_graph(spec)
    assert len(graph.nodes) == 52 and len({(n.x, n.y) for n in graph.nodes}) == 52
    assert {n.layer for n in graph.nodes if n.id.startswith("n")} == {1, 2}


@pytest.mark.parametrize("flow_type", ["standard", "chat", "evaluation"])
def test_flow_init_makes_a_valid_flow_that_runs(flow_type, tmp_path):
    folder = tmp_path / "new_flow"
    result = subprocess.run(PFL + ["flow", "init", "--flow", str(folder), "--type", flow_type],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Created a new flow" in result.stdout
    result = subprocess.run(PFL + ["flow", "validate", "--source", str(folder)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    data = json.loads((folder / "data.jsonl").read_text().splitlines()[0])
    rules = tmp_path / "rules.yaml"
    rules.write_text("- match: promptflow\n  reply: A flow tool.\n")
    result = subprocess.run(PFL + ["--scripted-llm", str(rules), "flow", "test", "--flow", str(folder), "-o", "json",
                                   "--inputs", *(f"{k}={v}" for k, v in data.items() if isinstance(v, str))],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    expected = {"standard": {"output_prompt": "Prompt: Write a simple Hello World! program that displays the "
                                              "greeting message."},
                "chat": {"answer": "A flow tool."}, "evaluation": {"results": "Correct"}}[flow_type]
    assert {k: v.strip() for k, v in json.loads(result.stdout).items()} == expected


def test_flow_init_refuses_an_existing_flow_and_sets_the_chat_connection(tmp_path):
    folder = tmp_path / "chat"
    subprocess.run(PFL + ["flow", "init", "--flow", str(folder), "--type", "chat", "--connection", "my_conn",
                          "--deployment", "gpt-4o"], check=True, capture_output=True)
    spec = FlowDocument(folder).spec()
    assert spec.node("chat").connection == "my_conn" and spec.node("chat").inputs["deployment_name"] == "gpt-4o"
    result = subprocess.run(PFL + ["flow", "init", "--flow", str(folder)], capture_output=True, text=True)
    assert result.returncode == 1 and "already holds a flow" in result.stderr


def test_flow_init_wraps_an_existing_function_and_its_prompt_templates_as_pf_flow_init_entry(tmp_path):
    # promptflow's `pf flow init --flow DIR --entry FILE --function NAME --prompt-template PARAM=FILE`
    folder = tmp_path / "intent_copilot"
    folder.mkdir()
    (folder / "intent.py").write_text(
        "def extract_intent(chat_prompt: str, question: str, history: list = None, temperature: float = 0.2,\n"
        "                   shout: bool = False) -> str:\n"
        "    text = f'{chat_prompt.strip()} / {question} / {len(history or [])} / {temperature}'\n"
        "    return text.upper() if shout else text\n")
    (folder / "tpl.jinja2").write_text("Find the intent of: {{question}} ({{language}})\n")
    result = subprocess.run(PFL + ["flow", "init", "--flow", str(folder), "--entry", "intent.py", "--function",
                                   "extract_intent", "--prompt-template", "chat_prompt=tpl.jinja2"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    spec = FlowDocument(folder).spec()
    assert {name: i.type.value for name, i in spec.inputs.items()} == {
        "question": "string", "history": "list", "temperature": "double", "shout": "bool", "language": "string"}
    assert spec.inputs["temperature"].default == 0.2
    result = subprocess.run(PFL + ["flow", "test", "--flow", str(folder), "-o", "json", "--inputs", "question=refund?",
                                   "language=en", "history=[1, 2]"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"output": "Find the intent of: refund? (en) / refund? / 2 / 0.2"}
    again = subprocess.run(PFL + ["flow", "init", "--flow", str(folder), "--entry", "intent.py", "--function",
                                  "extract_intent"], capture_output=True, text=True)
    assert again.returncode == 1 and "already holds a flow" in again.stderr
    missing = subprocess.run(PFL + ["flow", "init", "--flow", str(tmp_path / "x"), "--entry", "intent.py",
                                    "--function", "f"], capture_output=True, text=True)
    assert missing.returncode == 1 and "intent.py" in missing.stderr
