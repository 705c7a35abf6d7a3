"""The flow editor page driven through Streamlit's AppTest, as a user clicks through it: open, select,
edit, validate, save, test, chat (the canvas is a browser component: tests/test_ui_browser.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "ui" / "app.py")
PFL = [sys.executable, "-m", "promptflow_lite.cli.main"]


@pytest.fixture(scope="session")
def scripted_rules(tmp_path_factory) -> Path:
    """The example flows' scripted answers in one file: the offline server starts once per process."""
    rules = tmp_path_factory.mktemp("rules") / "rules.yaml"
    rules.write_text("".join((ROOT / "flows" / name / "scripted_llm.yaml").read_text() + "\n"
                             for name in ("classification", "chat_basic")))
    return rules


@pytest.fixture
def open_app(tmp_path, monkeypatch, scripted_rules):
    """``open_app("classification")``: the app on a copy of that example flow (offline LLM answers)."""

    def start(example: str = "classification") -> tuple[AppTest, Path]:
        folder = tmp_path / example
        shutil.copytree(ROOT / "flows" / example, folder)
        monkeypatch.setenv("PFL_UI_FLOW", str(folder))
        monkeypatch.setenv("PFL_SCRIPTED_LLM", str(scripted_rules))
        monkeypatch.chdir(tmp_path)
        app = AppTest.from_file(APP, default_timeout=120)
        app.run()
        assert not app.exception, app.exception
        return app, folder

    return start


def _by_label(elements, label: str):
    found = [e for e in elements if e.label == label]
    assert found, f"no widget labelled {label!r}: {[e.label for e in elements]}"
    return found[0]


def _select(app: AppTest, node: str) -> None:
    _by_label(app.selectbox, "Selected node").select(node).run()
    assert not app.exception, app.exception


def _click(app: AppTest, label: str) -> None:
    _by_label(app.button, label).click().run()
    assert not app.exception, app.exception


def _texts(app: AppTest) -> str:
    return "\n".join(str(e.value) for kind in (app.markdown, app.caption, app.error, app.success, app.warning,
                                                app.info, app.code, app.json) for e in kind)


def test_open_shows_every_node_and_no_problems(open_app):
    app, folder = open_app()
    options = _by_label(app.selectbox, "Selected node").options
    assert options == ["Flow inputs", "clean_text", "classify", "parse_category", "triage_bug", "summarize",
                       "category_counts", "Flow outputs"]
    assert "No problems found" in _texts(app)
    assert "saved" in _texts(app)


def test_edit_a_variant_prompt_and_save_changes_only_that_file(open_app):
    app, folder = open_app()
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    _select(app, "classify")
    _by_label(app.radio, "Variant").set_value("variant_1").run()
    source = _by_label(app.text_area, "Source")
    assert "Categories" in source.value or source.value  # the few-shot prompt
    source.input(source.value + "Always answer in lower case.\n").run()
    assert "unsaved: classify_few_shot.jinja2" in _texts(app)
    _click(app, "Save")
    assert "Saved classify_few_shot.jinja2" in _texts(app)
    after = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    assert [n for n in before if before[n] != after[n]] == ["classify_few_shot.jinja2"]
    assert after["classify_few_shot.jinja2"].decode().endswith("Always answer in lower case.\n")


def test_a_broken_reference_shows_the_validator_message_on_the_node(open_app):
    app, folder = open_app()
    _select(app, "summarize")
    _by_label(app.text_input, "category").input("${parse_categroy.output}").run()
    message = "input 'category' refers to node 'parse_categroy', which does not exist."
    assert any(message in e.value for e in app.error)  # beside the node, in the inspector
    assert "1 problem" in " ".join(e.label for e in app.expander)
    _click(app, "Save")
    result = subprocess.run(PFL + ["flow", "validate", "--source", str(folder)], capture_output=True, text=True)
    assert message in result.stderr


