"""The editor end to end in a real headless Chromium: `pfl ui --flow` on an example flow, every node drawn
in the React Flow canvas, a click selects a node, a variant's prompt edited and saved (only that file
changes, and `pfl flow test` picks it up), a test run shows the output. Screenshots go to the tmp dir."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from _ui_server import chromium_page, running_ui, wait_until_idle
from playwright.sync_api import expect

expect.set_options(timeout=60_000)  # a loaded machine reruns slowly

ROOT = Path(__file__).resolve().parents[2]
PFL = [sys.executable, "-m", "promptflow_lite.cli.main"]
MARK = "If the ticket mentions PINEAPPLE, the category is billing."


def _click_until(page, target, check, *args) -> None:
    """Click, and click again if the app has not reacted: a click landing while the canvas reports its redraw
    can be dropped by Streamlit (a person clicks again too)."""
    for attempt in range(3):
        target.click()
        try:
            check(*args, timeout=20_000)
            return
        except AssertionError:
            if attempt == 2:
                raise
            wait_until_idle(page)


def _open_until_visible(page, expander, inside) -> None:
    """Open ``expander`` until ``inside`` shows: a rerun under load may draw it closed again, or drop the click."""
    for _ in range(3):
        if inside.is_visible():
            return
        expander.locator("summary").click()
        wait_until_idle(page)
    expect(inside).to_be_visible()


def test_edit_a_variant_prompt_in_the_browser_save_and_test(tmp_path):
    folder = tmp_path / "classification"
    shutil.copytree(ROOT / "flows/classification", folder)
    rules = tmp_path / "rules.yaml"  # a rule that only the edited prompt triggers, then the example's rules
    rules.write_text(f'- match: "PINEAPPLE"\n  reply: billing\n' + (folder / "scripted_llm.yaml").read_text())
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    nodes = ["clean_text", "classify", "parse_category", "triage_bug", "summarize", "category_counts"]

    with running_ui(["--flow", str(folder)], global_args=["--scripted-llm", str(rules)], cwd=tmp_path) as ui, \
            chromium_page() as page:
        page.goto(ui.url)
        wait_until_idle(page)
        canvas = page.frame_locator('[data-testid="stCustomComponentV1"]').first
        for name in [*nodes, "inputs", "outputs"]:
            canvas.locator(f'.react-flow__node[data-id="{name}"]').wait_for(state="attached")
        for name in nodes:
            assert name in canvas.locator(f'.react-flow__node[data-id="{name}"]').inner_text()
        wait_until_idle(page, settle_ms=1500)  # the canvas reports once after it is drawn
        variants = canvas.locator('.react-flow__node[data-id="classify"]').inner_text()
        assert "variant_0" in variants and "variant_1" in variants
        assert canvas.locator(".react-flow__edge").count() >= 9
        page.screenshot(path=str(tmp_path / "1-opened.png"))

        canvas.locator('.react-flow__node[data-id="classify"]').click()
        expect(page.get_by_role("combobox", name="Selected node")).to_have_value("classify")
        wait_until_idle(page)
        _click_until(page, page.get_by_test_id("stRadio").get_by_text("variant_1"),
                     expect(page.get_by_role("textbox", name="Description")).to_have_value, re.compile("few-shot"))
        wait_until_idle(page)
        page.get_by_role("tab", name="Source").click()
        source = page.get_by_role("textbox", name="Source", exact=True)
        expect(source).to_have_value(re.compile("Examples:"))  # the few-shot prompt of variant_1
        source.fill(source.input_value() + MARK + "\n")
        source.press("Control+Enter")
        page.get_by_text("unsaved: classify_few_shot.jinja2").wait_for()
        page.screenshot(path=str(tmp_path / "2-edited.png"))
        page.get_by_role("button", name="Save").click()
        page.get_by_text("Saved classify_few_shot.jinja2").wait_for()
        wait_until_idle(page)
        expect(page.get_by_role("tab", name="Source")).to_have_attribute("aria-selected", "true")  # still there

        after = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
        assert [name for name in before if before[name] != after[name]] == ["classify_few_shot.jinja2"]
        assert after["classify_few_shot.jinja2"].decode().endswith(MARK + "\n")

        page.get_by_role("textbox", name="text *").fill("My PINEAPPLE app crashes on start")
        page.get_by_test_id("stButtonGroup").get_by_role("button", name="${classify.variant_1}").click()
        page.get_by_role("button", name="Run test").click()
        try:
            page.get_by_text("Completed").first.wait_for(timeout=180_000)
        finally:
            page.screenshot(path=str(tmp_path / "3-tested.png"))
        wait_until_idle(page)
        assert '"billing"' in page.get_by_test_id("stJson").first.inner_text()
        page.screenshot(path=str(tmp_path / "3-tested.png"), full_page=True)

    result = subprocess.run(PFL + ["--scripted-llm", str(rules), "flow", "test", "--flow", str(folder), "--variant",
                                   "${classify.variant_1}", "--inputs", "text=My PINEAPPLE app crashes", "-o", "json"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["category"] == "billing"


def test_a_broken_reference_is_flagged_on_its_node_and_a_chat_flow_chats(tmp_path):
    broken = tmp_path / "classification"
    shutil.copytree(ROOT / "flows/classification", broken)
    text = (broken / "flow.dag.yaml").read_text()
    (broken / "flow.dag.yaml").write_text(text.replace("category: ${parse_category.output}",
                                                       "category: ${parse_categroy.output}"))
    rules = tmp_path / "rules.yaml"
    rules.write_text((ROOT / "flows/chat_basic/scripted_llm.yaml").read_text())
    with running_ui(["--flow", str(broken)], global_args=["--scripted-llm", str(rules)], cwd=tmp_path) as ui, \
            chromium_page() as page:
        page.goto(ui.url)
        wait_until_idle(page)
        canvas = page.frame_locator('[data-testid="stCustomComponentV1"]').first
        expect(canvas.locator('.react-flow__node[data-id="summarize"]')).to_contain_text("1 problem")
        canvas.locator('.react-flow__node[data-id="summarize"]').click()
        expect(page.get_by_test_id("stAlert").filter(has_text="input 'category' refers to node 'parse_categroy'")
               ).to_be_visible()
        page.screenshot(path=str(tmp_path / "4-problem.png"))

        page.goto(f"{ui.url}/?flow={ROOT / 'flows/chat_basic'}")
        canvas.locator('.react-flow__node[data-id="chat"]').wait_for(state="attached")
        wait_until_idle(page, settle_ms=1500)  # the canvas reports once after it is drawn
        page.get_by_role("tab", name="Chat").click()
        message = page.get_by_test_id("stChatInputTextArea")
        message.fill("What is promptflow_lite?")
        message.press("Enter")
        try:
            expect(page.get_by_test_id("stChatMessage").nth(1)).to_contain_text("A light, fast runner for promptflow")
        finally:
            page.screenshot(path=str(tmp_path / "5-chat.png"))
        wait_until_idle(page)
        message.fill("And how do I run it?")
        message.press("Enter")
        expect(page.get_by_test_id("stChatMessage").nth(3)).to_contain_text("--interactive")
        expect(page.get_by_test_id("stChatMessage")).to_have_count(4)
        page.screenshot(path=str(tmp_path / "5-chat.png"))


def test_a_new_flow_from_each_template_is_drawn_and_found(tmp_path):
    import yaml

    shutil.copytree(ROOT / "flows/classification", tmp_path / "classification")
    with running_ui(["--flow", str(tmp_path / "classification")], cwd=tmp_path) as ui, chromium_page(1280, 800) as page:
        page.goto(ui.url)
        wait_until_idle(page)
        canvas = page.frame_locator('[data-testid="stCustomComponentV1"]').first
        canvas.locator('.react-flow__node[data-id="classify"]').wait_for(state="attached")
        for kind in ("standard", "chat", "evaluation"):
            page.get_by_role("button", name="New flow").click()
            form = page.get_by_test_id("stPopoverBody")
            _click_until(page, form.get_by_text(kind, exact=True), expect(form.get_by_role("radio", name=kind)
                                                                          ).to_be_checked)
            form.get_by_role("textbox", name="Folder").fill(f"my_{kind}")
            form.get_by_role("textbox", name="Folder").press("Enter")
            wait_until_idle(page)
            form.get_by_role("button", name="Create").click()
            expect(page.get_by_test_id("stPopoverBody")).to_have_count(0)  # the popover closes on the new flow
            page.get_by_role("heading", name=f"my_{kind}").wait_for()
            nodes = [n["name"] for n in yaml.safe_load((tmp_path / f"my_{kind}/flow.dag.yaml").read_text())["nodes"]]
            for name in nodes:  # the canvas draws the new flow, not the one open before
                canvas.locator(f'.react-flow__node[data-id="{name}"]').wait_for(state="attached")
            expect(canvas.locator(".react-flow__node")).to_have_count(len(nodes) + 2)
            wait_until_idle(page, settle_ms=1500)
            page.screenshot(path=str(tmp_path / f"new-{kind}.png"))
        _click_until(page, page.get_by_role("combobox", name="Flow folder"),
                     expect(page.get_by_role("option", name="classification", exact=True)).to_be_visible)
        for found in ("my_standard", "my_chat", "my_evaluation"):  # the flows under the working folder
            expect(page.get_by_role("option", name=found, exact=True)).to_be_visible()


def test_a_refused_delete_then_a_rename_in_the_same_panel(tmp_path):
    """Deleting a node that others use is refused with the list of its users; the panel stays usable: typing a new
    name there (the message above goes away) keeps it open, and the rename carries the references along."""
    folder = tmp_path / "classification"
    shutil.copytree(ROOT / "flows/classification", folder)
    with running_ui(["--flow", str(folder)], cwd=tmp_path) as ui, chromium_page(1280, 800) as page:
        page.goto(ui.url)
        wait_until_idle(page)
        canvas = page.frame_locator('[data-testid="stCustomComponentV1"]').first
        canvas.locator('.react-flow__node[data-id="parse_category"]').wait_for(state="attached")
        wait_until_idle(page, settle_ms=1500)  # the canvas reports once after it is drawn
        _click_until(page, canvas.locator('.react-flow__node[data-id="parse_category"]'),
                     expect(page.get_by_role("combobox", name="Selected node")).to_have_value, "parse_category")
        wait_until_idle(page)
        panel = page.get_by_test_id("stExpander").filter(has_text="Rename or delete this node")
        _open_until_visible(page, panel, panel.get_by_role("button", name="Delete parse_category"))
        panel.get_by_role("button", name="Delete parse_category").click()
        expect(page.get_by_test_id("stAlert").filter(has_text="is used by node 'triage_bug'")).to_be_visible()
        wait_until_idle(page)
        _open_until_visible(page, panel, panel.get_by_role("textbox", name="New name"))
        panel.get_by_role("textbox", name="New name").fill("parse_label")
        panel.get_by_role("textbox", name="New name").press("Tab")
        wait_until_idle(page)
        page.screenshot(path=str(tmp_path / "rename.png"))
        rename = panel.get_by_role("button", name="Rename")
        _open_until_visible(page, panel, rename)
        _click_until(page, rename, expect(page.get_by_text("Renamed parse_category to parse_label")).to_be_visible)
        wait_until_idle(page)
        _click_until(page, page.get_by_role("button", name="Save"),
                     expect(page.get_by_text("Saved flow.dag.yaml")).to_be_visible)
    text = (folder / "flow.dag.yaml").read_text()
    assert "parse_category" not in text.replace("parse_category.py", "") and "${parse_label.output}" in text
