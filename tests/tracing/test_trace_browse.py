"""The trace viewer's queries on real traces: the filtered trace list, one trace laid out (tree,
waterfall, LLM calls as chat messages, tokens), and a traced line added to a dataset."""

from __future__ import annotations

import json
import time

import pytest
from _runs_world import (FLAKY, FLAKY_FAILED, VARIANTS, make_flaky_flow, pfl, runs_world,  # noqa: F401
                         world_home)

from promptflow_lite.runs._errors import DataError
from promptflow_lite.runs._examples import add_to_dataset, append_example, traced_example
from promptflow_lite.runs._lines import line_page
from promptflow_lite.testing._offline import KEY
from promptflow_lite.tracing import TraceNotFound, count_traces, list_traces, trace_filters, trace_view


def test_the_trace_list_filters_like_the_cli_and_pages(world_home):
    cli = json.loads(pfl(world_home, "trace", "list", "--max-results", "500", "-o", "json").stdout)
    listed = list_traces(limit=500)
    assert [t["trace_id"] for t in listed] == [t["trace_id"] for t in cli]
    assert count_traces() == len(cli) == 40 * 4 + 15
    starts = [t["start_time"] for t in listed]
    assert starts == sorted(starts, reverse=True)  # newest first
    assert count_traces(run=VARIANTS[1]) == 40 and count_traces(flow="exact_match") == 80
    failed = list_traces(status="Failed")
    assert sorted(t["line_number"] for t in failed) == list(FLAKY_FAILED) and count_traces(status="failed") == 3
    refunds = list_traces(run=VARIANTS[0], text="REFUND")
    assert refunds and all("refund" in json.dumps(t["inputs"]).lower() for t in refunds)
    assert {t["line_number"] for t in list_traces(run=FLAKY, text="cannot shout")} == set(FLAKY_FAILED)
    page_2 = list_traces(limit=10, offset=10)
    assert [t["trace_id"] for t in page_2] == [t["trace_id"] for t in listed[10:20]]
    newest = listed[0]["start_time"]
    assert count_traces(since=newest) >= 1 and count_traces(until=newest) == len(cli) - count_traces(since=newest)
    assert count_traces(since="1h") == len(cli) and count_traces(until=time.time() - 3600) == 0
    filters = trace_filters()
    assert set(filters["runs"]) == {*VARIANTS, FLAKY, f"{VARIANTS[0]}_exact_match", f"{VARIANTS[1]}_exact_match"}
    assert filters["runs"][0] == FLAKY  # most recently traced first
    assert set(filters["flows"]) == {"classification", "exact_match", "flaky_flow"}


def test_a_trace_has_its_span_tree_waterfall_chat_messages_and_tokens(world_home):
    row = line_page(VARIANTS[0], page_size=1).rows[0]
    view = trace_view(row["trace_id"][:12])  # a prefix will do
    assert view.trace_id == row["trace_id"] and view.status == "OK"
    assert [(s["depth"], s["name"], s["kind"]) for s in view.spans] == [
        (0, "classification", "flow"), (1, "clean_text", "node"), (1, "classify", "node"),
        (2, "chat gpt-4o-mini", "llm"), (1, "parse_category", "node"), (1, "triage_bug", "node"),
        (1, "summarize", "node")]
    for span in view.spans:
        assert 0 <= span["offset"] and span["offset"] + span["duration"] <= view.duration + 1e-6
    llm = view.llm_calls[0]["llm"]
    assert llm["model"] == "gpt-4o-mini" and llm["api"] == "chat"
    assert [m["role"] for m in llm["messages"]] == ["system", "user"]
    assert llm["messages"][1]["content"] == row["inputs"]["text"]
    assert llm["response"] == [{"role": "assistant", "content": "Bug."}]
    assert llm["parameters"]["max_tokens"] == 16 and llm["parameters"]["temperature"] == 0
    expected = {"prompt": row["prompt_tokens"], "completion": row["completion_tokens"], "total": row["total_tokens"]}
    assert llm["tokens"] == expected and view.tokens == expected
    assert view.spans[0]["tokens"] == expected  # cumulative on the root
    assert llm["latency"] > 0 and llm["finish_reasons"] == ["stop"]
    assert view.line_run["run"] == VARIANTS[0] and view.line_run["line_number"] == 0
    assert [e["run"] for e in view.evaluations] == [f"{VARIANTS[0]}_exact_match"]
    assert KEY not in json.dumps([view.spans, view.line_run], default=str)  # the offline key is never shown


def test_a_failed_trace_shows_its_error(world_home):
    failed = list_traces(run=FLAKY, status="Failed", limit=1)[0]
    view = trace_view(failed["trace_id"])
    assert view.status == "ERROR"
    node = next(span for span in view.spans if span["kind"] == "node")
    assert node["error"]["type"] == "ValueError" and "cannot shout bad" in node["error"]["message"]
    assert "shout.py" in node["error"]["stacktrace"]
    with pytest.raises(TraceNotFound):
        trace_view("0123456789abcdef")


def test_a_traced_line_becomes_a_dataset_line_that_runs(world_home, tmp_path):
    failed = line_page(FLAKY, status="Failed", page_size=1).rows[0]
    dataset = tmp_path / "regressions" / "cases.jsonl"
    example = add_to_dataset(dataset, failed["trace_id"], column="expected", expected="BAD3!")
    assert example.record == {"word": "bad3", "expected": "BAD3!"} and example.line == 1
    good = line_page(FLAKY, page_size=1).rows[0]
    second = add_to_dataset(dataset, good["trace_id"], column="expected")
    assert second.record == {"word": "word0", "expected": "WORD0!"} and second.line == 2 and not second.notes
    assert [json.loads(line) for line in dataset.read_text().splitlines()] == [example.record, second.record]
    flow, _ = make_flaky_flow(tmp_path)
    run = pfl(tmp_path / "home", "run", "create", "--flow", str(flow), "--data", str(dataset), "--name", "regression",
              "--allow-failures")
    assert "1 completed, 1 failed, 2 total" in run.stdout  # the failing line is now a failing test case
    assert traced_example(good["trace_id"])["outputs"] == {"shout": "WORD0!"}


def test_dataset_appends_are_checked(world_home, tmp_path):
    with pytest.raises(DataError, match=r"\.jsonl"):
        append_example(tmp_path / "cases.csv", {"q": 1}, "a")
    with pytest.raises(DataError, match="already an input"):
        append_example(tmp_path / "cases.jsonl", {"answer": 1}, "a", column="answer")
    odd = tmp_path / "odd.jsonl"
    odd.write_text('{"question": "x", "ground_truth": "y"}')  # no final newline
    example = append_example(odd, {"text": "z"}, "w")
    assert odd.read_text().splitlines()[1] == '{"text": "z", "ground_truth": "w"}'
    assert example.notes and "question" in example.notes[0]
    with pytest.raises(DataError, match="has no output 'nope'"):
        add_to_dataset(odd, list_traces(run=FLAKY, limit=1)[0]["trace_id"], output="nope")
