"""Tracing flows that call models over real HTTP (the scripted OpenAI server): LLM and embedding spans."""

from __future__ import annotations

import json
import urllib.request

import pytest

from promptflow_lite.cli.main import main as pfl
from promptflow_lite.connections._types import OpenAIConnection
from promptflow_lite.engine import load_flow, run_sync
from promptflow_lite.testing import ScriptedServer
from promptflow_lite.tracing import disable_tracing, enable_tracing, flush_tracing, get_trace, get_traces

SECRET = "sk-secret-123"
RULES = [{"match": "capital of (\\w+)", "reply": "The capital of \\1 is scripted, and that is all I know."}]
QA_FLOW = {
    "topic.py": """
        from promptflow.core import tool

        @tool
        def topic(country: str) -> str:
            return country.strip().title()
        """,
    "question.jinja2": "What is the capital of {{country}}?",
    "ask.jinja2": "# system:\nAnswer briefly.\n# user:\n{{question}}\n",
    "embed.py": """
        from promptflow.core import tool
        from promptflow.connections import OpenAIConnection
        from promptflow.tools.embedding import embedding

        @tool
        def embed(conn: OpenAIConnection, text: str) -> int:
            return len(embedding(connection=conn, input=text, model="text-embedding-3-small"))
        """,
    "flow.dag.yaml": """
        inputs:
          country: {type: string}
        outputs:
          answer: {reference: "${ask.output}"}
          dims: {reference: "${embed.output}"}
        nodes:
        - {name: topic, type: python, source: {type: code, path: topic.py}, inputs: {country: "${inputs.country}"}}
        - {name: question, type: prompt, source: {type: code, path: question.jinja2}, inputs: {country: "${topic.output}"}}
        - name: ask
          type: llm
          source: {type: code, path: ask.jinja2}
          inputs: {model: gpt-4o-mini, temperature: 0.2, max_tokens: 50, question: "${question.output}"}
          connection: open_ai_connection
          api: chat
        - {name: embed, type: python, source: {type: code, path: embed.py},
           inputs: {conn: open_ai_connection, text: "${question.output}"}}
        """,
}


@pytest.fixture
def server():
    with ScriptedServer(rules=RULES) as scripted:
        yield scripted


@pytest.fixture
def tracing():
    assert enable_tracing()
    yield
    disable_tracing()


@pytest.fixture
def qa(make_flow, server):
    connection = OpenAIConnection(api_key=SECRET, base_url=server.base_url, name="open_ai_connection")
    return load_flow(make_flow(QA_FLOW, name="qa"), connections={"open_ai_connection": connection})


def find(spans, name):
    for span in spans:
        if span["name"] == name:
            return span
        found = find(span["children"], name)
        if found:
            return found
    return None


def replay(server, request: dict) -> dict:
    """What the server answers to a request it received (its answers are deterministic)."""
    post = urllib.request.Request(server.base_url + request["path"].removeprefix("/v1"),
                                  data=json.dumps(request["body"]).encode(),
                                  headers={"Content-Type": "application/json", "Authorization": "Bearer x"})
    with urllib.request.urlopen(post) as response:
        return json.load(response)


