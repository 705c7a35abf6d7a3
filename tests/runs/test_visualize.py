"""`pfl run visualize` read in a real browser (headless Chromium): one heading, the flow drawn, a per-node
summary, words wrapped only between words, paths relative to where the command ran, lines paged."""

from __future__ import annotations

import json

import pytest

from promptflow_lite.cli.main import main

BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"]

FLOW = {
    "flow.dag.yaml": """
        inputs:
          text: {type: string}
        outputs:
          words: {type: int, reference: "${count.output}"}
          shout: {type: string, reference: "${shout.output}"}
        nodes:
        - {name: clean, type: python, source: {type: code, path: clean.py}, inputs: {text: "${inputs.text}"}}
        - {name: count, type: python, source: {type: code, path: count.py}, inputs: {text: "${clean.output}"}}
        - name: shout
          type: python
          source: {type: code, path: shout.py}
          inputs: {text: "${inputs.text}"}
          activate: {when: "${count.output}", is: 3}
        - name: total
          type: python
          source: {type: code, path: total.py}
          inputs: {counts: "${count.output}"}
          aggregation: true
    """,
    "clean.py": "from promptflow.core import tool\n\n@tool\ndef clean(text: str) -> str:\n    return text.strip()\n",
    "count.py": ("from promptflow.core import tool\n\n@tool\ndef count(text: str) -> int:\n"
                 "    if 'boom' in text:\n        raise ValueError('cannot count a boom')\n"
                 "    return len(text.split())\n"),
    "shout.py": "from promptflow.core import tool\n\n@tool\ndef shout(text: str) -> str:\n    return text.upper()\n",
    "total.py": ("from promptflow.core import tool, log_metric\n\n@tool\ndef total(counts: list) -> int:\n"
                 "    log_metric('total_words', sum(counts))\n    return sum(counts)\n"),
}


@pytest.fixture
def report(make_flow, tmp_path, monkeypatch, capsys):
    flow = make_flow(FLOW, name="words")
    monkeypatch.chdir(tmp_path)
    rows = [{"text": "a considerably_long_unbroken_identifier_word " * 4 + str(i)} for i in range(28)]
    rows += [{"text": "one two three"}, {"text": "boom"}]
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert main(["run", "create", "--flow", "words", "--data", "data.jsonl", "--name", "wc", "--allow-failures"]) == 0
    assert main(["run", "visualize", "wc", "--html-path", "report.html"]) == 0
    capsys.readouterr()
    return tmp_path / "report.html"


def test_the_report_reads_well_in_a_browser(report, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(report.as_uri())
        assert page.locator("h1").all_inner_texts() == ["Run wc"]
        assert "Run wc" not in page.locator("h2").all_inner_texts()  # the run's name is not repeated as a heading

        facts = dict(zip(page.locator("table.facts th").all_inner_texts(),
                         page.locator("table.facts td").all_inner_texts()))
        assert facts["flow"] == "words" and facts["data"] == "data.jsonl"  # relative to where the command ran
        assert facts["lines"] == "29 completed, 1 failed, 30 total"
        assert page.get_by_text("total_words").is_visible()  # the run's metrics

        boxes = page.locator("svg.dag g.box text.name").all_text_contents()
        assert boxes == ["inputs", "clean", "count", "shout", "total", "outputs"]
        assert page.locator("svg.dag path").count() >= 1  # arrows that skip a layer go around the boxes
        assert page.locator("svg.dag line[stroke-dasharray]").count() == 1  # the activate condition

        nodes = {row.locator("td").first.inner_text(): row.locator("td").all_inner_texts()
                 for row in page.locator("h3:has-text('Flow') ~ table").first.locator("tr").all()[1:]}
        assert nodes["count"][2:5] == ["29", "1", "0"]  # completed, failed, bypassed
        assert nodes["shout"][2:5] == ["1", "0", "28"] and nodes["total"][2] == "1"

        cell = page.locator("table[id^=lines] tbody tr td").nth(1)
        assert cell.evaluate("e => [getComputedStyle(e).wordBreak, getComputedStyle(e).overflowWrap]") == [
            "normal", "break-word"]
        lines = page.locator("table[id^=lines] td:first-child")
        assert page.get_by_text("page 1 of 2").is_visible()
        assert lines.filter(has_text="27").count() == 0 or not lines.filter(has_text="27").first.is_visible()
        page.get_by_role("button", name="next ›").click()
        assert page.get_by_text("page 2 of 2").is_visible()
        visible = [t for t in lines.all() if t.is_visible()]
        assert [t.inner_text() for t in visible] == [str(n) for n in range(25, 30)]
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
