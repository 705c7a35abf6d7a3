"""Serving an LLM flow against the scripted OpenAI server: JSON, SSE streaming, concurrency, tracing, feedback."""

from __future__ import annotations

import json
import threading

import pytest

from promptflow_lite.connections._types import OpenAIConnection
from promptflow_lite.serve import ServerThread, create_app
from promptflow_lite.serve._client import ScoreClient, ScoreError
from promptflow_lite.testing import Rule, ScriptedServer

CHAT_FLOW = {
    "chat.jinja2": """
        # system:
        You answer questions about geography.
        {% for item in chat_history %}
        # user:
        {{item.inputs.question}}
        # assistant:
        {{item.outputs.answer}}
        {% endfor %}
        # user:
        {{question}}
    """,
    "flow.dag.yaml": """
        inputs:
          chat_history: {type: list, default: []}
          question: {type: string, is_chat_input: true}
        outputs:
          answer: {type: string, reference: "${chat.output}", is_chat_output: true}
          asked: {type: string, reference: "${inputs.question}"}
        nodes:
        - name: chat
          type: llm
          source: {type: code, path: chat.jinja2}
          inputs:
            model: gpt-4o-mini
            temperature: 0
            chat_history: ${inputs.chat_history}
            question: ${inputs.question}
          connection: open_ai_connection
          api: chat
    """,
}
RULES = [Rule(r"capital of (\w+)\?$", r"The capital of \1 is a scripted city, described in several words."),
         Rule(r"forbidden", status=400, error="This prompt is not allowed.")]
ANSWER = "The capital of Peru is a scripted city, described in several words."
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def llm():
    with ScriptedServer(rules=RULES) as server:
        yield server


@pytest.fixture
def chat(make_flow, llm):
    """A client of the chat flow served on a free port, its LLM answered by the scripted server."""
    connections = {"open_ai_connection": OpenAIConnection(api_key="x", base_url=llm.base_url)}
    server = ServerThread(create_app(make_flow(CHAT_FLOW, name="geo_chat"), connections=connections)).start()
    yield ScoreClient(server.url)
    server.stop()


def test_llm_answer_as_json(chat, llm):
    assert chat.score({"question": "What is the capital of Peru?"}) == {
        "answer": ANSWER, "asked": "What is the capital of Peru?"}
    assert llm.requests[-1]["body"].get("stream") in (None, False)


def test_llm_answer_streams_as_server_sent_events(chat, llm):
    events = list(chat.stream({"question": "What is the capital of Peru?"}))

    assert events[0] == {"asked": "What is the capital of Peru?"}  # the non-stream outputs first
    chunks = [event["answer"] for event in events[1:]]
    assert all(set(event) == {"answer"} for event in events[1:])
    assert len(chunks) > 5  # word by word, not one block
    assert "".join(chunks) == chat.score({"question": "What is the capital of Peru?"})["answer"] == ANSWER
    assert llm.requests[-2]["body"]["stream"] is True  # the model was asked to stream


def test_chat_history_reaches_the_model(chat, llm):
    history = [{"inputs": {"question": "Hi"}, "outputs": {"answer": "Hello, traveller."}}]

    chat.score({"question": "What is the capital of Peru?", "chat_history": history})

    messages = llm.requests[-1]["body"]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[2]["content"] == "Hello, traveller."


def test_llm_error_is_an_error_response(chat):
    with pytest.raises(ScoreError) as caught:
        chat.score({"question": "something forbidden"})

    assert caught.value.status == 400
    assert caught.value.body["error"]["code"] == "UserError"
    assert "This prompt is not allowed." in caught.value.body["error"]["message"]


