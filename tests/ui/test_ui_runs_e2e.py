"""The run browser in a real headless Chromium, as a user goes through it after README's main job: the runs and
their metrics, the comparison (the CLI's numbers and a chart), a line's trace with its LLM call and tokens, "add to
dataset", and an evaluation started from the browser. Screenshots land in the test's tmp folder."""

from __future__ import annotations

import csv
import io
import json
import time

from _runs_world import CLASSIFICATION, pfl, run_main_job
from _ui_server import chromium_page, running_ui, wait_until_idle

from promptflow_lite.runs._lines import line_page

HEADER, ROW = 35, 35  # pixels of a dataframe's header and rows


def grid_rows(page, grid) -> list[dict[str, str]]:
    """What a dataframe shows, through its own "Download as CSV" button."""
    grid.hover()
    with page.expect_download() as download:
        grid.get_by_role("button", name="Download as CSV").click()
    return list(csv.DictReader(io.StringIO(open(download.value.path(), encoding="utf-8-sig").read())))


def click_row(page, grid, index: int) -> None:
    """Tick the selection box of row ``index`` of a dataframe."""
    grid.locator("canvas").first.wait_for()
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 16, box["y"] + HEADER + ROW * index + ROW / 2)
    wait_until_idle(page)


def settle(page, seconds: float = 1.0) -> None:
    wait_until_idle(page)
    time.sleep(seconds)  # let charts and grids paint before a screenshot
    wait_until_idle(page)


def open_app(page, ui) -> None:
    page.add_init_script("delete window.showSaveFilePicker")  # CSV downloads as a plain download
    page.goto(ui.url)
    wait_until_idle(page)


def test_readme_main_job_seen_compared_and_traced_in_the_browser(tmp_path):
    home = tmp_path / "home"
    cli_table = run_main_job(home, name="readme").stdout
    variants = ["readme_variant_0", "readme_variant_1"]
    dataset = tmp_path / "regressions.jsonl"
    with running_ui([], env={"PFL_HOME": str(home)}, cwd=tmp_path) as ui, chromium_page(1500, 1100) as page:
        open_app(page, ui)
        page.get_by_role("link", name="Runs").click()
        settle(page)
        runs = page.get_by_test_id("stDataFrame").first
        rows = {row["Run"].split("run=")[1]: row for row in grid_rows(page, runs)}
        assert set(rows) == set(variants)
        assert float(rows[variants[0]]["exact_match"]) == 0.85 and float(rows[variants[1]]["exact_match"]) == 1.0
        assert rows[variants[0]]["OK"] == "40" and "Completed" in rows[variants[0]]["Status"]
        page.screenshot(path=str(tmp_path / "runs.png"), full_page=True)

        order = list(rows)
        for name in variants:
            click_row(page, runs, order.index(name))
        page.get_by_role("link", name="Compare 2 runs").click()
        settle(page, 2)
        statistics = grid_rows(page, page.get_by_test_id("stDataFrame").first)
        assert [(r["run"], r["mean"], r["95% CI"]) for r in statistics] == [
            ("variant_0", "0.850", "[0.709, 0.929]"), ("variant_1", "1.000", "[0.912, 1.000]")]
        assert (statistics[1]["diff vs baseline"], statistics[1]["p"], statistics[1]["verdict"]) == (
            "+0.150", "0.031", "better")
        for cell in ("0.850  [0.709, 0.929]", "+0.150", "[+0.032, +0.291]", "0.031  better"):
            assert cell in cli_table  # the CLI printed the same numbers
        chart = page.get_by_test_id("stVegaLiteChart").first
        chart.locator("canvas, svg").first.wait_for()
        assert page.get_by_text("6 better").count() == 1
        page.screenshot(path=str(tmp_path / "compare.png"), full_page=True)

        page.get_by_role("link", name="Runs").first.click()
        settle(page)
        click_row(page, page.get_by_test_id("stDataFrame").first, order.index(variants[0]))
        page.get_by_role("button", name="Open run").click()
        settle(page)
        assert page.get_by_role("heading", name=variants[0]).count() == 1
        line = line_page(variants[0], page_size=1, home=home).rows[0]
        click_row(page, page.get_by_test_id("stDataFrame").first, 0)
        page.screenshot(path=str(tmp_path / "run.png"), full_page=True)
        page.get_by_role("link", name="Open its trace").click()
        settle(page, 2)
        assert line["trace_id"] in page.url
        spans = page.get_by_test_id("stDataFrame").first
        assert [r["Kind"] for r in grid_rows(page, spans)][:4] == ["Flow", "Node", "Node", "LLM"]
        page.screenshot(path=str(tmp_path / "trace.png"), full_page=True)
        click_row(page, spans, 3)
        settle(page)
        detail = page.get_by_test_id("stMain").inner_text()
        assert "gpt-4o-mini" in detail and line["inputs"]["text"] in detail
        assert f"{line['prompt_tokens']} → {line['completion_tokens']} tokens" in detail
        page.screenshot(path=str(tmp_path / "llm_span.png"), full_page=True)

        click_row(page, spans, 0)
        settle(page)
        page.get_by_test_id("stExpander").filter(has_text="Add this line to a dataset").locator("summary").click()
        page.get_by_label("JSONL file").fill(str(dataset))
        page.get_by_label("JSONL file").press("Enter")
        wait_until_idle(page)
        page.get_by_label("Column name").fill("expected")
        page.get_by_label("Column name").press("Enter")
        wait_until_idle(page)
        page.get_by_role("button", name="Add line").click()
        page.get_by_text("Added as line 1").wait_for()
        page.screenshot(path=str(tmp_path / "dataset.png"), full_page=True)
    assert json.loads(dataset.read_text()) == {"text": line["inputs"]["text"], "expected": line["outputs"]["category"]}


def test_an_evaluation_started_in_the_browser_completes_and_is_listed_by_the_cli(tmp_path):
    home = tmp_path / "home"
    with running_ui([], env={"PFL_HOME": str(home)}, cwd=CLASSIFICATION.parents[1]) as ui, \
            chromium_page(1500, 1400) as page:
        open_app(page, ui)
        page.get_by_role("link", name="New evaluation").click()
        page.get_by_text("Evaluator exact_match").wait_for()
        wait_until_idle(page)
        page.get_by_test_id("stSelectbox").filter(has_text="answer").click()
        page.get_by_role("option", name="${run.outputs.category}").click()
        wait_until_idle(page)
        page.get_by_role("button", name="Start evaluation").click()
        page.locator(".pfl-bar").first.wait_for()  # a progress bar per run
        page.screenshot(path=str(tmp_path / "evaluation_running.png"), full_page=True)
        page.get_by_text("Comparison").wait_for(timeout=300_000)
        settle(page)
        table = page.get_by_test_id("stCode").first.inner_text()
        page.screenshot(path=str(tmp_path / "evaluation_done.png"), full_page=True)
    assert "variant_1  1.000  [0.912, 1.000]" in table and "better" in table
    listed = json.loads(pfl(home, "run", "list", "-o", "json").stdout)
    assert len(listed) == 4 and all(run["status"] == "Completed" for run in listed)
