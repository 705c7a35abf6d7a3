"""Deep links in a real headless Chromium: each page's URL opened first thing on a freshly started ``pfl ui``
(no visit of the root before) shows that page, on its thing, inside the app's navigation."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

import pytest
from _runs_world import CLASSIFICATION, VARIANTS, runs_world, world_home  # noqa: F401 (fixtures)
from _ui_server import chromium_page, running_ui, wait_until_idle
from playwright.sync_api import expect

from promptflow_lite.tracing import list_traces

NAVIGATION = ["Flow editor", "Runs", "New evaluation", "Compare", "Traces"]


def _link(kind: str, home) -> tuple[str, str, str]:
    """(the path and query a user pastes, the path the app shows, a text only that page on that thing shows)."""
    if kind == "editor":
        return f"/editor?{urlencode({'flow': CLASSIFICATION})}", "/editor", "No problems found"
    if kind == "root":
        return f"/?{urlencode({'flow': CLASSIFICATION})}", "/editor", "No problems found"
    if kind == "run":
        return f"/runs?run={VARIANTS[0]}", "/run", "Evaluated by"
    if kind == "compare":
        return f"/compare?{urlencode([('run', VARIANTS[0]), ('run', VARIANTS[1])])}", "/compare", "Lines side by side"
    if kind == "trace":
        trace = list_traces(run=VARIANTS[1], limit=1)[0]["trace_id"]
        return f"/traces?trace={trace}", "/trace", "Tick a span to see its details"
    return "/evaluate", "/evaluate", "Enter the folder of the flow to evaluate."


@pytest.mark.parametrize("kind", ["editor", "root", "run", "compare", "trace", "evaluate"])
def test_a_deep_link_on_a_fresh_server_opens_its_page_with_the_navigation(kind, world_home, tmp_path):
    link, path, marker = _link(kind, world_home)
    with running_ui([], env={"PFL_HOME": str(world_home)}, cwd=tmp_path) as ui, chromium_page(1280, 800) as page:
        page.goto(ui.url + link)
        wait_until_idle(page, settle_ms=1500)
        page.get_by_text(marker).first.wait_for()
        assert page.get_by_text("Page not found").count() == 0
        navigation = page.get_by_test_id("stSidebarNav")
        for title in NAVIGATION:
            navigation.get_by_role("link", name=title).wait_for()
        assert urlsplit(page.url).path == path
        page.screenshot(path=str(tmp_path / f"{kind}.png"), full_page=True)


@pytest.mark.parametrize("kind, title, marker", [("run", "Runs", "Select runs (tick the boxes on the left)"),
                                                 ("trace", "Traces", "Click a row's box to open its trace.")])
def test_the_sidebar_link_leads_from_one_run_or_trace_back_to_the_list(kind, title, marker, world_home, tmp_path):
    link, path, detail = _link(kind, world_home)
    with running_ui([], env={"PFL_HOME": str(world_home)}, cwd=tmp_path) as ui, chromium_page(1280, 800) as page:
        page.goto(ui.url + link)
        wait_until_idle(page, settle_ms=1500)
        page.get_by_text(detail).first.wait_for()
        page.screenshot(path=str(tmp_path / f"{kind}.png"), full_page=True)
        page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
        wait_until_idle(page, settle_ms=1500)
        page.get_by_text(marker).first.wait_for()
        assert page.get_by_text(detail).count() == 0
        assert urlsplit(page.url).path == path + "s" and not urlsplit(page.url).query
        page.screenshot(path=str(tmp_path / f"{kind}s.png"), full_page=True)


@pytest.mark.parametrize("link, title, combobox, filtered, whole", [
    (f"/traces?run={VARIANTS[1]}", "Traces", "Run", VARIANTS[1], "All runs"),
    ("/evaluate?evaluation=nope", "New evaluation", None, "No evaluation named 'nope'",
     "Enter the folder of the flow to evaluate."),
])
def test_the_sidebar_link_leads_from_a_filtered_page_back_to_the_whole_page(link, title, combobox, filtered, whole,
                                                                            world_home, tmp_path):
    """A page opened on one run's traces or on one evaluation: its own sidebar link shows the whole list / the form
    (Streamlit keeps the query of the page one is on when that page's link is clicked)."""
    def shows(text: str) -> None:
        if combobox:
            expect(page.get_by_role("combobox", name=combobox)).to_have_value(text, timeout=60_000)
        else:
            page.get_by_text(text).first.wait_for()

    with running_ui([], env={"PFL_HOME": str(world_home)}, cwd=tmp_path) as ui, chromium_page(1280, 800) as page:
        page.goto(ui.url + link)
        wait_until_idle(page, settle_ms=1500)
        shows(filtered)
        page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
        wait_until_idle(page, settle_ms=1500)
        shows(whole)
        assert not urlsplit(page.url).query
        page.screenshot(path=str(tmp_path / "whole.png"), full_page=True)
