"""A PFL_HOME written by release a497271 (``tests/fixtures/release_a497271``, see its README) opens with
this code: runs show, compare and resume; traces list and show and take new spans; the connection and the
LLM cache read back; each SQLite store adopts its schema as migration 1 and records it."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from promptflow_lite.cli.main import main as pfl
from promptflow_lite.connections import ConnectionStore
from promptflow_lite.engine import LineResult
from promptflow_lite.runs import Client
from promptflow_lite.tools import LLMCache
from promptflow_lite.tracing import get_trace, list_traces

FIXTURE = Path(__file__).parent / "fixtures" / "release_a497271"
MADE_AT = "/tmp/PFLFIXTURE"


@pytest.fixture
def old_home(tmp_path, monkeypatch) -> Path:
    """A copy of the fixture; its run index points at the copy, as after a user moved the folder."""
    root = tmp_path / "release"
    shutil.copytree(FIXTURE, root)
    index = sqlite3.connect(root / "home" / "runs.sqlite")
    for column in ("flow", "data", "output_path", "properties"):
        index.execute(f"UPDATE runs SET {column} = replace({column}, ?, ?)", (MADE_AT, str(root)))
    index.commit()
    index.close()
    monkeypatch.setenv("PFL_HOME", str(root / "home"))
    monkeypatch.chdir(root)
    return root


def migrations(path: Path) -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        return [tuple(row) for row in db.execute("SELECT number, applied_at IS NULL FROM migrations")]
    finally:
        db.close()


def test_runs_show_their_lines_metrics_and_records(old_home):
    client = Client()
    assert [run.name for run in client.runs.list()] == ["cls_v1_eval", "cls_v1"]
    details = client.get_details("cls_v1")
    assert len(details) == 6 and list(details["outputs.category"][:5]) == ["bug"] * 5
    assert client.get_metrics("cls_v1") == {"share_bug": 1.0}
    assert client.get_metrics("cls_v1_eval") == {"exact_match": 1.0}
    journal = (old_home / "home" / "runs" / "cls_v1" / "line_results.jsonl").read_text().splitlines()
    first = LineResult.from_json(next(line for line in journal if '"Completed"' in line))
    assert first.ok and first.outputs["category"] == "bug" and "classify" in first.node_runs
    assert first.usage["total_tokens"] > 0 and first.node_runs["classify"].model_calls == 1
    # its schema is migration 1, made before migrations were recorded; migration 2 is applied on opening
    assert migrations(old_home / "home" / "runs.sqlite") == [(1, 1), (2, 0)]


def test_a_run_resumes_in_place_adding_records_of_the_current_format(old_home, capsys, monkeypatch):
    from promptflow_lite.testing import _offline as offline

    folder = old_home / "home" / "runs" / "cls_v1"
    before = folder.joinpath("line_results.jsonl").read_text().splitlines()
    # offline, as `pfl --scripted-llm` runs: the stored connection names api.openai.com
    monkeypatch.setenv(offline.ENV, str(old_home / "flows" / "classification" / "scripted_llm.yaml"))
    monkeypatch.setattr(offline, "_server", None)
    try:
        code = pfl(["run", "resume", "cls_v1"])
    finally:
        if offline._server is not None:
            offline._server.stop()
    assert code == 1 and "1 of 6 lines failed" in capsys.readouterr().err  # line 5 still lacks its text
    records = [json.loads(line) for line in folder.joinpath("line_results.jsonl").read_text().splitlines()]
    assert len(records) == len(before) == 6 and records[-1]["format"] == 1 and records[-1]["line_number"] == 5
    assert json.loads(folder.joinpath("meta.json").read_text())["line_format"] == 1
    assert Client().get_metrics("cls_v1") == {"share_bug": 1.0}


def test_traces_list_show_and_take_new_spans(old_home, make_flow):
    lines = list_traces(run="cls_v1")
    assert len(lines) == 5 and {line["status"] for line in lines} == {"Completed"}  # line 5 failed before it ran
    (root,) = get_trace(lines[0]["trace_id"])["spans"]
    nodes = {child["name"]: child for child in root["children"]}
    assert {"clean_text", "classify", "parse_category", "summarize"} <= set(nodes)
    assert [span["span_type"] for span in nodes["classify"]["children"]] == ["LLM"]
    flow = make_flow({"flow.dag.yaml": """
        inputs: {x: {type: string}}
        outputs: {y: {reference: "${echo.output}"}}
        nodes:
        - {name: echo, type: python, source: {type: code, path: echo.py}, inputs: {x: "${inputs.x}"}}
        """, "echo.py": "from promptflow.core import tool\n\n@tool\ndef echo(x: str) -> str:\n    return x\n"})
    assert pfl(["flow", "test", "--flow", str(flow), "--inputs", "x=new"]) == 0
    assert [line["flow"] for line in list_traces(limit=10)][0] == "flow"
    assert migrations(old_home / "home" / "traces.sqlite") == [(1, 1), (2, 0), (3, 0)]


def test_the_connection_and_the_llm_cache_read_back(old_home):
    home = old_home / "home"
    assert ConnectionStore(home).get("open_ai_connection").secrets["api_key"] == "sk-fixture-secret-1234"
    stats = LLMCache(home / "cache" / "llm.sqlite").stats()
    assert stats["entries"] == 5 and stats["by_model"][0]["model"]
    assert migrations(home / "connections.sqlite") == [(1, 1)]
    assert migrations(home / "cache" / "llm.sqlite") == [(1, 0)]  # it had no version: applied now
