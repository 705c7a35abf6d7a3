"""The run browser's queries on real runs: the run list (filters, search, paging, key metrics) and a
run's lines a page at a time (failed only, text search, a run still going, a resumed run)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time

import pytest
from _runs_world import (EVALUATIONS, FLAKY, FLAKY_FAILED, FLAKY_LINES, VARIANTS, make_flaky_flow, pfl,
                         make_gated_flow, run_main_job, runs_world, world_home)  # noqa: F401 (fixtures)

from promptflow_lite.runs._errors import RunNotFoundError
from promptflow_lite.runs._lines import line_page
from promptflow_lite.runs._listing import get_run_row, list_runs, run_flows


def cli_json(home, *args):
    return json.loads(pfl(home, *args, "-o", "json").stdout)


def test_the_run_list_shows_each_variant_run_with_its_evaluation_metrics(world_home):
    page = list_runs(kind="run")
    names = [row["name"] for row in page.rows]
    assert set(VARIANTS) <= set(names) and FLAKY in names
    assert not set(EVALUATIONS) & set(names)
    assert names == [run["name"] for run in cli_json(world_home, "run", "list") if not run["run"]]  # newest first
    for variant, evaluation in zip(VARIANTS, EVALUATIONS):
        row = next(r for r in page.rows if r["name"] == variant)
        shown = json.loads(pfl(world_home, "run", "show-metrics", evaluation).stdout)
        assert row["key_metrics"]["exact_match"] == shown["exact_match"]
        assert row["evaluations"][0]["name"] == evaluation
        assert row["variant_id"] == variant.removeprefix("cls_")
        assert row["flow_name"] == "classification" and row["status"] == "Completed"
        assert row["completed_lines"] == row["total_lines"] == 40 and row["failed_lines"] == 0
        assert row["total_tokens"] > 0 and row["duration"] > 0
        own = json.loads(pfl(world_home, "run", "show-metrics", variant).stdout)
        assert {k: row["key_metrics"][k] for k in own} == own  # the flow's own aggregation metrics too


def test_the_run_list_filters_searches_and_pages(world_home):
    assert {r["name"] for r in list_runs(kind="evaluation").rows} == set(EVALUATIONS)
    assert [r["name"] for r in list_runs(status="CompletedWithErrors").rows] == [FLAKY]
    assert {r["name"] for r in list_runs(flow="exact_match").rows} == set(EVALUATIONS)
    assert {r["name"] for r in list_runs(search="VARIANT_1").rows} == {VARIANTS[1], EVALUATIONS[1]}
    assert list_runs(search="100%_").total == 0  # LIKE wildcards are plain text
    assert run_flows() == sorted({"classification", "exact_match", "flaky_flow"})
    first, second = list_runs(page_size=2), list_runs(page_size=2, page=1)
    assert first.total == second.total == 5 and first.pages == 3
    assert not {r["name"] for r in first.rows} & {r["name"] for r in second.rows}
    assert list_runs(page_size=2, page=99).page == 2  # past the end: the last page


def test_archived_runs_are_hidden_until_asked_for(tmp_path, monkeypatch):
    monkeypatch.setenv("PFL_HOME", str(tmp_path))
    flow, data = make_flaky_flow(tmp_path)
    pfl(tmp_path, "run", "create", "--flow", str(flow), "--data", str(data), "--name", "old", "--allow-failures")
    pfl(tmp_path, "run", "archive", "old")
    assert list_runs().total == 0
    assert [r["name"] for r in list_runs(archived=True).rows] == ["old"]
    assert list_runs(archived=None).rows[0]["archived"] is True


def test_metrics_of_a_run_indexed_before_they_were_kept_are_read_once_from_its_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("PFL_HOME", str(tmp_path))
    run_main_job(tmp_path, name="old")
    with sqlite3.connect(tmp_path / "runs.sqlite") as db:
        db.execute("UPDATE runs SET metrics = NULL")
    row = get_run_row("old_variant_0")
    assert row["key_metrics"]["exact_match"] == 0.85
    with sqlite3.connect(tmp_path / "runs.sqlite") as db:
        stored = db.execute("SELECT metrics FROM runs WHERE name = 'old_variant_0_exact_match'").fetchone()[0]
    assert json.loads(stored) == {"exact_match": 0.85}


def test_a_runs_lines_page_by_page_with_tokens_and_traces(world_home):
    details = cli_json(world_home, "run", "show-details", VARIANTS[0])
    pages = [line_page(VARIANTS[0], page=n, page_size=15) for n in range(3)]
    assert [p.total for p in pages] == [40] * 3 and pages[0].pages == 3
    rows = [row for p in pages for row in p.rows]
    assert [r["line_number"] for r in rows] == list(range(40))
    for row, detail in zip(rows, details):
        assert row["inputs"] == {"text": detail["inputs.text"]}
        assert row["outputs"]["category"] == detail["outputs.category"]
        assert row["trace_id"] == detail["trace_id"] and row["status"] == "Completed"
    run = cli_json(world_home, "run", "list")
    tokens = next(r for r in run if r["name"] == VARIANTS[0])["tokens"]["total_tokens"]
    assert sum(r["total_tokens"] for r in rows) == tokens
    traced = {t["trace_id"] for t in cli_json(world_home, "trace", "list", "--run", VARIANTS[0], "--max-results",
                                              "100")}
    assert {r["trace_id"] for r in rows} == traced
    assert pages[0].counts == {"Completed": 40} and pages[0].not_started == 0


def test_failed_only_and_text_search(world_home):
    failed = line_page(FLAKY, status="Failed")
    assert [r["line_number"] for r in failed.rows] == list(FLAKY_FAILED)
    expected = [d["line_number"] for d in cli_json(world_home, "run", "show-details", FLAKY, "--failed-only")]
    assert [r["line_number"] for r in failed.rows] == expected
    assert all("cannot shout bad" in r["error"] and r["outputs"] is None for r in failed.rows)
    assert failed.counts == {"Completed": FLAKY_LINES - 3, "Failed": 3}
    assert [r["line_number"] for r in line_page(FLAKY, search="WORD1").rows] == [1, 10, 12, 13, 14]
    assert [r["line_number"] for r in line_page(FLAKY, search="cannot shout bad7").rows] == [7]
    assert [r["line_number"] for r in line_page(FLAKY, search="4").rows] == [4, 14]  # text or line number
    assert line_page(FLAKY, search="shout").total == 3  # node names are no text of a line; errors are
    assert line_page(FLAKY, search="word1", status="Failed").total == 0
    with pytest.raises(RunNotFoundError):
        line_page("no_such_run")


def test_a_resumed_run_is_reindexed_from_its_rewritten_journal(tmp_path, monkeypatch):
    monkeypatch.setenv("PFL_HOME", str(tmp_path))
    flow, data = make_flaky_flow(tmp_path)
    pfl(tmp_path, "run", "create", "--flow", str(flow), "--data", str(data), "--name", "fixme", "--allow-failures")
    assert line_page("fixme", status="Failed").total == 3
    (flow / "shout.py").write_text("from promptflow.core import tool\n\n@tool\ndef shout(word: str) -> str:\n"
                                   "    return word.upper() + '!'\n")
    pfl(tmp_path, "run", "resume", "fixme")
    page = line_page("fixme", page_size=100)
    assert page.counts == {"Completed": FLAKY_LINES}
    assert [r["outputs"]["shout"] for r in page.rows if r["line_number"] in FLAKY_FAILED] == ["BAD3!", "BAD7!", "BAD11!"]


def test_a_running_run_shows_its_finished_lines_while_the_rest_wait(tmp_path, monkeypatch):
    monkeypatch.setenv("PFL_HOME", str(tmp_path))
    texts = ["a", "b", "c", "d", "e", "lock f", "lock g", "lock h"]
    flow, data, gate = make_gated_flow(tmp_path, texts)
    process = subprocess.Popen([sys.executable, "-m", "promptflow_lite.cli.main", "run", "create", "--flow",
                                str(flow), "--data", str(data), "--name", "gated"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        page = None
        while time.monotonic() < deadline:
            try:
                page = line_page("gated")
            except RunNotFoundError:
                page = None
            if page is not None and page.total == 5:
                break
            time.sleep(0.1)
        assert page is not None and [r["outputs"]["category"] for r in page.rows] == ["A", "B", "C", "D", "E"]
        assert page.total_lines == 8 and page.not_started == 3
        gate.touch()
        assert process.wait(timeout=120) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    page = line_page("gated")
    assert [r["outputs"]["category"] for r in page.rows] == [t.upper() for t in texts] and page.not_started == 0
