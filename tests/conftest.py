"""Shared fixtures: every test gets its own PFL_HOME; ``make_flow`` writes a flow folder; ``pfl_json`` /
``flow_test_json`` read a command's JSON; ``scripted_connections`` points the flows' connections at a
scripted server; ``collector`` receives OTLP traces."""

from __future__ import annotations

import gzip
import json
import textwrap
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def pfl_home(tmp_path_factory, monkeypatch) -> Path:
    """A PFL_HOME per test, not yet created (as on a new machine), so nothing touches the user's home folder."""
    home = tmp_path_factory.mktemp("pfl_home") / "home"
    monkeypatch.setenv("PFL_HOME", str(home))
    monkeypatch.delenv("PROMPTFLOW_CONNECTIONS", raising=False)
    for variable in ("PFL_SCRIPTED_LLM", "OPENAI_BASE_URL", "OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT",
                     "AZURE_OPENAI_API_KEY"):  # offline mode sets them for its process; no real endpoint in tests
        monkeypatch.delenv(variable, raising=False)
    return home


@pytest.fixture
def make_flow(tmp_path):
    """``make_flow({"flow.dag.yaml": "...", "tool.py": "..."}, name="f")`` → the flow folder."""

    def make(files: dict[str, str], name: str = "flow") -> Path:
        folder = tmp_path / name
        folder.mkdir(parents=True, exist_ok=True)
        for relative, text in files.items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return folder

    return make


@pytest.fixture
def pfl_json(capsys):
    """``pfl_json("run", "show", NAME)`` -> the JSON a ``pfl`` command printed (the command must exit 0)."""
    from promptflow_lite.cli.main import main

    def call(*args: str):
        capsys.readouterr()
        assert main(list(args)) == 0
        return json.loads(capsys.readouterr().out)

    return call


@pytest.fixture
def flow_test_json(pfl_json):
    """``flow_test_json("--flow", FOLDER, "--inputs", "x=1")`` -> the outputs ``pfl flow test`` printed."""
    return lambda *args: pfl_json("flow", "test", *map(str, args), "--output", "json")


@pytest.fixture
def scripted_connections(tmp_path, monkeypatch):
    """``scripted_connections(server, api_key="sk-test")``: the connections ``open_ai_connection`` and
    ``azure_open_ai_connection`` point at a scripted server, through ``PROMPTFLOW_CONNECTIONS``
    (promptflow's execution format); returns the connections file."""

    def use(server, api_key: str = "sk-test") -> Path:
        data = {
            "open_ai_connection": {"type": "OpenAIConnection", "module": "promptflow.connections",
                                   "value": {"api_key": api_key, "base_url": server.base_url},
                                   "secret_keys": ["api_key"]},
            "azure_open_ai_connection": {"type": "AzureOpenAIConnection", "module": "promptflow.connections",
                                         "value": {"api_key": api_key, "api_base": server.url, "api_type": "azure",
                                                   "api_version": "2024-02-01"}, "secret_keys": ["api_key"]},
        }
        path = tmp_path / "connections.json"
        path.write_text(json.dumps(data))
        monkeypatch.setenv("PROMPTFLOW_CONNECTIONS", str(path))
        return path

    return use


@pytest.fixture(autouse=True)
def tracing_off_after_test():
    """Tracing state is per process: a test that switched it on must not leak it into the next."""
    yield
    import sys

    if "promptflow_lite.tracing._setup" in sys.modules:
        sys.modules["promptflow_lite.tracing._setup"].disable_tracing()


@pytest.fixture(autouse=True)
def secrets_forgotten_after_test():
    """Known secrets are per process: one test's keys must not mask another test's text."""
    yield
    import sys

    if "promptflow_lite.masking" in sys.modules:
        sys.modules["promptflow_lite.masking"].forget_secrets()


@pytest.fixture
def serve():
    """``serve(flow_dir, **create_app_kwargs)`` → a client of the flow served over real HTTP on a free port."""
    from promptflow_lite.serve import ServerThread, create_app
    from promptflow_lite.serve._client import ScoreClient

    servers = []

    def start(source, **kwargs) -> ScoreClient:
        server = ServerThread(create_app(source, **kwargs)).start()
        servers.append(server)
        return ScoreClient(server.url)

    yield start
    for server in servers:
        server.stop()


class Collector(ThreadingHTTPServer):
    """A minimal OTLP/HTTP trace receiver: decodes ``ExportTraceServiceRequest`` protobufs into
    ``spans`` (dicts with their ``attributes`` and ``resource`` attributes)."""

    def __init__(self):
        self.spans: list[dict] = []
        self.paths: list[str] = []
        super().__init__(("127.0.0.1", 0), _CollectorHandler)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _CollectorHandler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest, ExportTraceServiceResponse,
        )

        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource_spans in request.resource_spans:
            resource = {kv.key: _value(kv.value) for kv in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.server.spans.append({
                        "trace_id": span.trace_id.hex(), "span_id": span.span_id.hex(),
                        "parent_id": span.parent_span_id.hex() or None, "name": span.name,
                        "attributes": {kv.key: _value(kv.value) for kv in span.attributes},
                        "status": span.status.code, "resource": resource})
        self.server.paths.append(self.path)
        reply = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


def _value(value):
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


@pytest.fixture
def collector():
    """An OTLP/HTTP receiver on 127.0.0.1 (``collector.endpoint``)."""
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()

