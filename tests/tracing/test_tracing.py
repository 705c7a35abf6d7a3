"""Tracing python flows: the span tree of a line, @trace in user code, errors, secrets, the store and `pfl trace`."""

from __future__ import annotations

import json

import pytest

from promptflow_lite.cli.main import main as pfl
from promptflow_lite.connections._types import CustomConnection
from promptflow_lite.engine import _hooks as engine_hooks
from promptflow_lite.engine import load_flow
from promptflow_lite.tracing import (
    delete_traces,
    disable_tracing,
    enable_tracing,
    get_trace,
    get_traces,
    list_traces,
    start_trace,
)

HEADER = "from promptflow.core import tool\n"
CHAIN = {
    "clean.py": HEADER + "@tool\ndef clean(text: str) -> str:\n    return text.strip().lower()\n",
    "count.py": HEADER + "@tool\ndef count(text: str) -> int:\n    return len(text.split())\n",
    "shout.py": HEADER + "@tool\ndef shout(text: str) -> str:\n    return text.upper() + '!'\n",
    "report.py": HEADER + "@tool\ndef report(words: int, loud: str) -> dict:\n    return {'words': words, 'loud': loud}\n",
    "flow.dag.yaml": """
        inputs:
          text: {type: string}
        outputs:
          summary: {type: object, reference: "${report.output}"}
        nodes:
        - {name: clean, type: python, source: {type: code, path: clean.py}, inputs: {text: "${inputs.text}"}}
        - {name: count, type: python, source: {type: code, path: count.py}, inputs: {text: "${clean.output}"}}
        - {name: shout, type: python, source: {type: code, path: shout.py}, inputs: {text: "${clean.output}"}}
        - {name: report, type: python, source: {type: code, path: report.py},
           inputs: {words: "${count.output}", loud: "${shout.output}"}}
        """,
}


@pytest.fixture
def tracing():
    assert enable_tracing()
    yield
    disable_tracing()


def names(span) -> list[str]:
    return [child["name"] for child in span["children"]]


def find(spans, name):
    for span in spans:
        if span["name"] == name:
            return span
        found = find(span["children"], name)
        if found:
            return found
    return None


def test_a_line_is_a_root_span_with_one_child_per_node(make_flow, tracing):
    flow = load_flow(make_flow(CHAIN, name="words"))
    result = flow.run({"text": "  Hello Big World "}, line_number=3, attributes={"batch_run_id": "r1", "line_number": 3})
    assert result.ok and result.trace_id

    trace = get_trace(result.trace_id)
    [root] = trace["spans"]
    assert (root["name"], root["span_type"], root["status"]) == ("words", "Flow", "OK")
    assert root["inputs"] == {"text": "  Hello Big World "}
    assert root["output"] == {"summary": {"words": 3, "loud": "HELLO BIG WORLD!"}}
    assert root["attributes"]["batch_run_id"] == "r1" and root["attributes"]["line_number"] == 3
    assert root["attributes"]["framework"] == "promptflow"
    assert sorted(names(root)) == ["clean", "count", "report", "shout"]
    report = find(trace["spans"], "report")
    assert report["attributes"]["node_name"] == "report" and report["span_type"] == "Function"
    assert report["inputs"] == {"words": 3, "loud": "HELLO BIG WORLD!"}
    assert report["parent_id"] == root["span_id"] and report["trace_id"] == result.trace_id
    assert root["start_time"] <= report["start_time"] <= report["end_time"] <= root["end_time"]

    line = trace["line_run"]
    assert (line["flow"], line["run"], line["line_number"], line["status"]) == ("words", "r1", 3, "Completed")
    assert line["outputs"] == {"summary": {"words": 3, "loud": "HELLO BIG WORLD!"}}



class Owner:
    def __repr__(self) -> str:
        return "Owner(ada)"


