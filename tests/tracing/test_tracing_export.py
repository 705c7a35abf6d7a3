"""Where traces go besides the local store, and who writes them: OTLP/HTTP export, a caller's
traceparent, batch and evaluation runs, several processes sharing one store."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest

from promptflow_lite.engine import load_flow
from promptflow_lite.runs._client import Client
from promptflow_lite.tracing import (
    continue_trace,
    disable_tracing,
    enable_tracing,
    flush_tracing,
    get_trace,
    get_traces,
    list_traces,
)

CHAIN = {
    "clean.py": "from promptflow.core import tool\nfrom promptflow.tracing import trace\n\n"
                "@trace\ndef normalise(text: str) -> str:\n    return ' '.join(text.split()).lower()\n\n"
                "@tool\ndef clean(text: str) -> str:\n    return normalise(text)\n",
    "count.py": "from promptflow.core import tool\n@tool\ndef count(text: str) -> int:\n    return len(text.split())\n",
    "flow.dag.yaml": """
        inputs:
          text: {type: string}
        outputs:
          words: {reference: "${count.output}"}
          clean: {reference: "${clean.output}"}
        nodes:
        - {name: clean, type: python, source: {type: code, path: clean.py}, inputs: {text: "${inputs.text}"}}
        - {name: count, type: python, source: {type: code, path: count.py}, inputs: {text: "${clean.output}"}}
        """,
}


@pytest.fixture
def tracing():
    assert enable_tracing()
    yield
    disable_tracing()


@pytest.mark.parametrize("writer", ["process", "thread"])
def test_spans_also_reach_an_otlp_http_receiver(make_flow, collector, monkeypatch, writer):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint)
    monkeypatch.setenv("PFL_TRACE_WRITER", writer)
    assert enable_tracing()
    try:
        flow = load_flow(make_flow(CHAIN, name="chain"))
        results = [flow.run({"text": f"Some  Words {n}"}) for n in range(3)]
        assert flush_tracing()
        stored = get_traces()
    finally:
        disable_tracing()

    assert collector.paths and set(collector.paths) == {"/v1/traces"}
    received = {span["span_id"]: span for span in collector.spans}
    assert set(received) == set(stored["span_id"]) and len(received) == 3 * 4  # line, clean, normalise, count
    assert {span["trace_id"] for span in received.values()} == {r.trace_id for r in results}
    for row in stored.itertuples():
        span = received[row.span_id]
        assert (span["name"], span["parent_id"], span["attributes"]["span_type"]) == (row.name, row.parent_id or None,
                                                                                      row.span_type)
        assert json.loads(span["attributes"]["inputs"]) == row.inputs
    normalise = next(s for s in received.values() if s["name"] == "normalise")
    assert normalise["parent_id"] == next(s["span_id"] for s in received.values() if s["name"] == "clean")
    # every span, the writer process's and this one's (normalise), lands in the flow's project
    assert {span["resource"]["openinference.project.name"] for span in received.values()} == {"chain"}
    assert {span["resource"]["service.name"] for span in received.values()} == {"chain"}
    assert len({span["resource"]["service.instance.id"] for span in received.values()}) == 1
    # ... with OpenInference kinds and values: the line is a chain, python nodes are tools
    kinds = {span["name"]: span["attributes"]["openinference.span.kind"] for span in received.values()}
    assert kinds == {"chain": "CHAIN", "clean": "TOOL", "count": "TOOL", "normalise": "CHAIN"}
    line = next(s for s in received.values() if s["name"] == "chain" and s["trace_id"] == results[0].trace_id)
    assert json.loads(line["attributes"]["input.value"]) == {"text": "Some  Words 0"}
    assert json.loads(line["attributes"]["output.value"]) == {"words": 3, "clean": "some words 0"}
    assert line["attributes"]["input.mime_type"] == line["attributes"]["output.mime_type"] == "application/json"
    assert "output" not in line["attributes"]  # a viewer nesting dotted names would lose "output.value" under it
    clean = next(s for s in received.values() if s["name"] == "clean" and s["parent_id"] == line["span_id"])
    assert (clean["attributes"]["output.value"], clean["attributes"]["output.mime_type"]) == ("some words 0",
                                                                                              "text/plain")
    assert clean["attributes"]["tool.name"] == "clean"
    # the local store keeps promptflow's names only, one row per span
    assert "openinference.span.kind" not in stored["attributes"].iloc[0] and stored["span_id"].is_unique


def test_a_callers_traceparent_is_continued(make_flow, tracing):
    flow = load_flow(make_flow(CHAIN, name="chain"))
    caller_trace, caller_span = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    with continue_trace({"Traceparent": f"00-{caller_trace}-{caller_span}-01"}):
        continued = flow.run({"text": "from a served request"})
    with continue_trace({"traceparent": "not a traceparent"}):
        fresh = flow.run({"text": "no caller"})

    assert continued.trace_id == caller_trace
    trace = get_trace(caller_trace)
    [root] = trace["spans"]
    assert root["name"] == "chain" and root["parent_id"] == caller_span
    assert trace["line_run"]["flow"] == "chain"  # the line is the root of what this service stored
    assert fresh.trace_id != caller_trace and get_trace(fresh.trace_id)["spans"][0]["parent_id"] is None


def test_spans_under_another_tracers_span_are_roots_of_our_store(make_flow, tracing):
    from opentelemetry.sdk.trace import TracerProvider

    from promptflow_lite.tracing import trace

    @trace
    def handler(text: str) -> dict:
        return {"n": len(text)}

    web = TracerProvider().get_tracer("web-framework")  # e.g. the application's own instrumentation
    flow = load_flow(make_flow(CHAIN, name="chain"))
    with web.start_as_current_span("POST /score") as request_span:
        line = flow.run({"text": "inside a request"})
        handler("also inside")
    caller = request_span.get_span_context()

    listed = {t["flow"]: t for t in list_traces()}
    assert set(listed) == {"chain", handler.__qualname__}
    assert {t["trace_id"] for t in listed.values()} == {format(caller.trace_id, "032x")} == {line.trace_id}
    roots = [get_trace(line.trace_id)["spans"]]
    assert {root["parent_id"] for tree in roots for root in tree} == {format(caller.span_id, "016x")}


def test_batch_and_evaluation_runs_link_lines_to_traces(make_flow, tmp_path, tracing):
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"text": f"line number {n}"}) + "\n" for n in range(100)))
    judge = make_flow({
        "judge.py": "from promptflow.core import tool\n@tool\ndef judge(words: int, text: str) -> dict:\n"
                    "    return {'ok': words == len(text.split())}\n",
        "flow.dag.yaml": """
            inputs:
              words: {type: int}
              text: {type: string}
            outputs:
              ok: {reference: "${judge.output.ok}"}
            nodes:
            - {name: judge, type: python, source: {type: code, path: judge.py},
               inputs: {words: "${inputs.words}", text: "${inputs.text}"}}
            """}, name="judge")
    client = Client(progress=False)
    base = client.run(make_flow(CHAIN, name="chain"), data=data)
    evaluation = client.run(judge, data=data, run=base,
                            column_mapping={"words": "${run.outputs.words}", "text": "${data.text}"})

    lines = list_traces(run=base.name, limit=None)
    assert len(lines) == 100 and sorted(line["line_number"] for line in lines) == list(range(100))
    assert {line["flow"] for line in lines} == {"chain"} and {line["status"] for line in lines} == {"Completed"}
    details = client.get_details(base)
    assert set(details["trace_id"]) == {line["trace_id"] for line in lines}

    evaluated = list_traces(run=evaluation.name, limit=None)
    assert len(evaluated) == 100
    assert all(e["referenced_run"] == base.name and e["referenced_line_number"] == e["line_number"] for e in evaluated)
    line_7 = next(line for line in lines if line["line_number"] == 7)
    [evaluation_of_7] = get_trace(line_7["trace_id"])["evaluations"]
    assert (evaluation_of_7["run"], evaluation_of_7["line_number"]) == (evaluation.name, 7)
    assert evaluation_of_7["outputs"] == {"ok": True}


INSTRUMENTED = """
import json, sys
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from promptflow_lite.engine import load_flow
from promptflow_lite.tracing import enable_tracing, get_trace

