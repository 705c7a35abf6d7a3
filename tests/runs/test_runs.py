"""Batch runs through `pfl run ...` and the Client: statuses, exit codes, the run folder, management commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptflow_lite.cli.main import main as pfl
from promptflow_lite.engine._results import LINE_FORMAT
from promptflow_lite.runs._client import Client

HEADER = "from promptflow.core import tool, log_metric\n"
SQUARE_FLOW = {
    "square.py": HEADER + (
        "@tool\n"
        "def square(x: int, label: str) -> dict:\n"
        "    print(f'squaring {x}')\n"
        "    if x < 0:\n"
        "        raise ValueError(f'negative input {x}')\n"
        "    return {'value': x * x, 'label': label}\n"),
    "total.py": HEADER + (
        "@tool\n"
        "def total(values: list, labels: list) -> dict:\n"
        "    log_metric('sum', sum(values))\n"
        "    log_metric('count', len(values))\n"
        "    return {'labels': labels}\n"),
    "flow.dag.yaml": """
        inputs:
          x:
            type: int
          label:
            type: string
            default: none
        outputs:
          value:
            type: int
            reference: ${square.output.value}
          label:
            type: string
            reference: ${square.output.label}
        nodes:
        - name: square
          type: python
          source: {type: code, path: square.py}
          inputs: {x: "${inputs.x}", label: "${inputs.label}"}
        - name: total
          type: python
          source: {type: code, path: total.py}
          inputs: {values: "${square.output.value}", labels: "${inputs.label}"}
          aggregation: true
        """,
}


def data_file(tmp_path: Path, rows: list[dict], name: str = "data.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def show(name: str, capsys) -> dict:
    capsys.readouterr()
    assert pfl(["run", "show", name]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def square(make_flow):
    return make_flow(SQUARE_FLOW, name="square_flow")


def test_all_lines_succeed(square, tmp_path, capsys, pfl_home):
    data = data_file(tmp_path, [{"x": i} for i in range(5)])
    assert pfl(["run", "create", "--flow", str(square), "--data", str(data), "--name", "ok"]) == 0
    out = capsys.readouterr().out
    assert "Status:    Completed" in out and "5 completed, 0 failed, 5 total" in out and "sum=30" in out
    run = show("ok", capsys)
    assert (run["status"], run["completed_lines"], run["failed_lines"]) == ("Completed", 5, 0)
    assert run["output_path"] == str(pfl_home / "runs" / "ok")
    assert run["error"] is None


def test_some_lines_fail_exit_code_and_allow_failures(square, tmp_path, capsys):
    data = data_file(tmp_path, [{"x": 2}, {"x": -1}, {"x": 3}])
    assert pfl(["run", "create", "--flow", str(square), "--data", str(data), "--name", "mixed"]) == 1
    captured = capsys.readouterr()
    assert "Status:    CompletedWithErrors" in captured.out
    assert "1/3 lines failed: 1" in captured.err and "negative input -1" in captured.err
    run = show("mixed", capsys)
    assert (run["status"], run["completed_lines"], run["failed_lines"]) == ("CompletedWithErrors", 2, 1)
    assert pfl(["run", "create", "--flow", str(square), "--data", str(data), "--allow-failures"]) == 0
    capsys.readouterr()
    pfl(["run", "show-metrics", "mixed"])
    assert json.loads(capsys.readouterr().out) == {"sum": 13, "count": 2}  # over succeeded lines only


def test_every_line_failing_is_a_failed_run(square, tmp_path, capsys):
    data = data_file(tmp_path, [{"x": -1}, {"x": -2}])
    assert pfl(["run", "create", "--flow", str(square), "--data", str(data), "--name", "bad"]) == 1
    run = show("bad", capsys)
    assert (run["status"], run["total_lines"], run["failed_lines"]) == ("Failed", 2, 2)
    assert run["error"]["message"].startswith("Failed to run 2/2 lines. First error message is:")


def test_bad_mapping_fails_the_run_before_any_line(square, tmp_path, capsys):
    data = data_file(tmp_path, [{"x": 1}])
    code = pfl(["run", "create", "--flow", str(square), "--data", str(data), "--name", "nomap",
                "--column-mapping", "x=${data.y}"])
    err = capsys.readouterr().err
    assert code == 1
    assert "Couldn't find these mapping relations: input 'x' mapped ${data.y}" in err and f"data ({data}): x" in err  # names the file
    run = show("nomap", capsys)
    assert run["status"] == "Failed" and run["total_lines"] == 0
    assert (Path(run["output_path"]) / "error.json").is_file()


def test_run_folder_has_promptflows_layout(square, tmp_path, capsys):
    data = data_file(tmp_path, [{"x": 3, "label": "c"}, {"x": -1}, {"x": 1}])
    pfl(["run", "create", "--flow", str(square), "--data", str(data), "--name", "layout",
         "--column-mapping", "x=${data.x}", "label=${data.label}"])
    folder = Path(show("layout", capsys)["output_path"])
    outputs = [json.loads(line) for line in (folder / "flow_outputs" / "output.jsonl").read_text().splitlines()]
    assert outputs == [{"line_number": 0, "value": 9, "label": "c"}, {"line_number": 2, "value": 1, "label": "none"}]
    legacy = [json.loads(line) for line in (folder / "outputs.jsonl").read_text().splitlines()]
    assert [row["line_number"] for row in legacy] == [0, 2]
    inputs = [json.loads(line) for line in (folder / "inputs.jsonl").read_text().splitlines()]
    assert inputs == [{"x": 3, "label": "c", "line_number": 0}, {"x": -1, "label": "none", "line_number": 1},
                      {"x": 1, "label": "none", "line_number": 2}]
    record = artifact_records(folder / "flow_artifacts")[1]
    assert record["status"] == "Failed" and record["run_info"]["run_id"] == "layout_1"
    assert "negative input -1" in record["run_info"]["error"]["message"]
    node = artifact_records(folder / "node_artifacts" / "square")[2]
    assert node["NodeName"] == "square" and node["run_info"]["output"] == {"value": 1, "label": "none"}
    assert node["run_info"]["logs"]["stdout"] == "squaring 1\n"
    aggregation = json.loads((folder / "node_artifacts" / "total" / "000000000.jsonl").read_text())
    assert aggregation["line_number"] is None and aggregation["run_info"]["inputs"]["values"] == [9, 1]
    assert json.loads((folder / "metrics.json").read_text()) == {"sum": 10, "count": 2}
    assert json.loads((folder / "meta.json").read_text()) == {"batch_size": 100, "line_format": LINE_FORMAT}
    error = json.loads((folder / "error.json").read_text())
    assert error["additionalInfo"][0]["type"] == "BulkRunErrors"
    assert [e["line_number"] for e in error["additionalInfo"][0]["info"]["errors"]] == [1]
    log = (folder / "logs.txt").read_text()
    assert "[square in line 0] stdout> squaring 3" in log and "Line 1 failed" in log
    assert (folder / "snapshot" / "square.py").is_file() and (folder / "snapshot" / "flow.dag.yaml").is_file()


VARIANT_FLOW = {
    "shout.py": HEADER + "@tool\ndef shout(text: str, marks: int) -> str:\n    return text.upper() + '!' * marks\n",
    "flow.dag.yaml": """
        inputs:
          text:
            type: string
        outputs:
          out:
            type: string
            reference: ${shout.output}
        nodes:
        - name: shout
          use_variants: true
        node_variants:
          shout:
            default_variant_id: variant_0
            variants:
              variant_0:
                node:
                  type: python
                  source: {type: code, path: shout.py}
                  inputs: {text: "${inputs.text}", marks: 1}
              variant_1:
                node:
                  type: python
                  source: {type: code, path: shout.py}
                  inputs: {text: "${inputs.text}", marks: 3}
        """,
}


def test_variant_run_default_name_and_resolved_snapshot(make_flow, tmp_path, capsys):
    import yaml

    flow = make_flow(VARIANT_FLOW, name="shouter")
    data = data_file(tmp_path, [{"text": "hi"}])
    assert pfl(["run", "create", "--flow", str(flow), "--data", str(data), "--variant", "${shout.variant_1}"]) == 0
    capsys.readouterr()
    pfl(["run", "list", "-o", "json"])
    (run,) = json.loads(capsys.readouterr().out)
    assert run["name"].startswith("shouter_variant_1_") and run["variant"] == "${shout.variant_1}"
    folder = Path(run["output_path"])
    assert json.loads((folder / "flow_outputs" / "output.jsonl").read_text()) == {"line_number": 0, "out": "HI!!!"}
    snapshot = yaml.safe_load((folder / "snapshot" / "flow.dag.yaml").read_text())
    assert "node_variants" not in snapshot or not snapshot["node_variants"]
    assert snapshot["nodes"][0]["inputs"]["marks"] == 3
    assert run["properties"]["variant"] == "${shout.variant_1}"


def test_duplicate_name_is_a_clear_error(square, tmp_path, capsys):
    data = data_file(tmp_path, [{"x": 1}])
    assert pfl(["run", "create", "--flow", str(square), "--data", str(data), "--name", "same"]) == 0
    assert pfl(["run", "create", "--flow", str(square), "--data", str(data), "--name", "same"]) == 1
    assert "'same' already exists" in capsys.readouterr().err


def test_run_yml_paths_are_relative_to_the_file_and_flags_override(square, tmp_path, capsys):
    (tmp_path / "cfg").mkdir()
    data_file(tmp_path / "cfg", [{"v": 4}], "rows.jsonl")
    data_file(tmp_path, [{"v": 5}], "other.jsonl")
    (tmp_path / "cfg" / "run.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/promptflow/latest/Run.schema.json\n"
        f"flow: ../{square.name}\ndata: rows.jsonl\nname: from_yml\ndisplay_name: sq_${{variant_id}}\n"
        "column_mapping:\n  x: ${data.v}\ntags:\n  team: eval\nsurprise: 1\n")
    assert pfl(["run", "create", "-f", str(tmp_path / "cfg" / "run.yml")]) == 0
    captured = capsys.readouterr()
    assert "unknown key 'surprise' ignored" in captured.err
    run = show("from_yml", capsys)
    assert run["display_name"] == "sq_variant_0" and run["tags"] == {"team": "eval"}
    assert run["data"] == str((tmp_path / "cfg" / "rows.jsonl").resolve())
    assert pfl(["run", "create", "-f", str(tmp_path / "cfg" / "run.yml"), "--name", "overridden",
                "--data", str(tmp_path / "other.jsonl")]) == 0
    capsys.readouterr()
    pfl(["run", "show-metrics", "overridden"])
    assert json.loads(capsys.readouterr().out)["sum"] == 25


def test_list_filters_archive_restore_delete(square, make_flow, tmp_path, capsys):
    other = make_flow(VARIANT_FLOW, name="shouter")
    pfl(["run", "create", "--flow", str(square), "--data", str(data_file(tmp_path, [{"x": 1}])), "--name", "a"])
    pfl(["run", "create", "--flow", str(square), "--data", str(data_file(tmp_path, [{"x": -1}], "b.jsonl")),
         "--name", "b"])
    pfl(["run", "create", "--flow", str(other), "--data", str(data_file(tmp_path, [{"text": "x"}], "c.jsonl")),
         "--name", "c"])

    def names(*args):
        capsys.readouterr()
        assert pfl(["run", "list", "-o", "json", *args]) == 0
        return [r["name"] for r in json.loads(capsys.readouterr().out)]

    assert names() == ["c", "b", "a"]
    assert names("--flow", "square_flow") == ["b", "a"]
    assert names("--status", "failed") == ["b"]
    assert names("--max-results", "1") == ["c"]
    assert pfl(["run", "archive", "b"]) == 0
    assert names() == ["c", "a"] and names("--archived") == ["b"] and names("--include-archived") == ["c", "b", "a"]
    pfl(["run", "restore", "b"])
    assert names() == ["c", "b", "a"]
    capsys.readouterr()
    pfl(["run", "list"])
    table = capsys.readouterr().out
    assert table.splitlines()[0].split() == ["name", "status", "flow", "lines", "failed", "duration", "created",
                                            "archived"]
    folder = Path(show("a", capsys)["output_path"])
    assert pfl(["run", "delete", "a", "-y"]) == 0
    assert not folder.exists() and names() == ["c", "b"]
    assert pfl(["run", "show", "a"]) == 1
    assert "Run 'a' does not exist" in capsys.readouterr().err


def test_show_details_formats_and_failed_only(square, tmp_path, capsys):
    data = data_file(tmp_path, [{"x": 2}, {"x": -4}])
    pfl(["run", "create", "--flow", str(square), "--data", str(data), "--name", "d"])
    capsys.readouterr()
    pfl(["run", "show-details", "d", "-o", "json"])
    rows = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in rows] == ["Completed", "Failed"]
    assert rows[0]["inputs.x"] == 2 and rows[0]["outputs.value"] == 4 and rows[0]["cached"] is False
    assert rows[1]["outputs.value"] is None and "negative input -4" in rows[1]["error"]
    assert rows[1]["error_code"] == "ToolExecutionError"
    pfl(["run", "show-details", "d", "--failed-only", "-o", "csv"])
    csv_lines = capsys.readouterr().out.splitlines()
    assert csv_lines[0].startswith("line_number,inputs.x,inputs.label,outputs.value,outputs.label,status,error")
    assert len(csv_lines) == 2 and csv_lines[1].startswith("1,-4,none,,,Failed,")
    pfl(["run", "show-details", "d"])
    table = capsys.readouterr().out
    assert "Completed" in table and "Failed" in table


def test_show_metrics_refuses_a_failed_run(square, tmp_path, capsys):
    pfl(["run", "create", "--flow", str(square), "--data", str(data_file(tmp_path, [{"x": -1}])), "--name", "f"])
    capsys.readouterr()
    assert pfl(["run", "show-metrics", "f"]) == 1
    assert "Run 'f' is Failed, so it has no metrics" in capsys.readouterr().err


def test_line_timeout_fails_only_the_slow_line(make_flow, tmp_path, capsys):
    flow = make_flow({
        "nap.py": HEADER + "import asyncio\n@tool\nasync def nap(seconds: float) -> float:\n"
                           "    await asyncio.sleep(seconds)\n    return seconds\n",
        "flow.dag.yaml": """
            inputs:
              seconds:
                type: double
            outputs:
              slept:
                type: double
                reference: ${nap.output}
            nodes:
            - name: nap
              type: python
              source: {type: code, path: nap.py}
              inputs: {seconds: "${inputs.seconds}"}
            """})
    data = data_file(tmp_path, [{"seconds": 0}, {"seconds": 30}])
    assert pfl(["run", "create", "--flow", str(flow), "--data", str(data), "--name", "t", "--line-timeout", "0.5"]) == 1
    capsys.readouterr()
    pfl(["run", "show-details", "t", "-o", "json"])
    rows = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in rows] == ["Completed", "Failed"]
    assert rows[1]["error_code"] == "LineTimeoutError" and "timeout after 0.5 seconds" in rows[1]["error"]


def test_lines_run_concurrently_up_to_the_limit(make_flow, tmp_path, capsys):
    # Each line waits at a barrier for 4 lines: the run only finishes if 4 lines are in flight at once.
    flow = make_flow({
        "gate.py": "import threading\nBARRIER = threading.Barrier(4, timeout=20)\n",
        "meet.py": HEADER + "from gate import BARRIER\n@tool\ndef meet(i: int) -> int:\n    BARRIER.wait()\n"
                            "    return i\n",
        "flow.dag.yaml": """
            inputs:
              i:
                type: int
            outputs:
              i:
                type: int
                reference: ${meet.output}
            nodes:
            - name: meet
              type: python
              source: {type: code, path: meet.py}
              inputs: {i: "${inputs.i}"}
            """})
    data = data_file(tmp_path, [{"i": i} for i in range(8)])
    assert pfl(["run", "create", "--flow", str(flow), "--data", str(data), "--max-concurrency", "4"]) == 0


def test_unserialisable_node_outputs_are_stored_as_repr(make_flow, tmp_path, capsys):
    flow = make_flow({
        "make.py": HEADER + "class Thing:\n    def __repr__(self):\n        return '<Thing 7>'\n"
                            "@tool\ndef make(n: int):\n    return Thing()\n",
        "use.py": HEADER + "@tool\ndef use(thing) -> str:\n    return repr(thing)\n",
        "flow.dag.yaml": """
            inputs:
              n:
                type: int
            outputs:
              text:
                type: string
                reference: ${use.output}
            nodes:
            - name: make
              type: python
              source: {type: code, path: make.py}
              inputs: {n: "${inputs.n}"}
            - name: use
              type: python
              source: {type: code, path: use.py}
              inputs: {thing: "${make.output}"}
            """})
    assert pfl(["run", "create", "--flow", str(flow), "--data", str(data_file(tmp_path, [{"n": 1}])),
                "--name", "obj"]) == 0
    folder = Path(show("obj", capsys)["output_path"])
    record = artifact_records(folder / "node_artifacts" / "make")[0]
    assert record["run_info"]["output"] == "<Thing 7>"


def artifact_records(folder: Path) -> dict:
    """Every record in a promptflow artifacts folder, by line number (as promptflow's readers load them)."""
    records = {}
    for file in sorted(folder.glob("*.jsonl")):
        for line in file.read_text().splitlines():
            record = json.loads(line)
            records[record["line_number"] if record["line_number"] is not None else 0] = record
    return records


def test_visualize_writes_escaped_self_contained_html(square, tmp_path, capsys):
    data = data_file(tmp_path, [{"x": 2, "label": "<script>alert(1)</script>"}, {"x": -3}])
    pfl(["run", "create", "--flow", str(square), "--data", str(data), "--name", "v1",
         "--column-mapping", "x=${data.x}", "label=${data.label}"])
    pfl(["run", "create", "--flow", str(square), "--data", str(data_file(tmp_path, [{"x": 5}], "d2.jsonl")),
         "--name", "v2"])
    capsys.readouterr()
    report = tmp_path / "out" / "report.html"
    assert pfl(["run", "visualize", "v1", "v2", "--html-path", str(report)]) == 0
    html = report.read_text()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Run v1" in html and "Run v2" in html
    assert "<th>sum</th>" not in html and "<td>sum</td>" in html  # one metrics row, a column per run
    assert "negative input -3" in html and "Failed lines (1)" in html
    assert "http://" not in html.replace("http://www.w3.org", "") and "<link" not in html


def test_client_api_mirrors_the_cli(square, tmp_path):
    data = data_file(tmp_path, [{"x": 3}, {"x": -1}, {"x": 4}])
    client = Client()
    run = client.run(flow=square, data=data, name="api", tags={"k": "v"})
    assert run.status == "CompletedWithErrors" and run.metrics == {"sum": 25, "count": 2}
    assert client.get_metrics(run) == {"sum": 25, "count": 2}
    details = client.get_details(run)
    assert list(details["status"]) == ["Completed", "Failed", "Completed"]
    assert list(details["outputs.value"])[::2] == [9, 16]
    assert len(client.get_details("api", failed_only=True)) == 1
    assert [r.name for r in client.runs.list()] == ["api"]
    assert client.runs.get("api").tags == {"k": "v"}
    client.runs.archive(run)
    assert client.runs.list() == [] and client.runs.get("api").archived
    page = client.visualize(run, tmp_path / "api.html")
    assert "api" in page.read_text()


def test_promptflow_client_import_is_ours(square, tmp_path):
    from promptflow.client import PFClient, load_run

    (tmp_path / "run.yml").write_text(f"flow: {square}\ndata: data.jsonl\nname: pf_style\n")
    data_file(tmp_path, [{"x": 6}])
    pf = PFClient()
    run = pf.runs.create_or_update(load_run(tmp_path / "run.yml"))
    assert run.status == "Completed" and pf.get_metrics(run) == {"sum": 36, "count": 1}
    assert isinstance(pf, Client)


FLEX_FLOW = {
    "flow.flex.yaml": "entry: app:Scorer\n",
    "app.py": (
        "class Scorer:\n"
        "    def __init__(self, prefix: str = ''):\n"
        "        self.prefix = prefix\n"
        "    def __call__(self, x: int) -> dict:\n"
        "        if x < 0:\n"
        "            raise ValueError('negative')\n"
        "        return {'label': self.prefix + str(x), 'score': x}\n"
        "    def __aggregate__(self, results):\n"
        "        return {'total': sum(r.score for r in results), 'lines': len(results)}\n"),
}


def test_flex_flow_batch_with_init_and_aggregate(make_flow, tmp_path, capsys):
    flow = make_flow(FLEX_FLOW, name="scorer")
    data = data_file(tmp_path, [{"x": 1}, {"x": -1}, {"x": 5}])
    assert pfl(["run", "create", "--flow", str(flow), "--data", str(data), "--init", "prefix=n",
                "--allow-failures"]) == 0
    capsys.readouterr()
    pfl(["run", "list", "-o", "json"])
    (run,) = json.loads(capsys.readouterr().out)
    assert run["name"].startswith("scorer_2") and run["status"] == "CompletedWithErrors"
    assert json.loads((Path(run["output_path"]) / "metrics.json").read_text()) == {"total": 6, "lines": 2}
    outputs = (Path(run["output_path"]) / "flow_outputs" / "output.jsonl").read_text().splitlines()
    assert [json.loads(o) for o in outputs] == [{"line_number": 0, "label": "n1", "score": 1},
                                                {"line_number": 2, "label": "n5", "score": 5}]
    # a new run from it reuses the two completed lines: __aggregate__ still sees their outputs
    assert pfl(["run", "create", "--resume-from", run["name"], "--name", "again", "--allow-failures"]) == 0
    capsys.readouterr()
    pfl(["run", "show-metrics", "again"])
    assert json.loads(capsys.readouterr().out) == {"total": 6, "lines": 2}


def test_stream_echoes_the_log_live(square, tmp_path, capsys):
    data = data_file(tmp_path, [{"x": 7}])
    assert pfl(["run", "create", "--flow", str(square), "--data", str(data), "--stream"]) == 0
    err = capsys.readouterr().err
    assert "[square in line 0] stdout> squaring 7" in err and "executing 1 of 1 lines" in err


def test_progress_bar_counts_done_and_failed_lines(capsys):
    from promptflow_lite.runs._progress import Progress

    progress = Progress(3, name="demo", enabled=True)
    for ok in (True, False, True):
        progress.update(ok)
    progress.close()
    err = capsys.readouterr().err
    assert "demo" in err and "3/3" in err and "failed=1" in err and "line/s" in err


def test_a_failing_aggregation_node_is_reported_and_not_completed(make_flow, tmp_path, capsys):
    files = dict(SQUARE_FLOW)
    files["total.py"] = HEADER + "@tool\ndef total(values: list, labels: list) -> dict:\n    raise KeyError('oops')\n"
    flow = make_flow(files, name="agg_fails")
    assert pfl(["run", "create", "--flow", str(flow), "--data", str(data_file(tmp_path, [{"x": 1}])),
                "--name", "agg"]) == 1
    run = show("agg", capsys)
    assert run["status"] == "CompletedWithErrors" and (run["completed_lines"], run["failed_lines"]) == (1, 0)
    (entry,) = run["error"]["additionalInfo"][0]["info"]["errors"]
    assert entry["aggregation_node_name"] == "total" and "oops" in entry["error"]["message"]


def test_bad_settings_are_rejected_before_a_run_is_made(square, tmp_path, capsys):
    data = str(data_file(tmp_path, [{"x": 1}]))
    assert pfl(["run", "create", "--flow", str(square), "--data", data, "--max-concurrency", "0"]) == 1
    assert "at least 1" in capsys.readouterr().err
    assert pfl(["run", "create", "--flow", str(square), "--data", data, "--line-timeout", "-1"]) == 1
    assert "must be positive" in capsys.readouterr().err
    assert pfl(["run", "create", "--flow", str(square)]) == 1
    assert "Either data or a base run must be given" in capsys.readouterr().err
    assert pfl(["run", "create", "--flow", str(tmp_path / "nowhere"), "--data", data]) == 1
    assert "No such file or folder" in capsys.readouterr().err
    assert pfl(["run", "create", "--flow", str(square), "--data", data, "--name", "a/b"]) == 1
    assert "Invalid run name 'a/b'" in capsys.readouterr().err
    pfl(["run", "list", "-o", "json"])
    assert json.loads(capsys.readouterr().out) == []


def test_a_run_that_cannot_start_for_missing_data_or_base_run_is_not_recorded(square, tmp_path, capsys, pfl_home):
    data = str(data_file(tmp_path, [{"x": 1}]))
    assert pfl(["run", "create", "--flow", str(square), "--data", str(tmp_path / "missing.jsonl")]) == 1
    assert "missing.jsonl: The data path does not exist" in capsys.readouterr().err
    assert pfl(["run", "create", "--flow", str(square), "--data", data, "--run", "no_such_base"]) == 1
    assert "Run 'no_such_base' does not exist" in capsys.readouterr().err
    assert pfl(["run", "create", "--flow", str(square), "--data", data, "--name", "base",
                "--column-mapping", "x=${data.missing_column}"]) == 1  # recorded, but Failed: not a base run
    assert pfl(["run", "create", "--flow", str(square), "--data", data, "--run", "base"]) == 1
    assert "Base run 'base' is Failed" in capsys.readouterr().err
    with pytest.raises(Exception, match="The data path does not exist"):
        Client().run(flow=square, data=tmp_path / "missing.jsonl", name="api")
    assert [r.name for r in Client().runs.list()] == ["base"]
    assert [p.name for p in (pfl_home / "runs").iterdir()] == ["base"]


def test_delete_asks_first(square, tmp_path, capsys, monkeypatch):
    pfl(["run", "create", "--flow", str(square), "--data", str(data_file(tmp_path, [{"x": 1}])), "--name", "keep"])
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert pfl(["run", "delete", "keep"]) == 1
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    assert pfl(["run", "delete", "keep"]) == 0
    assert Client().runs.list() == []


def test_output_cut_short_by_the_reader_ends_quietly(square, tmp_path, pfl_home):
    """`pfl run show-details R | head`: no BrokenPipeError traceback."""
    import os
    import subprocess
    import sys

    data = data_file(tmp_path, [{"x": i, "label": "y" * 2000} for i in range(100)])  # far more than a pipe holds
    assert pfl(["run", "create", "--flow", str(square), "--data", str(data), "--name", "wide",
                "--column-mapping", "x=${data.x}", "label=${data.label}"]) == 0
    process = subprocess.Popen([sys.executable, "-m", "promptflow_lite.cli.main", "run", "show-details", "wide",
                                "-o", "json"], env={**os.environ, "PFL_HOME": str(pfl_home)},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout.read(10) == b'[\n  {\n    '
    process.stdout.close()
    assert process.wait(timeout=60) == 141
    assert process.stderr.read() == b""


def test_progress_bar_shows_on_a_terminal_that_reports_zero_columns(monkeypatch):
    import fcntl
    import os
    import pty
    import select
    import struct
    import termios

    from promptflow_lite.runs._progress import Progress

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 0, 0, 0, 0))  # rows=0, columns=0
    terminal = os.fdopen(slave, "w", buffering=1)
    monkeypatch.setattr("sys.stderr", terminal)
    monkeypatch.delenv("COLUMNS", raising=False)
    progress = Progress(4, name="demo")  # enabled: stderr is a tty
    for ok in (True, True, False, True):
        progress.update(ok)
    progress.close()
    terminal.flush()
    chunks = []
    while select.select([master], [], [], 1.0)[0]:
        chunks.append(os.read(master, 65536))
    shown = b"".join(chunks).decode("utf-8", "replace")
    terminal.close()
    os.close(master)
    assert "100%|" in shown and "4/4" in shown and "failed=1" in shown  # the bar, not only the counters