def test_a_lines_attributes_of_any_type_show_as_json_text(make_flow, tracing):
    """Plain attributes travel to the writer in marshal form, others as JSON: the span shows both kinds alike."""
    flow = load_flow(make_flow(CHAIN, name="words"))
    plain = flow.run({"text": "a b"}, line_number=0, attributes={"batch_run_id": "r1", "line_number": 0,
                                                                   "score": 0.5, "reviewed": True})
    mixed = flow.run({"text": "a b"}, line_number=1, attributes={"batch_run_id": "r1", "line_number": 1,
                                                                   "tags": ("x", "y"), "meta": {"by": Owner()}})
    [first] = get_trace(plain.trace_id)["spans"]
    [second] = get_trace(mixed.trace_id)["spans"]
    assert {k: first["attributes"][k] for k in ("batch_run_id", "line_number", "score", "reviewed")} == \
        {"batch_run_id": "r1", "line_number": 0, "score": 0.5, "reviewed": True}
    assert second["attributes"]["tags"] == '["x", "y"]'
    assert json.loads(second["attributes"]["meta"]) == {"by": "Owner(ada)"}
    assert sorted(names(first)) == sorted(names(second)) == ["clean", "count", "report", "shout"]
    assert [line["line_number"] for line in list_traces(run="r1")] == [1, 0]

TRACED_TOOL = {
    "helpers.py": """
        import asyncio
        from promptflow.tracing import trace

        @trace
        def square(x: int) -> int:
            return x * x

        @trace
        def sum_of_squares(values: list) -> int:
            return sum(square(v) for v in values)

        @trace
        async def slow_double(x: int) -> int:
            await asyncio.sleep(0)
            return 2 * x

        @trace
        def countdown(n: int):
            for i in range(n, 0, -1):
                yield i

        @trace
        async def ticks(n: int):
            for i in range(n):
                yield f"tick{i}"
        """,
    "work.py": """
        from promptflow.core import tool
        from helpers import countdown, slow_double, sum_of_squares, ticks

        @tool
        async def work(n: int) -> dict:
            return {"squares": sum_of_squares(list(range(n))), "double": await slow_double(n),
                    "countdown": list(countdown(n)), "ticks": [t async for t in ticks(2)]}
        """,
    "flow.dag.yaml": """
        inputs:
          n: {type: int}
        outputs:
          result: {reference: "${work.output}"}
        nodes:
        - {name: work, type: python, source: {type: code, path: work.py}, inputs: {n: "${inputs.n}"}}
        """,
}


def test_trace_decorated_user_functions_nest_under_their_node(make_flow, tracing):
    result = load_flow(make_flow(TRACED_TOOL, name="traced")).run({"n": 3})
    assert result.ok, result.error

    trace = get_trace(result.trace_id)
    work = find(trace["spans"], "work")
    assert names(work) == ["sum_of_squares", "slow_double", "countdown", "ticks"]
    total = find(trace["spans"], "sum_of_squares")
    assert total["inputs"] == {"values": [0, 1, 2]} and total["output"] == 5
    assert [c["inputs"] for c in total["children"]] == [{"x": 0}, {"x": 1}, {"x": 2}]
    assert all(c["name"] == "square" and c["parent_id"] == total["span_id"] for c in total["children"])
    assert find(trace["spans"], "slow_double")["output"] == 6
    countdown = find(trace["spans"], "countdown")
    assert countdown["output"] == [3, 2, 1] and countdown["attributes"]["output_type"] == "iterated"
    assert find(trace["spans"], "ticks")["output"] == ["tick0", "tick1"]
    assert all(s["attributes"]["span_type"] == "Function" for s in work["children"])


def test_spans_nest_under_their_node_whatever_the_lines_attributes(make_flow, tracing):
    flow = load_flow(make_flow(TRACED_TOOL, name="traced"))
    for attributes in ({"batch_run_id": "r2"}, {"batch_run_id": "r2", "tags": ("a", "b")}):
        result = flow.run({"n": 2}, attributes=attributes)
        work = find(get_trace(result.trace_id)["spans"], "work")
        assert names(work) == ["sum_of_squares", "slow_double", "countdown", "ticks"], attributes


