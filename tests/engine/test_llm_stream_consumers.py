"""An LLM node's stream read by other nodes (FLOW_FORMAT §2.3): a sync generator of text chunks, as in promptflow.

promptflow's LLM tools stream a sync generator, so downstream python tools (sync or async) use a plain
``for`` and jinja templates iterate it. The answers come from the scripted OpenAI server over HTTP.
"""

from __future__ import annotations


import pytest

from promptflow_lite.cli.main import main as pfl
from promptflow_lite.connections._types import OpenAIConnection
from promptflow_lite.engine import load_flow, run_sync
from promptflow_lite.serve import ServerThread, create_app
from promptflow_lite.serve._client import ScoreClient
from promptflow_lite.testing import ScriptedServer
from promptflow_lite.tracing import disable_tracing, enable_tracing, get_trace

RULES = [{"match": "capital of (\\w+)", "reply": "The capital of \\1 is scripted, in a few words."}]
ANSWER = "The capital of Chile is scripted, in a few words."
ASK = """
- name: ask
  type: llm
  source: {type: code, path: ask.jinja2}
  inputs: {model: gpt-4o, question: "${inputs.question}", stream: true}
  connection: open_ai_connection
  api: chat
"""
CONSUMERS = {
    "ask.jinja2": "# system:\nAnswer briefly.\n# user:\n{{question}}\n",
    "join.py": """
        from promptflow.core import tool

        @tool
        def join(chunks) -> dict:
            return {"type": type(chunks).__name__, "text": "".join(chunks)}
        """,
    "count.py": """
        from promptflow.core import tool

        @tool
        async def count(chunks) -> int:
            pieces = []
            for chunk in chunks:
                pieces.append(chunk)
            return len([p for p in pieces if p])
        """,
    "render.jinja2": "{% for chunk in chunks %}{{ chunk }}{% endfor %}",
    "flow.dag.yaml": """
        inputs:
          question: {type: string}
        outputs:
          joined: {reference: "${join.output.text}"}
          type: {reference: "${join.output.type}"}
          pieces: {reference: "${count.output}"}
          rendered: {reference: "${render.output}"}
          answer: {reference: "${ask.output}"}
        nodes:
        """ + ASK.replace("\n", "\n        ") + """
        - {name: join, type: python, source: {type: code, path: join.py}, inputs: {chunks: "${ask.output}"}}
        - {name: count, type: python, source: {type: code, path: count.py}, inputs: {chunks: "${ask.output}"}}
        - {name: render, type: prompt, source: {type: code, path: render.jinja2}, inputs: {chunks: "${ask.output}"}}
        """,
}


@pytest.fixture
def server():
    with ScriptedServer(rules=RULES) as scripted:
        yield scripted


@pytest.fixture
def connections(server):
    return {"open_ai_connection": OpenAIConnection(api_key="sk-x", base_url=server.base_url, name="open_ai_connection")}


@pytest.fixture
def tracing():
    assert enable_tracing()
    yield
    disable_tracing()


def check(outputs: dict) -> None:
    assert outputs["joined"] == outputs["rendered"] == outputs["answer"] == ANSWER
    assert outputs["type"] == "generator" and outputs["pieces"] > 1


def test_sync_async_and_template_nodes_iterate_the_stream_of_one_request(make_flow, server, connections):
    flow = load_flow(make_flow(CONSUMERS), connections=connections)
    result = flow.run({"question": "What is the capital of Chile?"})
    assert result.ok, result.error
    check(result.outputs)
    [request] = server.requests
    assert request["body"]["stream"] is True  # one streamed call, read once for three nodes and the output


def test_many_lines_with_the_sync_tool_inline_on_the_loop(make_flow, server, connections):
    flow = load_flow(make_flow(CONSUMERS), connections=connections)
    for _ in range(12):  # cheap sync tools move onto the event loop after a few calls (engine.dispatch)
        check(flow(question="What is the capital of Chile?"))


def test_a_line_run_with_streaming_requested(make_flow, connections):
    flow = load_flow(make_flow(CONSUMERS), connections=connections)

    async def line():
        result = await flow.arun({"question": "What is the capital of Chile?"}, stream=True)
        assert result.ok, result.error
        return {k: v if isinstance(v, (str, int)) else "".join(v) for k, v in result.outputs.items()}

    check(run_sync(line()))


