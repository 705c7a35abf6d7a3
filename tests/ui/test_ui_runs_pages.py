"""The Runs, Traces, Compare and New evaluation pages under Streamlit's AppTest, on real runs and traces:
what a user sees, the actions they take, and errors shown as messages (never a traceback)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from _runs_world import (CLASSIFICATION, EVALUATIONS, FLAKY, FLAKY_FAILED, RULES, VARIANTS, make_flaky_flow, pfl,
                         run_main_job, runs_world, world_home)  # noqa: F401 (fixtures)
from streamlit.testing.v1 import AppTest

from promptflow_lite.evaluate._text_table import comparison_rows
from promptflow_lite.runs._lines import line_page
from promptflow_lite.tracing import list_traces, trace_view

APP = Path(__file__).resolve().parents[2] / "ui" / "app.py"


def open_page(page: str, **params: str) -> AppTest:
    """The app opened on ``page`` (``runs``, ``run``, ``traces``, ``run_traces``, ``trace``, ``compare``, ``evaluate``,
    ``evaluation``) with query parameters."""
    app = AppTest.from_file(str(APP), default_timeout=120)
    for key, value in params.items():
        app.query_params[key] = value
    app.run()
    app.switch_page(f"views/{page}.py").run()
    assert not app.exception, app.exception
    return app


def texts(app: AppTest) -> str:
    """Everything written on the page (markdown, captions, titles, messages, code)."""
    parts = [e.value for kind in ("title", "markdown", "caption", "subheader", "error", "warning", "info", "success",
                                  "code") for e in getattr(app, kind)]
    return "\n".join(str(part) for part in parts)


def test_the_runs_page_lists_both_variant_runs_with_their_metrics(world_home):
    app = open_page("runs")
    frame = app.dataframe[0].value.data if hasattr(app.dataframe[0].value, "data") else app.dataframe[0].value
    names = [link.split("run=")[1] for link in frame["Run"]]
    assert names[:2] == list(reversed(VARIANTS)) or set(VARIANTS) <= set(names)
    by_name = dict(zip(names, frame.to_dict(orient="records")))
    assert by_name[VARIANTS[0]]["exact_match"] == 0.85 and by_name[VARIANTS[1]]["exact_match"] == 1.0
    assert by_name[FLAKY]["Failed"] == 3 and "Completed with errors" in by_name[FLAKY]["Status"]
    columns = list(frame.columns)  # a narrow window shows the status and key metrics before the line counts
    assert columns.index("Status") < columns.index("exact_match") < columns.index("OK")
    app.text_input(key="runs_search").input("variant_1").run()
    assert [link.split("run=")[1] for link in _frame(app)["Run"]] == [VARIANTS[1]]
    app.text_input(key="runs_search").input("").run()
    app.selectbox(key="runs_kind").select("Evaluation runs").run()
    assert {link.split("run=")[1] for link in _frame(app)["Run"]} == set(EVALUATIONS)



def test_an_evaluation_metric_keeps_its_column_when_newer_runs_have_only_their_own(pfl_home):
    """The classification flow's own metrics (share_*) fill the table's metric columns; a newer run that was not
    evaluated must not push the evaluations' exact_match out of it."""
    run_main_job(pfl_home)
    pfl(pfl_home, "--scripted-llm", str(RULES), "run", "create", "--flow", str(CLASSIFICATION), "--data",
        str(CLASSIFICATION / "data.jsonl"), "--name", "not_evaluated")
    frame = _frame(open_page("runs"))
    by_name = {link.split("run=")[1]: row for link, row in zip(frame["Run"], frame.to_dict(orient="records"))}
    assert by_name[VARIANTS[0]]["exact_match"] == 0.85 and by_name[VARIANTS[1]]["exact_match"] == 1.0
    assert by_name["not_evaluated"]["share_bug"] == 0.25

