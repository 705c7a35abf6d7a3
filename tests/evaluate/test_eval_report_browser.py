"""The HTML report of a grid opens offline in headless Chromium and shows its charts (inline SVG, no network)."""

from __future__ import annotations

from promptflow_lite.cli.main import main
from _grid_flow import EXACT, server, write_grid_flow, write_words  # noqa: F401

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def test_the_report_shows_its_charts_offline_in_chromium(server, tmp_path):
    from playwright.sync_api import sync_playwright

    flow, data = write_grid_flow(tmp_path / "words"), write_words(tmp_path / "data.jsonl", 30)
    (tmp_path / "prices.yaml").write_text("models:\n  gpt-4o-mini: {prompt: 0.15, completion: 0.6}\n"
                                          "  gpt-4o: {prompt: 2.5, completion: 10}\n")
    report = tmp_path / "report.html"
    assert main(["eval", "--flow", str(flow), "--data", str(data), "--grid", *EXACT, "--slice-by", "topic",
                 "--prices", str(tmp_path / "prices.yaml"), "--report", str(report), "-q"]) == 0

    requested = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.on("request", lambda request: requested.append(request.url))
            page.goto(report.as_uri())
            charts = page.locator("svg.chart")
            titles = [charts.nth(i).get_attribute("aria-label") for i in range(charts.count())]
            assert titles == ["exact_match.passed: mean per variant (95% CI)",
                              "exact_match.passed: difference against rewrite=plain,answer=casual (95% CI)",
                              "Quality against cost per line", "exact_match.passed by topic (95% CI)"]
            assert charts.nth(0).locator("circle.point").count() == 6  # a mean per combination
            assert charts.nth(0).locator("line.ci").count() == 6
            assert charts.nth(1).locator("circle.point").count() == 5  # a difference per non-baseline combination
            assert charts.nth(2).locator("circle.point").count() == 6
            assert charts.nth(3).locator("rect.bar").count() == 6 * 3  # combinations x topics
            box = charts.nth(0).bounding_box()
            assert box["width"] > 400 and box["height"] > 150  # drawn, not collapsed
            assert "Best on exact_match.passed: rewrite=plain,answer=precise" in page.inner_text("p.best")
            assert page.locator("text=No slice changes a verdict").count() == 1
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert requested == [report.as_uri()]  # the page and nothing else