def test_the_streamed_llm_span_ends_with_the_joined_text(make_flow, connections, tracing):
    flow = load_flow(make_flow(CONSUMERS), connections=connections)
    result = flow.run({"question": "What is the capital of Chile?"})
    assert result.ok, result.error
    spans = {span["name"]: span for span in get_trace(result.trace_id)["spans"][0]["children"]}
    assert {name: span["status"] for name, span in spans.items()} == dict.fromkeys(
        ["ask", "join", "count", "render"], "OK")
    [call] = spans["ask"]["children"]
    assert call["status"] == "OK" and call["attributes"]["gen_ai.request.stream"] is True
    assert call["output"] == ANSWER and call["attributes"]["output_type"] == "iterated"


def test_flow_test_with_stream_prints_the_outputs(make_flow, server, scripted_connections, capsys):
    scripted_connections(server)
    folder = make_flow(CONSUMERS)
    assert pfl(["flow", "test", "--flow", str(folder), "--stream",
                "--inputs", "question=What is the capital of Chile?"]) == 0
    out = capsys.readouterr().out
    assert f"joined: {ANSWER}\n" in out and f"answer: {ANSWER}\n" in out and "type: generator\n" in out


def test_serving_streams_the_output_and_joins_for_the_python_node(make_flow, server, connections):
    files = {**CONSUMERS, "flow.dag.yaml": """
        inputs:
          question: {type: string}
        outputs:
          joined: {reference: "${join.output.text}"}
          streamed: {reference: "${direct.output}"}
        nodes:
        """ + ASK.replace("\n", "\n        ") + """
        - {name: join, type: python, source: {type: code, path: join.py}, inputs: {chunks: "${ask.output}"}}
        - name: direct
          type: llm
          source: {type: code, path: ask.jinja2}
          inputs: {model: gpt-4o, question: "${inputs.question}"}
          connection: open_ai_connection
          api: chat
        """}
    app = ServerThread(create_app(make_flow(files), connections=connections)).start()
    try:
        client = ScoreClient(app.url)
        events = list(client.stream({"question": "What is the capital of Chile?"}))
        assert client.score({"question": "What is the capital of Chile?"}) == {"joined": ANSWER, "streamed": ANSWER}
    finally:
        app.stop()
    assert events[0] == {"joined": ANSWER}  # the joined text is a plain output...
    pieces = [event["streamed"] for event in events[1:]]
    assert len(pieces) > 1 and "".join(pieces) == ANSWER  # ...while the output node still streams


USER_STREAMS = {
    "words.py": """
        from promptflow.core import tool

        @tool
        async def words(text: str):
            for word in text.split():
                yield word
        """,
    "async_reader.py": """
        from promptflow.core import tool

        @tool
        async def async_reader(words) -> str:
            return type(words).__name__ + ":" + ",".join([w async for w in words])
        """,
    "sync_reader.py": """
        from promptflow.core import tool

        @tool
        def sync_reader(words) -> str:
            return type(words).__name__ + ":" + ",".join(words)
        """,
    "flow.dag.yaml": """
        inputs:
          text: {type: string}
        outputs:
          a: {reference: "${a.output}"}
          s: {reference: "${s.output}"}
        nodes:
        - {name: w1, type: python, source: {type: code, path: words.py}, inputs: {text: "${inputs.text}"}}
        - {name: w2, type: python, source: {type: code, path: words.py}, inputs: {text: "${inputs.text}"}}
        - {name: a, type: python, source: {type: code, path: async_reader.py}, inputs: {words: "${w1.output}"}}
        - {name: s, type: python, source: {type: code, path: sync_reader.py}, inputs: {words: "${w2.output}"}}
        """,
}


def test_a_user_async_generator_stays_async_for_a_user_async_tool(make_flow):
    flow = load_flow(make_flow(USER_STREAMS, name="user_streams"))
    assert flow(text="one two three") == {"a": "async_generator:one,two,three", "s": "generator:one,two,three"}
