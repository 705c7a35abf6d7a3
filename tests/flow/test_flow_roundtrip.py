"""Byte-faithful saving: untouched files stay byte-identical, an edit changes only the lines it concerns."""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest

from promptflow_lite.flow import _editing as editing
from promptflow_lite.flow._document import FlowChangedOnDisk, FlowDocument, plain

ROOT = Path(__file__).resolve().parents[2]
FLOW_FILES = sorted([*ROOT.glob("flows/*/flow.dag.yaml"), *ROOT.glob("evaluators/*/flow.dag.yaml"),
                     *ROOT.glob("tests/compat/flows/*/flow.dag.yaml"),
                     *ROOT.glob("tests/fixtures/promptflow_examples/*.flow.dag.yaml")])
IDS = [str(p.relative_to(ROOT)) for p in FLOW_FILES]


def _open_copy(source: Path, tmp_path: Path) -> FlowDocument:
    folder = tmp_path / "flow"
    if source.name == "flow.dag.yaml":
        shutil.copytree(source.parent, folder)
    else:
        folder.mkdir()
        shutil.copyfile(source, folder / "flow.dag.yaml")
    return FlowDocument(folder)


def _changed_lines(before: str, after: str) -> list[str]:
    return [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_the_fixtures_cover_mixed_indentation():
    """At least one flow a plain ruamel load+dump would re-indent (so the tests below mean something)."""
    from promptflow_lite.flow._yaml_text import YamlText

    reindented = [p for p in FLOW_FILES if YamlText(p.read_text()).dump() != p.read_text()]
    assert len(reindented) >= 9


@pytest.mark.parametrize("source", FLOW_FILES, ids=IDS)
def test_save_without_edits_is_byte_identical_and_a_node_edit_touches_only_its_line(source, tmp_path):
    doc = _open_copy(source, tmp_path)
    original = doc.file.read_bytes()
    assert doc.yaml_text().encode() == original and doc.changed_files() == []
    assert doc.save() == [] and doc.file.read_bytes() == original

    names = editing.node_names(doc)
    if not names:
        return
    node = editing.node_map(doc, names[-1])
    target = editing.body(doc, names[-1])
    editing.set_field(doc, names[-1], "comment", "edited in the UI")
    doc.save()
    after = doc.file.read_text()
    assert _changed_lines(original.decode(), after) == [
        next(line for line in _changed_lines(original.decode(), after) if line.startswith("+"))]
    assert "comment: edited in the UI" in after
    assert plain(FlowDocument(doc.folder).data) == plain(doc.data)
    assert node is not None and target is not None


@pytest.mark.parametrize("source", FLOW_FILES, ids=IDS)
def test_adding_a_node_only_adds_its_lines_and_keeps_the_flow_loadable(source, tmp_path):
    doc = _open_copy(source, tmp_path)
    original = doc.file.read_text()
    inputs = list((doc.data.get("inputs") or {}))
    editing.add_node(doc, "added_step", "python", inputs={"x": f"${{inputs.{inputs[0]}}}" if inputs else "1"})
    doc.save()
    changed = _changed_lines(original, doc.file.read_text())
    assert changed and all(line.startswith("+") for line in changed) or changed == ["-nodes: []", *changed[1:]]
    reopened = FlowDocument(doc.folder)
    assert plain(editing.node_map(reopened, "added_step"))["source"] == {"type": "code", "path": "added_step.py"}
    assert (doc.folder / "added_step.py").is_file()


def test_editing_a_prompt_changes_only_that_file(tmp_path):
    doc = _open_copy(ROOT / "flows/classification/flow.dag.yaml", tmp_path)
    before = {p.name: p.read_bytes() for p in doc.folder.iterdir() if p.is_file()}
    text = doc.source_text("classify_few_shot.jinja2")
    doc.set_source_text("classify_few_shot.jinja2", text + "Answer in lower case.\n")
    assert doc.save() == [doc.folder / "classify_few_shot.jinja2"]
    after = {p.name: p.read_bytes() for p in doc.folder.iterdir() if p.is_file()}
    assert [name for name in before if before[name] != after[name]] == ["classify_few_shot.jinja2"]


def test_a_file_changed_on_disk_is_never_overwritten(tmp_path):
    doc = _open_copy(ROOT / "flows/classification/flow.dag.yaml", tmp_path)
    editing.set_field(doc, "clean_text", "comment", "mine")
    doc.file.write_text(doc.file.read_text() + "# someone else\n")
    with pytest.raises(FlowChangedOnDisk) as caught:
        doc.save()
    assert caught.value.files == [doc.file] and "changed on disk" in str(caught.value)
    assert doc.file.read_text().endswith("# someone else\n")
    assert doc.changed_on_disk() == [doc.file]
    doc.reload()
    assert not doc.dirty and doc.changed_on_disk() == []


def test_a_prompt_changed_on_disk_is_not_overwritten(tmp_path):
    doc = _open_copy(ROOT / "flows/classification/flow.dag.yaml", tmp_path)
    doc.set_source_text("classify_zero_shot.jinja2", "mine\n")
    (doc.folder / "classify_zero_shot.jinja2").write_text("theirs\n")
    with pytest.raises(FlowChangedOnDisk):
        doc.save()
    assert (doc.folder / "classify_zero_shot.jinja2").read_text() == "theirs\n"


def test_crlf_files_keep_their_line_endings(tmp_path):
    folder = tmp_path / "crlf"
    folder.mkdir()
    text = "inputs:\r\n  text:\r\n    type: string\r\noutputs:\r\n  out:\r\n    reference: ${echo.output}\r\n" \
           "nodes:\r\n- name: echo\r\n  type: python\r\n  source: {type: code, path: echo.py}\r\n" \
           "  inputs:\r\n    text: ${inputs.text}\r\n"
    (folder / "flow.dag.yaml").write_bytes(text.encode())
    doc = FlowDocument(folder)
    assert doc.yaml_text() == text
    editing.set_input(doc, "echo", "text", "hello")
    assert doc.yaml_text() == text.replace("${inputs.text}", "hello")