def test_start_trace_traces_a_script_outside_the_executor(make_flow, capsys):
    from promptflow.tracing import trace  # the compatibility alias, as a promptflow script writes it

    flow = load_flow(make_flow(CHAIN, name="words"))

    @trace
    def describe(text: str) -> dict:
        return flow(text=text)

    @trace
    def main(texts: list) -> list:
        return [describe(t) for t in texts]

    try:
        assert start_trace(collection="my-scripts")
        assert "pfl trace list" in capsys.readouterr().err
        main(["a b", "c"])
        [line] = list_traces()
        assert line["flow"].endswith("<locals>.main")  # spans are named by __qualname__, as in promptflow
        assert (line["collection"], line["status"]) == ("my-scripts", "Completed")
        [root] = get_trace(line["trace_id"])["spans"]
        assert [name.rsplit(".", 1)[-1] for name in names(root)] == ["describe", "describe"]
        assert names(root["children"][0]) == ["words"]
        assert sorted(names(root["children"][0]["children"][0])) == ["clean", "count", "report", "shout"]
    finally:
        disable_tracing()


FAILING = {
    "fail.py": HEADER + "@tool\ndef fail(text: str) -> str:\n    raise ValueError(f'cannot handle {text}')\n",
    "flow.dag.yaml": """
        inputs:
          text: {type: string}
        outputs:
          out: {reference: "${fail.output}"}
        nodes:
        - {name: fail, type: python, source: {type: code, path: fail.py}, inputs: {text: "${inputs.text}"}}
        """,
}