def _frame(app: AppTest, index: int = 0):
    value = app.dataframe[index].value
    return value.data if hasattr(value, "data") else value  # a pandas Styler holds its frame


def test_a_run_page_shows_its_figures_and_pages_its_lines_with_failed_only_and_search(world_home):
    app = open_page("run", run=VARIANTS[0])
    shown = texts(app)
    assert VARIANTS[0] in shown and "exact_match" in shown and "0.850" in shown and "40 / 40" in shown
    lines = _frame(app)
    assert list(lines["#"]) == list(range(40)) and lines["exact_match.passed"].sum() == 34
    traces = {t["trace_id"] for t in list_traces(run=VARIANTS[0], limit=None)}
    assert {link.split("trace=")[1] for link in lines["Trace"]} == traces
    app = open_page("run", run=FLAKY)
    app.segmented_control(key="lines_filter").set_value("Failed only").run()
    failed = _frame(app)
    assert list(failed["#"]) == list(FLAKY_FAILED) and all("cannot shout" in e for e in failed["Error"])
    app.text_input(key="lines_search").input("bad7").run()
    assert list(_frame(app)["#"]) == [7]


def test_archive_restore_and_delete_from_a_run_page(tmp_path, monkeypatch):
    monkeypatch.setenv("PFL_HOME", str(tmp_path))
    flow, data = make_flaky_flow(tmp_path)
    pfl(tmp_path, "run", "create", "--flow", str(flow), "--data", str(data), "--name", "doomed", "--allow-failures")
    app = open_page("run", run="doomed")
    app.button(key="run_archive").click().run()
    assert json.loads(pfl(tmp_path, "run", "show", "doomed").stdout)["archived"] is True
    app.button(key="run_restore").click().run()
    assert json.loads(pfl(tmp_path, "run", "show", "doomed").stdout)["archived"] is False
    app.button(key="run_delete").click().run()
    assert "cannot be undone" in texts(app)
    app.button(key="run_delete_no").click().run()
    assert pfl(tmp_path, "run", "show", "doomed", check=False).returncode == 0
    app.button(key="run_delete").click().run()
    app.button(key="run_delete_yes").click().run()
    assert pfl(tmp_path, "run", "show", "doomed", check=False).returncode == 1
    app = open_page("run", run="doomed")
    assert "no run named 'doomed'" in texts(app)


def test_the_traces_page_lists_filters_and_opens_a_trace_with_its_llm_call(world_home):
    app = open_page("traces")
    assert len(_frame(app)) == 50 and "175 traces" in texts(app)
    app = open_page("run_traces", run=FLAKY)
    assert list(_frame(app)["Line"]) == list(range(14, -1, -1))
    app.selectbox(key="traces_status").select("Failed").run()
    assert sorted(_frame(app)["Line"]) == list(FLAKY_FAILED)
    row = line_page(VARIANTS[1], page_size=1).rows[0]
    app = open_page("trace", trace=row["trace_id"])
    shown = texts(app)
    assert "classification" in shown and f"{row['total_tokens']:,}" in shown and f"run [{VARIANTS[1]}]" in shown
    spans = _frame(app)
    assert [name.split("└ ")[-1] for name in spans["Span"]][:4] == [
        "classification", "clean_text", "classify", "chat gpt-4o-mini"]
    assert app.get("vega_lite_chart")  # the waterfall
    llm = next(span for span in trace_view(row["trace_id"]).spans if span["kind"] == "llm")
    app = open_page("trace", trace=row["trace_id"], span=llm["span_id"])
    chat = texts(app)
    messages = [e.value for e in app.get("text")]
    assert "model **gpt-4o-mini**" in chat and f"{row['prompt_tokens']:,} → {row['completion_tokens']:,} tokens" in chat
    assert any(row["inputs"]["text"] in m for m in messages) and messages[-1] == row["outputs"]["category"]