def test_llm_call_span_has_model_and_the_servers_token_counts(qa, server, tracing, capsys):
    result = qa.run({"country": " france "})
    assert result.ok, result.error
    [chat_request] = [r for r in server.requests if r["path"].endswith("/chat/completions")]
    usage = replay(server, chat_request)["usage"]

    trace = get_trace(result.trace_id)
    [root] = trace["spans"]
    assert sorted(child["name"] for child in root["children"]) == ["ask", "embed", "question", "topic"]
    assert find(trace["spans"], "question")["output"] == "What is the capital of France?"
    ask = find(trace["spans"], "ask")
    [call] = ask["children"]
    attributes = call["attributes"]
    assert (call["name"], call["span_type"], call["kind"]) == ("chat gpt-4o-mini", "LLM", "CLIENT")
    assert attributes["gen_ai.system"] == "openai" and attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.request.model"] == "gpt-4o-mini" and attributes["gen_ai.response.model"] == "gpt-4o-mini"
    assert attributes["gen_ai.request.temperature"] == 0.2 and attributes["gen_ai.request.max_tokens"] == 50
    assert attributes["gen_ai.usage.input_tokens"] == usage["prompt_tokens"]
    assert attributes["gen_ai.usage.output_tokens"] == usage["completion_tokens"]
    assert attributes["llm.usage.total_tokens"] == usage["total_tokens"] > 0
    assert attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert attributes["server.address"] == "127.0.0.1"
    assert call["inputs"]["messages"][-1] == {"role": "user", "content": "What is the capital of France?"}
    assert json.loads(attributes["llm.generated_message"])["content"] == result.outputs["answer"]
    # cumulative counts roll up: LLM span -> node -> line (the embedding adds prompt tokens only)
    for span in (call, ask):
        assert span["attributes"]["__computed__.cumulative_token_count.total"] == usage["total_tokens"]
    embed_call = find(trace["spans"], "embed")["children"][0]
    assert embed_call["span_type"] == "Embedding" and embed_call["output"]["data"][0]["embedding"].endswith("floats>")
    embed_tokens = embed_call["attributes"]["llm.usage.total_tokens"]
    assert root["attributes"]["__computed__.cumulative_token_count.total"] == usage["total_tokens"] + embed_tokens
    assert trace["line_run"]["total_tokens"] == usage["total_tokens"] + embed_tokens

    capsys.readouterr()
    assert pfl(["trace", "show", result.trace_id]) == 0
    shown = capsys.readouterr().out
    assert f"chat gpt-4o-mini [LLM]" in shown and "model gpt-4o-mini" in shown
    assert f"{usage['total_tokens']} tokens ({usage['prompt_tokens']} prompt + {usage['completion_tokens']} completion)" \
        in shown


def test_the_api_key_is_nowhere_in_the_trace_store(qa, tracing, pfl_home):
    assert qa.run({"country": "spain"}).ok
    frame = get_traces()
    assert set(frame["span_type"]) == {"Flow", "Function", "LLM", "Embedding"}
    assert (frame[frame["node_name"] == "embed"]["inputs"].iloc[0]["conn"]
            == "<OpenAIConnection name=open_ai_connection>")
    files = list(pfl_home.glob("traces.sqlite*"))
    assert files and not any(SECRET.encode() in file.read_bytes() for file in files)


def test_a_failed_llm_call_is_an_error_span(make_flow, server, tracing):
    server.api_key = "sk-the-right-one"
    connection = OpenAIConnection(api_key=SECRET, base_url=server.base_url, name="open_ai_connection")
    flow = load_flow(make_flow(QA_FLOW, name="qa"), connections={"open_ai_connection": connection})
    result = flow.run({"country": "peru"})
    assert not result.ok

    trace = get_trace(result.trace_id)
    calls = find(trace["spans"], "ask")["children"]
    assert calls and all(c["status"] == "ERROR" and c["span_type"] == "LLM" for c in calls)
    assert "AuthenticationError" in calls[0]["status_message"]
    assert calls[0]["attributes"]["error.type"] == "AuthenticationError"
    assert calls[0]["events"][0]["name"] == "exception"
    assert find(trace["spans"], "ask")["status"] == "ERROR" and trace["line_run"]["status"] == "Failed"


STREAMING_FLOW = {"ask.jinja2": QA_FLOW["ask.jinja2"], "flow.dag.yaml": """
    inputs:
      question: {type: string}
    outputs:
      answer: {reference: "${ask.output}"}
    nodes:
    - name: ask
      type: llm
      source: {type: code, path: ask.jinja2}
      inputs: {model: gpt-4o, question: "${inputs.question}"}
      connection: open_ai_connection
      api: chat
    """}