exported = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exported))
trace.set_tracer_provider(provider)  # the application's own OpenTelemetry setup
assert enable_tracing()
line = load_flow(sys.argv[1]).run({"text": "instrumented"})
node = next(s for s in get_trace(line.trace_id)["spans"][0]["children"] if s["name"] == "lookup")
[span] = exported.get_finished_spans()
print(json.dumps({"trace": line.trace_id, "node": node["span_id"], "span": span.name,
                  "span_trace": format(span.context.trace_id, "032x"), "span_parent": format(span.parent.span_id, "016x")}))
"""


def test_opentelemetry_instrumentation_in_a_node_nests_under_it(make_flow, tmp_path):
    folder = make_flow({
        "lookup.py": "from opentelemetry import trace\nfrom promptflow.core import tool\n\n@tool\n"
                     "def lookup(text: str) -> str:\n"
                     "    with trace.get_tracer('vector-db').start_as_current_span('vector search'):\n"
                     "        return text[::-1]\n",
        "flow.dag.yaml": "inputs:\n  text: {type: string}\noutputs:\n  out: {reference: '${lookup.output}'}\nnodes:\n"
                         "- {name: lookup, type: python, source: {type: code, path: lookup.py}, "
                         "inputs: {text: '${inputs.text}'}}\n"}, name="instrumented")
    script = tmp_path / "instrumented.py"
    script.write_text(INSTRUMENTED)
    done = subprocess.run([sys.executable, str(script), str(folder)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["span"] == "vector search"
    assert (seen["span_trace"], seen["span_parent"]) == (seen["trace"], seen["node"])


WRITER = """
import sys
from promptflow_lite.engine import load_flow
from promptflow_lite.tracing import enable_tracing, flush_tracing