def test_add_to_dataset_from_a_trace(world_home, tmp_path):
    failed = line_page(FLAKY, status="Failed", page_size=1).rows[0]
    dataset = tmp_path / "cases.jsonl"
    app = open_page("trace", trace=failed["trace_id"])
    app.text_input(key=f"dataset_path_{failed['trace_id']}").input(str(dataset)).run()
    app.text_input(key=f"dataset_column_{failed['trace_id']}").input("expected").run()
    area = next(a for a in app.text_area if a.key.startswith(f"dataset_value_{failed['trace_id']}"))
    area.input("BAD3!").run()
    app.button(key=f"dataset_add_{failed['trace_id']}").click().run()
    assert f"Added as line 1 of `{dataset}`" in texts(app)
    assert json.loads(dataset.read_text()) == {"word": "bad3", "expected": "BAD3!"}


def test_the_compare_page_shows_the_clis_table_and_the_lines_one_variant_won(world_home):
    from promptflow_lite.evaluate._run_compare import compare_runs
    from promptflow_lite.runs._client import Client

    app = open_page("compare", runs=",".join(VARIANTS))
    table = _frame(app, 0)
    _, rows = comparison_rows(compare_runs(Client(), list(VARIANTS)))
    assert [list(r) for r in table.itertuples(index=False)] == [
        [cell.replace("cls_", "") if i == 1 else cell for i, cell in enumerate(row)] for row in rows]
    assert "6 better" in texts(app) and app.get("vega_lite_chart")
    assert app.selectbox(key="compare_baseline").options == ["variant_0", "variant_1"]  # long names differ at the end
    assert len(_frame(app, 1)) == 40
    app.selectbox(key="compare_show").select("variant_1 beat variant_0").run()
    won = _frame(app, 1)
    assert len(won) == 6 and list(won["variant_0 · score"]) == [0.0] * 6 and list(won["variant_1 · score"]) == [1.0] * 6


def test_a_compare_of_runs_over_different_data_is_a_message(world_home):
    app = open_page("compare", runs=f"{VARIANTS[0]},{FLAKY}")
    assert "different numbers of lines" in texts(app) and not app.exception


def test_an_evaluation_started_from_the_page_completes_with_progress_and_the_clis_table(pfl_home, monkeypatch):
    monkeypatch.chdir(CLASSIFICATION.parents[1])  # the checkout: the page offers flows/classification
    app = open_page("evaluate")
    assert app.multiselect(key="evaluate_builtins").value == ["exact_match"]
    assert app.button(key="evaluate_start").disabled  # exact_match.answer is not mapped yet
    app.selectbox(key="evaluate_mapping_exact_match_answer").select("${run.outputs.category}").run()
    app.button(key="evaluate_start").click().run()
    name = app.query_params["evaluation"]
    name = name[0] if isinstance(name, list) else name
    deadline = time.monotonic() + 300
    while "Comparison" not in texts(app):
        assert time.monotonic() < deadline, texts(app)
        time.sleep(1)
        app.run()
    code = texts(app)
    assert "2 variants · evaluated by `exact_match`" in code
    assert "exact_match.passed  variant_0  0.850  [0.709, 0.929]" in code and "better" in code
    listed = {r["name"] for r in json.loads(pfl(pfl_home, "run", "list", "-o", "json").stdout)}
    assert listed == {f"{name}_variant_0", f"{name}_variant_1", f"{name}_variant_0_exact_match",
                      f"{name}_variant_1_exact_match"}


@pytest.mark.parametrize("page, params, message", [
    ("run", {"run": "nope"}, "no run named 'nope'"),
    ("trace", {"trace": "0123456789abcdef"}, "No trace '0123456789abcdef'"),
    ("evaluate", {"evaluation": "nope"}, "No evaluation named 'nope'"),
])
def test_bad_addresses_are_messages(world_home, page, params, message):
    app = open_page(page, **params)
    assert message in texts(app) and not app.exception