def test_fifty_requests_overlap_on_one_loaded_flow(chat, llm):
    llm.latency = 0.2
    llm.reset()
    start = threading.Barrier(50)
    answers: list = []

    def ask(country: str) -> None:
        start.wait()
        answers.append(chat.score({"question": f"What is the capital of {country}?"})["answer"])

    threads = [threading.Thread(target=ask, args=(f"Country{i}",)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(answers) == sorted(ANSWER.replace("Peru", f"Country{i}") for i in range(50))
    assert llm.stats["requests"] == 50
    assert llm.stats["max_in_flight"] >= 10  # the model calls overlapped (a serial server: 1)


def test_traceparent_continues_the_callers_trace(make_flow, llm):
    from promptflow_lite.tracing._store import TraceStore

    connections = {"open_ai_connection": OpenAIConnection(api_key="x", base_url=llm.base_url)}
    with ServerThread(create_app(make_flow(CHAT_FLOW), connections=connections, trace_store=True)) as server:
        ScoreClient(server.url).score({"question": "What is the capital of Peru?"},
                                      headers={"traceparent": TRACEPARENT, "x-request-id": "req-7"})
    # stopping the server wrote the pending spans

    spans = TraceStore().spans(["0af7651916cd43dd8448eb211c80319c"])
    line = next(span for span in spans if span["parent_id"] == "b7ad6b7169203331")
    attributes = json.loads(line["attributes"])
    assert attributes["served"] is True and attributes["request_id"] == "req-7"
    assert len(spans) >= 2  # the line span and the model call under it


def test_feedback_is_recorded_in_the_callers_trace(make_flow, llm):
    from promptflow_lite.tracing._store import TraceStore

    connections = {"open_ai_connection": OpenAIConnection(api_key="x", base_url=llm.base_url)}
    with ServerThread(create_app(make_flow(CHAT_FLOW), connections=connections, trace_store=True)) as server:
        client = ScoreClient(server.url)
        status, _, body = client.request("POST", "/feedback", {"thumbs": "up"}, {"traceparent": TRACEPARENT})
        assert (status, body) == (200, {"status": "Feedback received."})
        client.request("POST", "/feedback?flatten=true", {"thumbs": "down", "stars": 2}, {"traceparent": TRACEPARENT})

    feedback = [json.loads(s["attributes"]) for s in TraceStore().spans(["0af7651916cd43dd8448eb211c80319c"])
                if s["name"] == "promptflow-feedback"]
    assert {"feedback": '{"thumbs": "up"}'}.items() <= feedback[0].items()
    assert {"thumbs": "down", "stars": 2}.items() <= feedback[1].items()


PROMPTY = """\
---
name: Geography
model:
  api: chat
  configuration:
    type: openai
    model: gpt-4o-mini
    connection: open_ai_connection
inputs:
  question:
    type: string
---
system:
You answer questions about geography.
user:
{{question}}
"""


def test_prompty_served_answers_with_the_bare_text(tmp_path, llm):
    file = tmp_path / "geo.prompty"
    file.write_text(PROMPTY)
    connections = {"open_ai_connection": OpenAIConnection(api_key="x", base_url=llm.base_url)}

    with ServerThread(create_app(file, connections=connections)) as server:
        client = ScoreClient(server.url)
        swagger = client.request("GET", "/swagger.json")[2]
        answer = client.score("What is the capital of Peru?")  # raw text: the prompty's only input

    assert answer == ANSWER
    assert swagger["info"]["x-flow-name"] == "Geography"
    schema = swagger["paths"]["/score"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"] == {"question": {"type": "string"}} and schema["required"] == ["question"]


SPAWN_WATCH = """
import json, sys
from promptflow_lite.connections._types import OpenAIConnection
from promptflow_lite.serve import ServerThread, create_app
from promptflow_lite.serve._client import ScoreClient

flow, base_url = sys.argv[1:]
app = create_app(flow, connections={"open_ai_connection": OpenAIConnection(api_key="x", base_url=base_url)})
spawned = []
sys.addaudithook(lambda event, args: spawned.append(str(args[1])) if event == "subprocess.Popen" else None)
with ServerThread(app) as server:
    answer = ScoreClient(server.url).score({"question": "What is the capital of Peru?"})
print(json.dumps({"answer": answer["answer"], "spawned": spawned}))
"""


def test_a_served_llm_call_starts_no_child_process(make_flow, llm):
    """The SDK's platform probe (``uname -p``) runs before the server is big, not as a copy of it on the first call."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", SPAWN_WATCH, str(make_flow(CHAT_FLOW)), llm.base_url],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1]) == {"answer": ANSWER, "spawned": []}


STORE_WATCH = """
import json, sys
from promptflow_lite.serve import ServerThread, create_app
from promptflow_lite.serve._client import ScoreClient

with ServerThread(create_app(sys.argv[1])) as server:
    answer = ScoreClient(server.url).score({"question": "What is the capital of Peru?"})
print(json.dumps({"answer": answer["answer"], "cryptography": "cryptography" in sys.modules}))
"""


def test_a_server_reads_its_stored_connections_without_loading_cryptography(make_flow, tmp_path):
    """The encrypted local store is read by a child process: cryptography never loads in the server;
    ``${env:...}`` secrets resolve in the server's environment."""
    import os
    import subprocess
    import sys

    from promptflow_lite.connections._store import ConnectionStore

    with ScriptedServer(rules=RULES, api_key="key-from-env") as llm:
        ConnectionStore().create_or_update(OpenAIConnection(name="open_ai_connection", api_key="${env:GEO_KEY}",
                                                            base_url=llm.base_url))
        proc = subprocess.run([sys.executable, "-c", STORE_WATCH, str(make_flow(CHAT_FLOW))], capture_output=True,
                              text=True, timeout=120, env={**os.environ, "GEO_KEY": "key-from-env"})

    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1]) == {"answer": ANSWER, "cryptography": False}


def test_a_connection_missing_from_the_store_is_the_stores_clear_error(make_flow):
    from promptflow_lite.errors import ConnectionNotFound

    with pytest.raises(ConnectionNotFound, match=r"'open_ai_connection' not found in the local store .*Known connections"):
        create_app(make_flow(CHAT_FLOW))