def streaming_flow(make_flow, server):
    connection = OpenAIConnection(api_key=SECRET, base_url=server.base_url, name="open_ai_connection")
    return load_flow(make_flow(STREAMING_FLOW, name="streaming"), connections={"open_ai_connection": connection})


def test_a_streamed_llm_span_ends_when_the_stream_is_consumed(make_flow, server, tracing):
    flow = streaming_flow(make_flow, server)

    async def ask():
        line = await flow.arun({"question": "What is the capital of Chile?"}, stream=True)
        pieces = [piece async for piece in line.outputs["answer"]]
        return line, "".join(pieces)

    line, answer = run_sync(ask())  # closes the loop's pooled LLM clients, as pfl does
    assert answer == "The capital of Chile is scripted, and that is all I know."
    [call] = find(get_trace(line.trace_id)["spans"], "ask")["children"]
    assert call["status"] == "OK" and call["attributes"]["gen_ai.request.stream"] is True
    assert call["output"] == answer and call["attributes"]["output_type"] == "iterated"
    assert call["end_time"] > find(get_trace(line.trace_id)["spans"], "ask")["end_time"]


def test_a_single_node_test_is_a_trace_of_the_node_and_its_model_call(make_flow, server, tracing):
    from promptflow_lite.engine._flow_test import run_flow_test

    connections = {"open_ai_connection": OpenAIConnection(api_key=SECRET, base_url=server.base_url,
                                                          name="open_ai_connection")}
    folder = make_flow(QA_FLOW, name="qa")
    outcome = run_flow_test(folder, {"question": "What is the capital of Peru?"}, node="ask", connections=connections)
    assert outcome.ok, outcome.error
    usage = replay(server, server.requests[-1])["usage"]

    trace = get_trace(outcome.trace_id)
    [node] = trace["spans"]
    assert (node["name"], node["attributes"]["node_type"], node["status"]) == ("ask", "llm", "OK")
    [call] = node["children"]
    assert call["span_type"] == "LLM" and call["attributes"]["llm.usage.total_tokens"] == usage["total_tokens"] > 0
    assert node["attributes"]["__computed__.cumulative_token_count.total"] == usage["total_tokens"]
    assert (trace["line_run"]["flow"], trace["line_run"]["total_tokens"]) == ("ask", usage["total_tokens"])

    outcome = run_flow_test(folder, {"country": " chile "}, node="topic", connections=connections)
    [node] = get_trace(outcome.trace_id)["spans"]
    assert (node["name"], node["output"], node["children"]) == ("topic", "Chile", [])


def test_a_stream_dropped_unread_is_not_an_error_span(make_flow, server, tracing):
    import gc

    flow = streaming_flow(make_flow, server)

    async def ask_and_drop():
        return (await flow.arun({"question": "What is the capital of Chile?"}, stream=True)).trace_id

    trace_id = run_sync(ask_and_drop())
    gc.collect()  # the unread stream is gone: its model call ends
    [call] = find(get_trace(trace_id)["spans"], "ask")["children"]
    assert (call["status"], call["events"]) == ("OK", [])


# what other trace viewers (Arize Phoenix, any OpenInference or GenAI reader) get over OTLP -------------
ANSWER = "The capital of France is scripted, and that is all I know."


