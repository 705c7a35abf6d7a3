"""A line's record: ``LineResult.to_json`` / ``from_json``, numbered by ``LINE_FORMAT``; newer formats are refused."""

from __future__ import annotations

import json

import pytest

from promptflow_lite.cli.main import main as pfl
from promptflow_lite.engine import LineResult, load_flow, run_sync
from promptflow_lite.engine._results import LINE_FORMAT, UnsupportedLineFormat

FLOW = {"flow.dag.yaml": """
    inputs: {x: {type: int}}
    outputs: {y: {reference: "${double.output.value}"}}
    nodes:
    - {name: double, type: python, source: {type: code, path: double.py}, inputs: {x: "${inputs.x}"}}
    """, "double.py": """
    from promptflow.core import tool

    @tool
    def double(x: int) -> dict:
        print(f"doubling {x}")
        if x < 0:
            raise ValueError("negative")
        return {"value": 2 * x, "tags": {"even"}}
    """}


def test_a_line_reads_back_from_its_record(make_flow):
    flow = load_flow(make_flow(FLOW))
    for x in (3, -1):
        result = run_sync(flow.arun({"x": x}, line_number=7))
        record = json.loads(result.to_json())
        assert record["format"] == LINE_FORMAT and record["line_number"] == 7
        again = LineResult.from_json(result.to_json())
        assert again.to_dict() == record and again.status == result.status
        assert again.node_runs["double"].logs == f"doubling {x}\n"
    assert again.error["innerError"]["innerError"]["code"] == "ValueError"


def test_a_value_json_cannot_hold_is_recorded_in_its_stand_in(make_flow):
    result = run_sync(load_flow(make_flow(FLOW)).arun({"x": 2}))
    assert result.outputs == {"y": 4} and not result.json_is_exact  # the node's output holds a set
    assert LineResult.from_json(result.to_json()).node_runs["double"].output == {"value": 4, "tags": ["even"]}


def test_records_of_a_newer_format_are_refused_with_a_clear_error(make_flow, pfl_home, capsys):
    newer = {"format": LINE_FORMAT + 1, "line_number": 0, "status": "Completed", "inputs": {}}
    with pytest.raises(UnsupportedLineFormat, match="upgrade promptflow_lite"):
        LineResult.from_json(newer)
    folder = make_flow(FLOW)
    data = folder / "data.jsonl"
    data.write_text('{"x": 1}\n{"x": -1}\n')
    assert pfl(["run", "create", "--flow", str(folder), "--data", str(data), "--name", "r"]) == 1
    meta = pfl_home / "runs" / "r" / "meta.json"
    meta.write_text(json.dumps({"batch_size": 100, "line_format": LINE_FORMAT + 1}))
    capsys.readouterr()
    assert pfl(["run", "resume", "r"]) == 1
    assert f"format {LINE_FORMAT + 1}" in capsys.readouterr().err