folder, process, lines, flush = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "flush"
assert enable_tracing()
flow = load_flow(folder)
for n in range(lines):
    flow.run({"text": f"process {process} line {n}"}, line_number=n,
             attributes={"batch_run_id": f"proc-{process}", "line_number": n})
if flush:
    assert flush_tracing()
# without an explicit flush, the exit handler writes the pending spans
"""


def test_several_processes_write_one_store(make_flow, tmp_path, pfl_home):
    folder = make_flow(CHAIN, name="chain")
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    processes = [subprocess.Popen([sys.executable, str(script), str(folder), str(p), "60", "flush" if p % 2 else "exit"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for p in range(4)]
    for process in processes:
        _, errors = process.communicate(timeout=240)
        assert process.returncode == 0, errors
        assert "could not" not in errors  # no write failed (e.g. "database is locked")

    lines = list_traces(limit=None)
    assert len(lines) == 4 * 60
    for p in range(4):
        assert sorted(line["line_number"] for line in lines if line["run"] == f"proc-{p}") == list(range(60))
    spans = get_traces(limit=None)
    assert len(spans) == 4 * 60 * 4 and spans["span_id"].is_unique



def test_flow_test_collection_names_the_project(make_flow, collector, monkeypatch, capsys):
    from promptflow_lite.cli.main import main as pfl

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint)
    folder = make_flow(CHAIN, name="chain")
    assert pfl(["flow", "test", "--flow", str(folder), "--inputs", "text=a b", "--collection", "my-app"]) == 0
    trace_id = capsys.readouterr().err.split("Trace: ")[1].split()[0]

    assert get_trace(trace_id)["line_run"]["collection"] == "my-app"
    sent = [span for span in collector.spans if span["trace_id"] == trace_id]
    assert len(sent) == 4 and {span["resource"]["openinference.project.name"] for span in sent} == {"my-app"}
    assert {span["resource"]["service.name"] for span in sent} == {"my-app"}


def test_a_project_named_by_the_user_is_kept(make_flow, collector, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "checkout-service")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "openinference.project.name=shop")
    assert enable_tracing()
    load_flow(make_flow(CHAIN, name="chain")).run({"text": "a b"})
    assert flush_tracing()

    assert {span["resource"]["openinference.project.name"] for span in collector.spans} == {"shop"}
    assert {span["resource"]["service.name"] for span in collector.spans} == {"checkout-service"}


@pytest.fixture
def black_hole():
    """An endpoint that accepts connections and never answers."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


@pytest.fixture
def closed_port():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there now


@pytest.fixture
def not_otlp():
    """A web server that does not take OTLP (POST): it answers 501."""
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    server = ThreadingHTTPServer(("127.0.0.1", 0), SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("endpoint, reason", [("closed_port", "connection refused"),
                                              ("black_hole", "it did not answer within 1 s"),
                                              ("not_otlp", "it answered HTTP 501 Unsupported method ('POST')")])
def test_an_unreachable_otlp_endpoint_costs_one_warning(make_flow, tmp_path, request, endpoint, reason):
    import os

    url = request.getfixturevalue(endpoint)
    folder = make_flow(CHAIN, name="chain")
    env = {**os.environ, "PFL_HOME": str(tmp_path / "home"), "OTEL_EXPORTER_OTLP_ENDPOINT": url}
    done = subprocess.run([sys.executable, "-m", "promptflow_lite.cli.main", "flow", "test", "--flow", str(folder),
                           "--inputs", "text=Hello  there"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "words: 2" in done.stdout
    lines = [line for line in done.stderr.splitlines() if not line.startswith("Trace: ")]
    assert lines == [f"Traces are not sent to the OTLP endpoint {url}/v1/traces: {reason}; "
                     "they are in the local store (pfl trace list)."]  # no retry messages of the exporter
    trace_id = done.stderr.split("Trace: ")[1].split()[0]
    show = subprocess.run([sys.executable, "-m", "promptflow_lite.cli.main", "trace", "show", trace_id],
                          capture_output=True, text=True, env=env, timeout=120)
    assert show.returncode == 0 and "clean" in show.stdout  # the local store has the trace
