"""OpenAI SDK calls made in a python tool are traced: LLM / Embedding spans under the node, with the server's tokens."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from promptflow_lite.cli.main import main as pfl
from promptflow_lite.engine import load_flow, run_sync
from promptflow_lite.testing import ScriptedServer
from promptflow_lite.tracing import disable_tracing, enable_tracing, get_trace, get_traces

KEY, HEADER = "sk-sdk-secret-456", "hdr-secret-789"
RULES = [{"match": "capital of (\\w+)", "reply": "The capital of \\1 is scripted."}]
SYNC_TOOL = """
    import openai
    from promptflow.core import tool

    BASE, KEY = {base!r}, {key!r}


    @tool
    def direct(question: str) -> dict:
        client = openai.OpenAI(base_url=BASE, api_key=KEY, max_retries=0)
        messages = [{{"role": "user", "content": question}}]
        chat = client.chat.completions.create(model="gpt-4o-mini", messages=messages, temperature=0,
                                              extra_headers={{"X-Auth-Token": {header!r}}})
        text = client.completions.create(model="gpt-35-turbo-instruct", prompt=question, max_tokens=20)
        vector = client.embeddings.create(model="text-embedding-3-small", input=question)
        stream = client.chat.completions.create(model="gpt-4o", messages=messages, stream=True,
                                                stream_options={{"include_usage": True}})
        chunks = list(stream)
        try:
            openai.OpenAI(base_url=BASE, api_key="sk-wrong-key-000", max_retries=0).embeddings.create(
                model="text-embedding-3-small", input=question)
        except openai.AuthenticationError as exc:
            refused = exc.status_code
        return {{"chat": chat.choices[0].message.content, "text": text.choices[0].text,
                "dims": len(vector.data[0].embedding), "refused": refused,
                "streamed": "".join(c.choices[0].delta.content or "" for c in chunks if c.choices),
                "tokens": [chat.usage.total_tokens, text.usage.total_tokens, vector.usage.total_tokens,
                           chunks[-1].usage.total_tokens]}}
    """
ASYNC_TOOL = """
    from openai import AsyncOpenAI
    from promptflow.core import tool

    BASE, KEY = {base!r}, {key!r}


    @tool
    async def direct_async(question: str) -> dict:
        client = AsyncOpenAI(base_url=BASE, api_key=KEY, max_retries=0)
        messages = [{{"role": "user", "content": question}}]
        chat = await client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        stream = await client.completions.create(model="gpt-35-turbo-instruct", prompt=question, stream=True,
                                                 stream_options={{"include_usage": True}})
        chunks = [chunk async for chunk in stream]
        await client.close()
        return {{"chat": chat.choices[0].message.content,
                "streamed": "".join(c.choices[0].text for c in chunks if c.choices),
                "tokens": [chat.usage.total_tokens, chunks[-1].usage.total_tokens]}}
    """
FLOW = """
    inputs:
      question: {type: string}
    outputs:
      direct: {reference: "${direct.output}"}
      direct_async: {reference: "${direct_async.output}"}
    nodes:
    - {name: direct, type: python, source: {type: code, path: direct.py}, inputs: {question: "${inputs.question}"}}
    - {name: direct_async, type: python, source: {type: code, path: direct_async.py},
       inputs: {question: "${inputs.question}"}}
    """
QUESTION = "What is the capital of Chile?"


@pytest.fixture
def server():
    with ScriptedServer(rules=RULES, api_key=KEY) as scripted:
        yield scripted


@pytest.fixture
def sdk_flow(make_flow, server):
    values = {"base": server.base_url, "key": KEY, "header": HEADER}
    return make_flow({"direct.py": SYNC_TOOL.format(**values), "direct_async.py": ASYNC_TOOL.format(**values),
                      "flow.dag.yaml": FLOW}, name="sdk")


@pytest.fixture
def tracing():
    assert enable_tracing()
    yield
    disable_tracing()


def test_sdk_calls_are_model_call_spans_under_the_node_with_the_servers_tokens(sdk_flow, tracing):
    result = load_flow(sdk_flow).run({"question": QUESTION})
    assert result.ok, result.error
    direct, direct_async = result.outputs["direct"], result.outputs["direct_async"]
    assert direct["streamed"] == direct["chat"] == "The capital of Chile is scripted." and direct["refused"] == 401

    trace = get_trace(result.trace_id)
    [root] = trace["spans"]
    nodes = {node["name"]: node for node in root["children"]}
    calls = nodes["direct"]["children"]
    assert [(c["name"], c["span_type"], c["status"]) for c in calls] == [
        ("chat gpt-4o-mini", "LLM", "OK"), ("text_completion gpt-35-turbo-instruct", "LLM", "OK"),
        ("embeddings text-embedding-3-small", "Embedding", "OK"), ("chat gpt-4o", "LLM", "OK"),
        ("embeddings text-embedding-3-small", "Embedding", "ERROR")]
    assert [c["attributes"]["function"] for c in calls[:3]] == [
        "openai.resources.chat.completions.Completions.create", "openai.resources.completions.Completions.create",
        "openai.resources.embeddings.Embeddings.create"]
    assert [c["attributes"].get("llm.usage.total_tokens") for c in calls] == direct["tokens"] + [None]
    chat, streamed = calls[0], calls[3]
    assert chat["inputs"]["messages"] == [{"role": "user", "content": QUESTION}] and chat["kind"] == "CLIENT"
    assert json.loads(chat["attributes"]["llm.generated_message"])["content"] == direct["chat"]
    assert streamed["output"] == direct["streamed"] and streamed["attributes"]["output_type"] == "iterated"
    assert "AuthenticationError" in calls[4]["status_message"]

    async_calls = nodes["direct_async"]["children"]
    assert [(c["name"], c["status"]) for c in async_calls] == [
        ("chat gpt-4o-mini", "OK"), ("text_completion gpt-35-turbo-instruct", "OK")]
    assert [c["attributes"]["llm.usage.total_tokens"] for c in async_calls] == direct_async["tokens"]
    assert async_calls[1]["output"] == direct_async["streamed"] == "The capital of Chile is scripted."

    # the node's and the line's cumulative tokens include the SDK calls
    for name, output in (("direct", direct), ("direct_async", direct_async)):
        assert nodes[name]["attributes"]["__computed__.cumulative_token_count.total"] == sum(output["tokens"])
        assert result.node_runs[name].usage["total_tokens"] == sum(output["tokens"])
    total = sum(direct["tokens"]) + sum(direct_async["tokens"])
    assert trace["line_run"]["total_tokens"] == total


def test_no_key_or_header_reaches_the_trace_store(sdk_flow, tracing, pfl_home):
    assert load_flow(sdk_flow).run({"question": QUESTION}).ok
    frame = get_traces()
    assert {"LLM", "Embedding"} <= set(frame["span_type"])
    files = list(pfl_home.glob("traces.sqlite*"))
    assert files and not any(secret in file.read_bytes() for file in files
                             for secret in (KEY.encode(), HEADER.encode(), b"sk-wrong-key-000"))


def test_flow_test_output_is_the_same_with_tracing_off(sdk_flow, monkeypatch, capsys):
    outputs = {}
    for tracing in ("off", "on"):
        monkeypatch.setenv("PFL_TRACING", tracing)
        assert pfl(["flow", "test", "--flow", str(sdk_flow), "--inputs", f"question={QUESTION}",
                    "--output", "json"]) == 0
        outputs[tracing] = capsys.readouterr().out
        disable_tracing()
    assert outputs["on"] == outputs["off"] and json.loads(outputs["on"])["direct"]["dims"] > 0


def test_patching_is_idempotent_reversible_and_off_with_tracing_off(monkeypatch):
    from openai.resources.chat.completions import Completions

    create = Completions.create
    monkeypatch.setenv("PFL_TRACING", "off")
    assert not enable_tracing() and Completions.create is create
    monkeypatch.delenv("PFL_TRACING")
    assert enable_tracing() and enable_tracing(collection="again")
    assert Completions.create.__wrapped__ is create
    disable_tracing()
    assert Completions.create is create


def test_our_llm_tools_are_not_counted_twice(make_flow, server, tracing):
    from promptflow_lite.connections._types import OpenAIConnection

    flow = make_flow({"ask.jinja2": "# user:\n{{question}}\n", "flow.dag.yaml": """
        inputs:
          question: {type: string}
        outputs:
          answer: {reference: "${ask.output}"}
        nodes:
        - {name: ask, type: llm, source: {type: code, path: ask.jinja2}, inputs: {model: gpt-4o, question: "${inputs.question}"},
           connection: conn, api: chat}
        """}, name="streaming")
    connection = OpenAIConnection(api_key=KEY, base_url=server.base_url, name="conn")
    flow = load_flow(flow, connections={"conn": connection})

    async def ask():
        line = await flow.arun({"question": QUESTION}, stream=True)
        return line, "".join([piece async for piece in line.outputs["answer"]])

    line, answer = run_sync(ask())
    assert answer == "The capital of Chile is scripted."
    [root] = get_trace(line.trace_id)["spans"]
    [call] = root["children"][0]["children"]
    assert call["output"] == answer


def test_openai_is_patched_when_first_imported_and_never_loaded_by_us():
    code = """if True:
        import sys
        import promptflow_lite
        from promptflow_lite.tracing import enable_tracing
        assert enable_tracing() and "openai" not in sys.modules
        import openai
        from openai.resources.embeddings import AsyncEmbeddings
        assert AsyncEmbeddings.create.__wrapped__ and type(openai.__spec__.loader).__name__ != "_PatchingLoader"
        """
    subprocess.run([sys.executable, "-c", code], check=True)
    help_code = "import sys, runpy; sys.argv = ['pfl', '--help']\ntry: runpy.run_module('promptflow_lite.cli.main', run_name='__main__')\nexcept SystemExit: pass\nassert 'openai' not in sys.modules, 'openai loaded'"
    subprocess.run([sys.executable, "-c", help_code], check=True, capture_output=True)