@pytest.fixture
def exported(collector, monkeypatch):
    """Tracing on with the collection "geography"; spans go to ``collector`` too."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint)
    assert enable_tracing("geography")
    yield collector
    disable_tracing()


def test_over_otlp_llm_spans_carry_messages_model_and_tokens(qa, server, exported):
    result = qa.run({"country": " france "})
    assert result.ok and result.outputs["answer"] == ANSWER and flush_tracing()
    [request] = [r for r in server.requests if r["path"].endswith("/chat/completions")]
    usage = replay(server, request)["usage"]

    spans = {span["name"]: span for span in exported.spans}
    assert {span["resource"]["openinference.project.name"] for span in spans.values()} == {"geography"}
    kinds = {name: span["attributes"]["openinference.span.kind"] for name, span in spans.items()}
    assert kinds == {"qa": "CHAIN", "topic": "TOOL", "question": "PROMPT", "ask": "CHAIN", "embed": "TOOL",
                     "chat gpt-4o-mini": "LLM", "embeddings text-embedding-3-small": "EMBEDDING"}
    assert spans["question"]["attributes"]["output.value"] == "What is the capital of France?"
    assert spans["ask"]["attributes"]["output.value"] == ANSWER

    llm = spans["chat gpt-4o-mini"]["attributes"]
    assert (llm["llm.model_name"], llm["llm.provider"], llm["llm.system"]) == ("gpt-4o-mini", "openai", "openai")
    messages = request["body"]["messages"]
    assert [m["role"] for m in messages] == ["system", "user"]
    for index, message in enumerate(messages):
        assert llm[f"llm.input_messages.{index}.message.role"] == message["role"]
        assert llm[f"llm.input_messages.{index}.message.content"] == message["content"]
    assert (llm["llm.output_messages.0.message.role"], llm["llm.output_messages.0.message.content"]) == (
        "assistant", ANSWER)
    parameters = json.loads(llm["llm.invocation_parameters"])
    assert parameters == {key: value for key, value in request["body"].items() if key != "messages"}
    assert (parameters["model"], parameters["temperature"], parameters["max_tokens"]) == ("gpt-4o-mini", 0.2, 50)
    assert (llm["llm.token_count.prompt"], llm["llm.token_count.completion"], llm["llm.token_count.total"]) == (
        usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"])
    assert "llm.token_count.estimated" not in llm
    # the GenAI semantic conventions' content attributes
    assert json.loads(llm["gen_ai.input.messages"]) == [
        {"role": m["role"], "parts": [{"type": "text", "content": m["content"]}]} for m in messages]
    assert json.loads(llm["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": ANSWER}], "finish_reason": "stop"}]

    embedding = spans["embeddings text-embedding-3-small"]["attributes"]
    assert embedding["embedding.model_name"] == "text-embedding-3-small"
    assert embedding["embedding.embeddings.0.embedding.text"] == "What is the capital of France?"
    assert embedding["llm.token_count.prompt"] > 0
    assert SECRET not in json.dumps(exported.spans)


def test_a_streamed_call_without_usage_gets_estimated_tokens(make_flow, server, exported, capsys):
    flow = streaming_flow(make_flow, server)

    async def ask():
        line = await flow.arun({"question": "What is the capital of Chile?"}, stream=True)
        return line, "".join([piece async for piece in line.outputs["answer"]])

    line, answer = run_sync(ask())
    assert flush_tracing()
    [request] = [r for r in server.requests if r["path"].endswith("/chat/completions")]
    assert request["body"]["stream"] is True and "stream_options" not in request["body"]  # no usage comes back

    [call] = find(get_trace(line.trace_id)["spans"], "ask")["children"]
    stored = call["attributes"]
    assert stored["llm.usage.estimated"] is True  # labelled in the local store
    prompt, completion = stored["llm.usage.prompt_tokens"], stored["llm.usage.completion_tokens"]
    assert prompt > len(" ".join(m["content"] for m in request["body"]["messages"]).split())
    assert completion >= len(answer.split())  # at least one token per streamed word
    assert stored["llm.usage.total_tokens"] == prompt + completion

    assert pfl(["trace", "show", line.trace_id]) == 0
    assert f"{prompt + completion} tokens ({prompt} prompt + {completion} completion, estimated)" in \
        capsys.readouterr().out

    [sent] = [s["attributes"] for s in exported.spans if s["name"] == "chat gpt-4o"]
    assert sent["llm.token_count.estimated"] is True and sent["llm.token_count.total"] == prompt + completion
    assert sent["llm.output_messages.0.message.content"] == answer
    assert (sent["output.value"], sent["output.mime_type"]) == (answer, "text/plain")
