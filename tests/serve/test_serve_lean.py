"""A served flow's process loads what serving needs and no more: its model calls go over httpx, so the
openai SDK's aiohttp transport stays out, as does uvicorn's file watcher; no SQLite without a store (a
python flow); the flow's own code may still import them. Checked on the real ``pfl flow serve`` path, by
the modules the process held when it stopped."""

from __future__ import annotations

import json
import sys

import pytest
from _served import ASK_FLOW, Served

from promptflow_lite.testing import Rule, ScriptedServer

# `pfl flow serve ARGS` that prints, as it exits, the top-level packages it imported
SERVE_LISTING_MODULES = ["-c", """
import atexit, json, sys
from promptflow_lite.cli.main import main
atexit.register(lambda: print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})), flush=True))
sys.exit(main(["flow", "serve", *sys.argv[1:]]))
"""]
RULES = [Rule(r"capital of (\w+)\?$", r"The capital of \1 is a scripted city.")]


@pytest.fixture
def llm():
    with ScriptedServer(rules=RULES) as server:
        yield server


@pytest.fixture
def serve_listing(tmp_path, llm):
    """Start ``pfl flow serve ARGS`` with the connection pointing at the scripted server; ``stop()`` it to
    get the packages it imported."""
    connections = tmp_path / "connections.json"
    connections.write_text(json.dumps({"open_ai_connection": {
        "type": "OpenAIConnection", "value": {"api_key": "x", "base_url": llm.base_url}}}))
    started: list[Served] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Served:
        started.append(Served([*args, "--port", "0"], {"PROMPTFLOW_CONNECTIONS": str(connections), **(env or {})},
                              command=[sys.executable, *SERVE_LISTING_MODULES]))
        return started[-1]

    yield start
    for server in started:
        server.kill()


def packages_at_exit(server: Served) -> set[str]:
    code, err = server.stop()
    assert code == 0, err
    return set(json.loads(server.output.splitlines()[-1]))


def test_a_served_llm_flow_calls_its_model_without_loading_aiohttp_or_a_file_watcher(make_flow, serve_listing):
    server = serve_listing("--source", str(make_flow(ASK_FLOW)))

    assert server.client.score({"question": "What is the capital of Peru?"}) == {
        "answer": "The capital of Peru is a scripted city."}
    streamed = list(server.client.stream({"question": "What is the capital of Chad?"}))
    assert "".join(event["answer"] for event in streamed) == "The capital of Chad is a scripted city."
    packages = packages_at_exit(server)
    assert {"openai", "uvicorn"} <= packages  # the SDK did call the model in this process
    assert not packages & {"aiohttp", "watchfiles"}


def test_pfl_llm_http_aiohttp_keeps_the_aiohttp_transport(make_flow, serve_listing):
    server = serve_listing("--source", str(make_flow(ASK_FLOW)), env={"PFL_LLM_HTTP": "aiohttp"})

    assert server.client.score({"question": "What is the capital of Peru?"}) == {
        "answer": "The capital of Peru is a scripted city."}
    assert "aiohttp" in packages_at_exit(server)


def test_flow_code_still_imports_what_the_server_does_without(make_flow, serve_listing):
    flow = make_flow({
        "flow.dag.yaml": """
            inputs: {}
            outputs:
              libraries: {type: object, reference: "${libraries.output}"}
            nodes:
            - name: libraries
              type: python
              source: {type: code, path: libraries.py}
              inputs: {}
        """,
        "libraries.py": """
            import aiohttp  # at load, while the server imports the SDK without it
            from promptflow import tool

            @tool
            def libraries() -> list:
                import watchfiles
                from openai._vendor import httpx_aiohttp
                return [aiohttp.__name__, watchfiles.__name__, httpx_aiohttp.__name__]
        """})
    server = serve_listing("--source", str(flow))

    assert server.client.score({}) == {"libraries": ["aiohttp", "watchfiles", "openai._vendor.httpx_aiohttp"]}
    assert server.stop()[0] == 0


def test_a_served_python_flow_loads_no_sqlite(make_flow, serve_listing):
    flow = make_flow({
        "flow.dag.yaml": """
            inputs:
              text: {type: string}
            outputs:
              shout: {type: string, reference: "${shout.output}"}
            nodes:
            - name: shout
              type: python
              source: {type: code, path: shout.py}
              inputs: {text: "${inputs.text}"}
        """,
        "shout.py": """
            from promptflow import tool

            @tool
            def shout(text: str) -> str:
                return text.upper() + "!"
        """})
    server = serve_listing("--source", str(flow))

    assert server.client.score({"text": "hi"}) == {"shout": "HI!"}
    assert "sqlite3" not in packages_at_exit(server)