def test_a_failing_node_sets_error_status_and_an_exception_event(make_flow, tracing, capsys):
    result = load_flow(make_flow(FAILING, name="failing")).run({"text": "this"})
    assert not result.ok

    trace = get_trace(result.trace_id)
    [root] = trace["spans"]
    node = find(trace["spans"], "fail")
    assert node["status"] == "ERROR" and node["status_message"].startswith("ValueError: ")
    assert "cannot handle this" in node["status_message"]
    [event] = node["events"]
    assert event["name"] == "exception" and event["attributes"]["exception.type"] == "ValueError"
    assert "fail.py" in event["attributes"]["exception.stacktrace"]
    assert root["status"] == "ERROR" and trace["line_run"]["status"] == "Failed"
    assert node["attributes"]["node_run.status"] == "Failed"

    assert pfl(["trace", "list", "--status", "failed", "-o", "json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["trace_id"] == result.trace_id and "cannot handle this" in listed["error"]


SECRETIVE = {
    "peek.py": """
        from promptflow.core import tool
        from promptflow.connections import CustomConnection

        @tool
        def peek(conn: CustomConnection, question: str) -> dict:
            print("using key", conn.api_key)
            return {"headers": {"Authorization": "Bearer " + conn.api_key, "api-key": conn.api_key}, "q": question}
        """,
    "leak.py": """
        from promptflow.core import tool
        from promptflow.connections import CustomConnection

        @tool
        def leak(conn: CustomConnection, seen: dict) -> str:
            raise RuntimeError("the key " + conn.api_key + " was rejected")
        """,
    "flow.dag.yaml": """
        inputs:
          question: {type: string}
        outputs:
          out: {reference: "${leak.output}"}
        nodes:
        - {name: peek, type: python, source: {type: code, path: peek.py},
           inputs: {conn: my_conn, question: "${inputs.question}"}}
        - {name: leak, type: python, source: {type: code, path: leak.py}, inputs: {conn: my_conn, seen: "${peek.output}"}}
        """,
}


def test_connection_secrets_never_reach_the_trace_store(make_flow, tracing, pfl_home):
    secret = "sk-secret-123"
    connection = CustomConnection(secrets={"api_key": secret}, configs={"region": "eu"}, name="my_conn")
    flow = load_flow(make_flow(SECRETIVE, name="secretive"), connections={"my_conn": connection})
    result = flow.run({"question": "what is my key?"})
    assert not result.ok and secret in json.dumps(result.node_runs["peek"].output)  # the flow really saw it

    trace = get_trace(result.trace_id)
    peek = find(trace["spans"], "peek")
    assert peek["inputs"]["conn"] == "<CustomConnection name=my_conn>"
    assert peek["output"]["headers"] == {"Authorization": "***", "api-key": "***"}
    assert "***" in peek["attributes"]["logs"]
    assert "***" in find(trace["spans"], "leak")["status_message"]
    files = list(pfl_home.glob("traces.sqlite*"))
    assert files and not any(secret.encode() in file.read_bytes() for file in files)


def test_a_key_naming_a_credential_is_blanked_wherever_it_sits_and_a_word_is_not(make_flow, tracing):
    tool = HEADER + ("@tool\ndef settings(text: str) -> dict:\n"
                     "    return {'note': text, 'client': {'password': 'hunter2-x', 'quoted': '\"key\": 1'}, "
                     "'drink': 'whiskey', 'items': [{'token': 'tok-42'}]}\n")
    flow = load_flow(make_flow({"settings.py": tool, "flow.dag.yaml": """
        inputs:
          text: {type: string}
        outputs:
          out: {type: object, reference: "${settings.output}"}
        nodes:
        - {name: settings, type: python, source: {type: code, path: settings.py}, inputs: {text: "${inputs.text}"}}
        """}, name="keys"))
    result = flow.run({"text": "a whiskey with key lime"})
    output = find(get_trace(result.trace_id)["spans"], "settings")["output"]
    assert output == {"note": "a whiskey with key lime", "client": {"password": "***", "quoted": '"key": 1'},
                      "drink": "whiskey", "items": [{"token": "***"}]}


def test_large_values_are_cut_with_a_visible_marker(make_flow, tracing):
    folder = make_flow({
        "big.py": HEADER + "@tool\ndef big(n: int) -> str:\n    return 'x' * n\n",
        "flow.dag.yaml": "inputs:\n  n: {type: int}\noutputs:\n  out: {reference: '${big.output}'}\nnodes:\n"
                         "- {name: big, type: python, source: {type: code, path: big.py}, inputs: {n: '${inputs.n}'}}\n",
    }, name="bigflow")
    result = load_flow(folder).run({"n": 50_000})
    assert len(result.outputs["out"]) == 50_000

    node = find(get_trace(result.trace_id)["spans"], "big")
    assert node["output"].startswith("xxx") and node["output"].endswith("[truncated: 50000 chars]")
    assert len(node["output"]) < 11_000


def test_get_traces_is_a_dataframe_of_spans_filtered_by_run(make_flow, tracing):
    flow = load_flow(make_flow(CHAIN, name="words"))
    for number in range(3):
        flow.run({"text": f"line {number}"}, line_number=number, attributes={"batch_run_id": "run-a", "line_number": number})
    flow.run({"text": "other"}, attributes={"batch_run_id": "run-b", "line_number": 0})

    frame = get_traces(run="run-a")
    assert len(frame) == 3 * 5 and frame["trace_id"].nunique() == 3
    assert set(frame["run"]) == {"run-a"} and sorted(frame["line_number"].unique()) == [0, 1, 2]
    assert sorted(frame[frame["span_type"] == "Flow"]["inputs"].map(lambda v: v["text"])) == ["line 0", "line 1", "line 2"]
    assert set(frame["node_name"].dropna()) == {"clean", "count", "shout", "report"}
    assert str(frame["start_time"].dt.tz) == "UTC" and (frame["duration"] >= 0).all()
    assert len(get_traces(flow="words", status="Completed")) == 4 * 5
    assert get_traces(flow="nothing").empty


def test_pfl_trace_list_show_and_delete(make_flow, tracing, capsys):
    flow = load_flow(make_flow(CHAIN, name="words"))
    ids = [flow.run({"text": f"t{n}"}, line_number=n, attributes={"batch_run_id": "r1", "line_number": n}).trace_id
           for n in range(3)]
    other = flow.run({"text": "x"}, attributes={"batch_run_id": "r2", "line_number": 0}).trace_id
    capsys.readouterr()

    assert pfl(["trace", "list", "--run", "r1"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:5] == ["TRACE_ID", "FLOW", "RUN", "LINE", "STATUS"]
    assert sorted(line.split()[0] for line in table[1:]) == sorted(ids)
    assert pfl(["trace", "list", "--since", "1h", "--max-results", "2", "-o", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2

    assert pfl(["trace", "show", ids[0][:12]]) == 0
    shown = capsys.readouterr().out
    assert ids[0] in shown and "run r1 line 0" in shown
    assert "✓ words [Flow]" in shown and "└─ ✓ report [Function]" in shown and " ms" in shown
    assert pfl(["trace", "show", ids[0], "-o", "json"]) == 0
    raw = json.loads(capsys.readouterr().out)
    assert [span["name"] for span in raw["spans"]][0] == "words" and len(raw["spans"]) == 5
    assert {span["parent_id"] for span in raw["spans"][1:]} == {raw["spans"][0]["span_id"]}

    assert pfl(["trace", "delete", "--run", "r1"]) == 0
    assert capsys.readouterr().out.strip() == "Deleted 3 traces."
    assert [t["trace_id"] for t in list_traces()] == [other]
    assert pfl(["trace", "show", ids[1]]) == 1
    assert "No trace" in capsys.readouterr().err
    assert delete_traces(older_than="7d") == 0
    assert delete_traces(older_than=0.0) == 0 and len(list_traces()) == 1


def test_pfl_trace_list_pages_with_a_total_and_show_finds_a_line_of_a_run(make_flow, tracing, capsys):
    flow = load_flow(make_flow(CHAIN, name="words"))
    ids = {n: flow.run({"text": f"t{n}"}, line_number=n, attributes={"batch_run_id": "big", "line_number": n}).trace_id
           for n in range(5)}
    capsys.readouterr()

    assert pfl(["trace", "list", "--run", "big", "--max-results", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[3] for line in out[1:3]] == ["4", "3"]
    assert out[-1] == "Traces 1-2 of 5, newest first; the next: --offset 2."
    assert pfl(["trace", "list", "--run", "big", "--max-results", "2", "--offset", "4"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[3] for line in out[1:-1]] == ["0"] and out[-1] == "Traces 5-5 of 5, newest first."

    assert pfl(["trace", "show", "--run", "big", "--line", "3"]) == 0
    assert capsys.readouterr().out.startswith(f"Trace {ids[3]} · run big line 3")
    assert pfl(["trace", "show", "--run", "big", "--line", "7"]) == 1
    assert "No trace of line 7 of run 'big'" in capsys.readouterr().err


def test_pfl_trace_rejects_bad_arguments(capsys):
    assert pfl(["trace", "delete"]) == 1
    assert "Say which traces to delete" in capsys.readouterr().err
    assert pfl(["trace", "list", "--since", "last tuesday"]) == 1
    assert "Cannot read the time 'last tuesday'" in capsys.readouterr().err


def test_tracing_off_costs_nothing_and_stores_nothing(make_flow, monkeypatch, pfl_home):
    monkeypatch.setenv("PFL_TRACING", "off")
    assert enable_tracing() is False
    assert engine_hooks.active() is None
    result = load_flow(make_flow(CHAIN, name="words")).run({"text": "quiet"})
    assert result.ok and result.trace_id is None
    assert not list(pfl_home.glob("traces.sqlite*"))


def test_trace_records_exceptions_and_early_stops(tracing):
    from promptflow_lite.tracing import trace

    @trace
    def risky(x: int) -> int:
        if x < 0:
            raise ValueError("negative input")
        return x

    @trace
    def numbers(n: int):
        yield from range(n)

    @trace
    def caller() -> list:
        try:
            risky(-1)
        except ValueError:
            pass
        stream = numbers(10)
        taken = [next(stream), next(stream)]
        stream.close()  # the consumer stops early
        return taken

    assert caller() == [0, 1]
    [line] = list_traces()
    [root] = get_trace(line["trace_id"])["spans"]
    failed, partial = root["children"]
    assert failed["status"] == "ERROR" and failed["status_message"] == "ValueError: negative input"
    assert failed["events"][0]["attributes"]["exception.type"] == "ValueError"
    assert partial["status"] == "OK" and partial["output"] == [0, 1]
    assert root["output"] == [0, 1]


def test_trace_is_a_plain_call_when_tracing_is_off(pfl_home):
    from promptflow_lite.tracing import trace

    @trace
    def double(x: int) -> int:
        return 2 * x

    @trace
    def letters():
        yield from "ab"

    assert double(4) == 8 and list(letters()) == ["a", "b"] and double.__name__ == "double"
    assert not list(pfl_home.glob("traces.sqlite*"))


def test_an_unwritable_store_turns_tracing_off_instead_of_failing(make_flow, monkeypatch, tmp_path, caplog):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where PFL_HOME's store should go")
    monkeypatch.setenv("PFL_HOME", str(blocked / "home"))
    assert enable_tracing() is False
    assert "Traces will not be stored" in caplog.text
    monkeypatch.setenv("PFL_HOME", str(tmp_path / "home"))
    assert load_flow(make_flow(CHAIN, name="words")).run({"text": "fine"}).ok


def test_a_trace_writer_process_that_cannot_open_its_store_stops_without_a_traceback(tmp_path, capfd):
    """E.g. the disk filled between the traced program's check of the store and the writer's start: the
    program writes its traces itself (and says once why it cannot); the writer adds no traceback."""
    from promptflow_lite.tracing._write.sink import _Process

    (tmp_path / "traces.sqlite").mkdir()  # a store no one can open
    config = {"store": str(tmp_path / "traces.sqlite"), "otlp": False, "resource": {}, "user_named": [],
              "batch": {}, "max_chars": 1000, "limits": {}}
    with pytest.raises(OSError, match="exited"):
        _Process(config)
    assert "Traceback" not in capfd.readouterr().err


SPANS_ON_A_FULL_DISK = """
import os, resource, sys
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from promptflow_lite.tracing._sqlite_exporter import SqliteSpanExporter
from promptflow_lite.tracing._store import TraceStore

folder, mounted = sys.argv[1], sys.argv[2] == "1"
store = TraceStore(os.path.join(folder, "traces.sqlite"))
tracer_provider = TracerProvider()
tracer_provider.add_span_processor(SimpleSpanProcessor(SqliteSpanExporter(store)))
tracer = tracer_provider.get_tracer("t")
with tracer.start_as_current_span("before"):
    pass
if mounted:  # fill the small filesystem
    with open(os.path.join(folder, "filler"), "wb") as filler:
        try:
            while True:
                filler.write(b"x" * 65536)
                filler.flush()
        except OSError:
            pass
else:  # no file may grow any more
    resource.setrlimit(resource.RLIMIT_FSIZE, (1, resource.RLIM_INFINITY))
for n in range(3):
    with tracer.start_as_current_span("x" * 200_000):  # big enough to need new pages
        pass
print("the traced program went on")
"""


def test_spans_that_cannot_be_stored_on_a_full_disk_are_reported_once_without_a_traceback(tmp_path):
    import subprocess
    import sys

    folder = tmp_path / "small"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
                             capture_output=True).returncode == 0
    try:
        done = subprocess.run([sys.executable, "-c", SPANS_ON_A_FULL_DISK, str(folder), str(int(mounted))],
                              capture_output=True, text=True, timeout=300)
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], check=False)
    assert done.returncode == 0 and "the traced program went on" in done.stdout, done.stderr
    assert done.stderr.count("could not write") == 1 and "Traceback" not in done.stderr, done.stderr
