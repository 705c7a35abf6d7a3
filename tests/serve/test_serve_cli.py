"""`pfl flow serve` as a real process: prints its URL, answers, stops cleanly on SIGINT / SIGTERM."""

from __future__ import annotations

import json
import signal
import socket
import subprocess

import pytest
from _served import ASK_FLOW, PFL, Served

from promptflow_lite.testing import Rule, ScriptedServer

GREET_FLOW = {
    "flow.dag.yaml": """
        inputs:
          name: {type: string}
        outputs:
          greeting: {type: string, reference: "${greet.output}"}
        nodes:
        - name: greet
          type: python
          source: {type: code, path: greet.py}
          inputs: {name: "${inputs.name}"}
    """,
    "greet.py": """
        import os
        from pathlib import Path
        from promptflow import tool

        @tool
        def greet(name: str) -> str:
            salutation = Path("salutation.txt").read_text().strip()  # relative to the flow folder
            return f"{salutation} {name}{os.environ.get('GREETING_END', '.')}"
    """,
    "salutation.txt": "Hello",
}


@pytest.fixture
def served():
    started: list[Served] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Served:
        started.append(Served(list(args), env))
        return started[-1]

    yield start
    for server in started:
        server.kill()


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_serve_answers_and_stops_cleanly(make_flow, served, stop_signal):
    server = served("--source", str(make_flow(GREET_FLOW)), "--port", "0",
                    "--environment-variables", "GREETING_END=!")

    assert server.url.startswith("http://127.0.0.1:")
    assert server.client.score({"name": "Ada"}) == {"greeting": "Hello Ada!"}
    code, err = server.stop(stop_signal)
    assert code == 0
    assert "Stopped." in err


def test_busy_port_is_a_clear_error(make_flow):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(PFL + ["flow", "serve", "--source", str(make_flow(GREET_FLOW)), "--port", str(port)],
                              capture_output=True, text=True, timeout=60)

    assert proc.returncode == 1
    assert f"Cannot listen on 127.0.0.1:{port}" in proc.stderr and "--port" in proc.stderr


def test_broken_flow_fails_before_listening(make_flow):
    flow = make_flow({"flow.dag.yaml": "inputs: {}\noutputs:\n  x: {type: string, reference: '${missing.output}'}\n"})

    proc = subprocess.run(PFL + ["flow", "serve", "--source", str(flow), "--port", "0"],
                          capture_output=True, text=True, timeout=60)

    assert proc.returncode == 1
    assert "missing" in proc.stderr and "Serving" not in proc.stdout


def test_several_workers_share_the_port(make_flow, served):
    server = served("--source", str(make_flow(GREET_FLOW)), "--port", "0", "--workers", "2")

    assert server.client.score({"name": "Bo"}) == {"greeting": "Hello Bo."}  # the URL is printed once it answers
    code, _ = server.stop(signal.SIGTERM)
    assert code == 0


def test_connections_take_serving_env_overrides(make_flow, served, tmp_path):
    """promptflow serving's ``<CONN_NAME>_<KEY>`` variables override a connection's fields."""
    flow = make_flow(ASK_FLOW)
    connections = tmp_path / "connections.json"
    connections.write_text(json.dumps({"open_ai_connection": {
        "type": "OpenAIConnection", "value": {"api_key": "wrong-key", "base_url": "http://127.0.0.1:9/v1"}}}))
    with ScriptedServer(rules=[Rule("ping", "pong")], api_key="right-key") as llm:
        server = served("--source", str(flow), "--port", "0",
                        env={"PROMPTFLOW_CONNECTIONS": str(connections),
                             "OPEN_AI_CONNECTION_BASE_URL": llm.base_url, "OPEN_AI_CONNECTION_API_KEY": "right-key"})

        assert server.client.score("ping") == {"answer": "pong"}
        assert server.stop()[0] == 0


@pytest.mark.parametrize("args, env, stored", [
    ([], {}, False),                                       # as promptflow's server: no local trace store
    (["--trace-store"], {}, True),
    ([], {"PFL_SERVE_TRACE_STORE": "1"}, True),            # e.g. in a `pfl flow build` image
])
def test_requests_reach_the_local_trace_store_only_when_asked(make_flow, served, pfl_home, args, env, stored):
    from promptflow_lite.tracing._store import TraceStore

    server = served("--source", str(make_flow(GREET_FLOW)), "--port", "0", *args, env=env)
    assert server.client.score({"name": "Ada"}) == {"greeting": "Hello Ada."}
    assert server.stop()[0] == 0

    lines = TraceStore().line_runs() if (pfl_home / "traces.sqlite").exists() else []
    assert bool(lines) is stored