def test_add_a_python_node_wire_it_to_an_output_save_validate_and_test(open_app):
    app, folder = open_app()
    _by_label(app.radio, "Type").set_value("python")
    _by_label(app.text_input, "Name").input("shout").run()
    _by_label(app.selectbox, "First input (optional)").set_value("${clean_text.output}")
    _click(app, "Add node")
    assert "Added python node shout" in _texts(app)
    assert _by_label(app.selectbox, "Selected node").value == "shout"
    source = _by_label(app.text_area, "Source")
    source.input(source.value.replace("return clean_text", "return clean_text.upper()")).run()
    _select(app, "Flow outputs")
    _by_label(app.text_input, "Add flow output").input("loud")
    _click(app, "Add")
    _by_label(app.selectbox, "loud: pick a reference").set_value("${shout.output}").run()
    _click(app, "Save")
    assert (folder / "shout.py").is_file()
    result = subprocess.run(PFL + ["flow", "validate", "--source", str(folder)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    _by_label(app.text_area, "text *").input("printer on fire")
    _by_label(app.button, "Run test").click().run()
    assert not app.exception, app.exception
    outputs = [e.value for e in app.json]
    assert any('"loud": "PRINTER ON FIRE"' in str(v) or "PRINTER ON FIRE" in str(v) for v in outputs), outputs


def test_deleting_a_used_node_is_refused_with_its_users(open_app):
    app, folder = open_app()
    _select(app, "parse_category")
    _click(app, "Delete parse_category")
    errors = " ".join(e.value for e in app.error)
    assert "Node 'parse_category' is used by node 'triage_bug' activate.when" in errors
    assert "output 'category'" in errors
    assert "parse_category" in _by_label(app.selectbox, "Selected node").options


def test_rename_follows_references_and_saves(open_app):
    app, folder = open_app()
    _select(app, "clean_text")
    _by_label(app.text_input, "New name").input("normalize")
    _click(app, "Rename")
    assert "Renamed clean_text to normalize (3 reference(s) updated)" in _texts(app)
    _click(app, "Save")
    text = (folder / "flow.dag.yaml").read_text()
    assert "${normalize.output}" in text and "${clean_text" not in text


def test_a_file_changed_on_disk_refuses_the_save_and_offers_a_reload(open_app):
    app, folder = open_app()
    _select(app, "summarize")
    _by_label(app.text_area, "Source").input("# mine\n").run()
    (folder / "summarize.py").write_text("# theirs\n")
    _click(app, "Save")
    assert any("changed on disk" in e.value for e in app.error)
    assert (folder / "summarize.py").read_text() == "# theirs\n"
    _click(app, "Reload from disk")
    assert "saved" in _texts(app) and not [e for e in app.error if "changed on disk" in e.value]


def test_test_panel_runs_variants_side_by_side_with_node_details(open_app):
    app, folder = open_app()
    _by_label(app.text_area, "text *").input("The app crashes when I open it")
    _by_label(app.button_group, "Variants to compare side by side (none: the default variants)").set_value(
        ["${classify.variant_0}", "${classify.variant_1}"])
    _by_label(app.button, "Run test").click().run()
    assert not app.exception, app.exception
    headings = [m.value for m in app.markdown if m.value.startswith("####")]
    assert headings == ["#### classify · variant_0", "#### classify · variant_1"]
    assert len(app.dataframe) == 2
    table = app.dataframe[0].value
    assert list(table["node"]) == ["clean_text", "classify", "parse_category", "triage_bug", "summarize"]
    assert set(table["status"]) == {"Completed"}
    assert table.set_index("node").loc["classify", "tokens"] > 0


def test_a_data_line_fills_the_form(open_app):
    app, folder = open_app()
    _by_label(app.button, "Use this line").click().run()
    first = (folder / "data.jsonl").read_text().splitlines()[0]
    import json

    assert _by_label(app.text_area, "text *").value == json.loads(first)["text"]


def test_run_one_node_alone(open_app):
    app, folder = open_app()
    _by_label(app.selectbox, "Node").set_value("parse_category").run()
    _by_label(app.text_input, "answer  ←  ${classify.output}").input("Category: Billing").run()
    _click(app, "Run node")
    assert "billing" in _texts(app)


def test_a_failing_tool_is_a_message_not_a_traceback(open_app):
    app, folder = open_app()
    (folder / "clean_text.py").write_text("from promptflow.core import tool\n\n@tool\ndef clean_text(text: str) -> str:"
                                          "\n    raise ValueError('no tickets on Sundays')\n")
    _by_label(app.text_area, "text *").input("hello")
    _by_label(app.button, "Run test").click().run()
    assert not app.exception
    assert any("no tickets on Sundays" in e.value for e in app.error)


def test_chat_flow_keeps_the_history(open_app):
    app, folder = open_app("chat_basic")
    app.chat_input[0].set_value("What is promptflow_lite?").run()
    assert not app.exception, app.exception
    app.chat_input[0].set_value("And how do I run it?").run()
    turns = [(m.name, " ".join(str(c.value) for c in m.children.values())) for m in app.chat_message]
    assert turns == [("user", "What is promptflow_lite?"), ("assistant", "A light, fast runner for promptflow flows."),
                     ("user", "And how do I run it?"),  # the rule answering it matches the history in the prompt
                     ("assistant", "Run `pfl flow test --flow flows/chat_basic --interactive`.")]


def test_new_flow_from_a_template(open_app, tmp_path):
    app, _ = open_app()
    _by_label(app.radio, "Template").set_value("evaluation")
    _by_label(app.text_input, "Folder").input("my_eval").run()
    _click(app, "Create")
    assert (tmp_path / "my_eval" / "flow.dag.yaml").is_file()
    assert "aggregate" in _by_label(app.selectbox, "Selected node").options


def test_secrets_are_never_shown():
    from promptflow_lite.connections._types import OpenAIConnection
    from promptflow_lite.ui._widgets import safe_value

    from promptflow_lite.masking import register_secret

    shown = safe_value({"conn": OpenAIConnection(api_key="sk-very-secret", name="my_conn"), "n": 1})
    assert "sk-very-secret" not in str(shown) and "my_conn" in str(shown)
    register_secret("sk-echoed-by-a-tool-1234")
    assert safe_value({"answer": "the key is sk-echoed-by-a-tool-1234"}) == {"answer": "the key is ***"}


def test_saving_a_python_node_without_a_tool_shows_the_validator_message(open_app):
    app, folder = open_app()
    _select(app, "summarize")
    _by_label(app.text_area, "Source").input("def summarize(category, bug_priority):\n    return {}\n").run()
    _click(app, "Save")
    result = subprocess.run(PFL + ["flow", "validate", "--source", str(folder)], capture_output=True, text=True)
    message = next(line for line in result.stderr.splitlines() if "summarize" in line)
    shown = " ".join(w.value for w in app.warning)
    assert "summarize" in shown and message.split(": ", 2)[-1].split(" Fix:")[0][:40] in shown


def test_a_flow_too_broken_to_draw_keeps_its_inputs_editable(open_app):
    app, folder = open_app()
    text = (folder / "flow.dag.yaml").read_text()
    (folder / "flow.dag.yaml").write_text(text.replace("  text:\n    type: string", "  text:\n    type: float"))
    app = AppTest.from_file(APP, default_timeout=120)
    app.run()
    assert any("Unknown type 'float'" in e.value for e in app.error)
    _by_label(app.selectbox, "Type").select("string").run()
    _click(app, "Save")
    assert (folder / "flow.dag.yaml").read_text() == text
    assert _by_label(app.selectbox, "Selected node").options[0] == "Flow inputs"
