"""`create_app`: a flow served over real HTTP (uvicorn on a free port), called like a client would."""

from __future__ import annotations

import json
import threading

import pytest

from promptflow_lite.serve._client import ScoreError

ECHO_FLOW = {
    "flow.dag.yaml": """
        inputs:
          text:
            type: string
            description: what to repeat
          times:
            type: int
            default: 2
        outputs:
          repeated:
            type: string
            reference: ${repeat.output}
          length:
            type: int
            reference: ${measure.output}
          gold:
            type: string
            reference: ${inputs.text}
            evaluation_only: true
        nodes:
        - name: repeat
          type: python
          source: {type: code, path: repeat.py}
          inputs:
            text: ${inputs.text}
            times: ${inputs.times}
        - name: measure
          type: python
          source: {type: code, path: measure.py}
          inputs:
            text: ${repeat.output}
    """,
    "repeat.py": """
        from promptflow import tool

        @tool
        def repeat(text: str, times: int) -> str:
            if text == "boom":
                raise ValueError("cannot repeat a boom")
            return text * times
    """,
    "measure.py": """
        from promptflow import tool

        @tool
        def measure(text: str) -> int:
            return len(text)
    """,
}


def test_score_returns_outputs_without_evaluation_only_ones(make_flow, serve):
    client = serve(make_flow(ECHO_FLOW))

    assert client.score({"text": "ab", "times": 3}) == {"repeated": "ababab", "length": 6}
    assert client.score({"text": "ab"}) == {"repeated": "abab", "length": 4}  # default applied


def test_request_id_is_echoed_or_made(make_flow, serve):
    client = serve(make_flow(ECHO_FLOW))

    status, headers, _ = client.request("POST", "/score", {"text": "a"}, {"x-request-id": "req-42"})
    assert (status, headers["x-request-id"]) == (200, "req-42")
    status, headers, _ = client.request("POST", "/score", {"text": "a"})
    assert status == 200 and len(headers["x-request-id"]) == 32


def test_missing_input_is_a_400_naming_it(make_flow, serve):
    client = serve(make_flow(ECHO_FLOW))

    with pytest.raises(ScoreError) as caught:
        client.score({"times": 1})
    assert caught.value.status == 400
    error = caught.value.body["error"]
    assert error["code"] == "UserError"
    assert "'text'" in error["message"] and "missing" in error["message"]


def test_wrong_input_type_is_a_400(make_flow, serve):
    client = serve(make_flow(ECHO_FLOW))

    with pytest.raises(ScoreError) as caught:
        client.score({"text": "a", "times": "many"})
    assert caught.value.status == 400
    assert "'times'" in caught.value.body["error"]["message"]


def test_tool_exception_is_a_user_error_without_stack_trace(make_flow, serve):
    client = serve(make_flow(ECHO_FLOW))

    status, _, body = client.request("POST", "/score", {"text": "boom"})

    assert status == 400
    assert body["error"]["code"] == "UserError"
    assert "cannot repeat a boom" in body["error"]["message"]
    assert body["error"]["innerError"]["code"] == "ToolExecutionError"
    assert "Traceback" not in json.dumps(body)


def test_raw_body_is_the_single_input(make_flow, serve):
    flow = make_flow({
        "flow.dag.yaml": """
            inputs:
              question: {type: string}
            outputs:
              answer: {type: string, reference: "${shout.output}"}
            nodes:
            - name: shout
              type: python
              source: {type: code, path: shout.py}
              inputs: {text: "${inputs.question}"}
        """,
        "shout.py": """
            from promptflow import tool

            @tool
            def shout(text: str) -> str:
                return text.upper()
        """})
    client = serve(flow)

    assert client.score("where is the station?") == {"answer": "WHERE IS THE STATION?"}
    assert client.score({"question": "json too"}) == {"answer": "JSON TOO"}


def test_non_json_body_with_several_inputs_is_a_400(make_flow, serve):
    client = serve(make_flow(ECHO_FLOW))

    status, _, body = client.request("POST", "/score", "just text")

    assert status == 400
    assert body["error"]["innerError"]["code"] == "JsonPayloadRequiredForMultipleInputFields"
    assert "text, times" in body["error"]["message"]


def test_included_fields_env_limits_the_response(make_flow, serve, monkeypatch):
    monkeypatch.setenv("PROMPTFLOW_RESPONSE_INCLUDED_FIELDS", '["length", "gold"]')
    client = serve(make_flow(ECHO_FLOW))

    assert client.score({"text": "abc"}) == {"length": 6, "gold": "abc"}


def test_accept_without_json_or_event_stream_is_406(make_flow, serve):
    client = serve(make_flow(ECHO_FLOW))

    status, _, body = client.request("POST", "/score", {"text": "a"}, {"accept": "text/html"})

    assert status == 406
    assert body["error"]["innerError"]["code"] == "NotAcceptable"
    status, _, _ = client.request("POST", "/score", {"text": "a"}, {"accept": "text/html, application/json;q=0.5"})
    assert status == 200


def test_event_stream_of_a_flow_without_streams_is_one_event(make_flow, serve):
    client = serve(make_flow(ECHO_FLOW))

    assert list(client.stream({"text": "ab"})) == [{"repeated": "abab", "length": 4}]


def test_swagger_describes_inputs_outputs_and_example(make_flow, serve):
    files = dict(ECHO_FLOW, **{"samples.json": '[{"text": "hello", "times": 1}]'})
    client = serve(make_flow(files, name="echo"))

    status, _, swagger = client.request("GET", "/swagger.json")

    assert status == 200 and swagger["openapi"].startswith("3.")
    assert swagger["info"]["x-flow-name"] == "echo"
    body = swagger["paths"]["/score"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["properties"] == {"text": {"type": "string", "description": "what to repeat"},
                                            "times": {"type": "integer", "default": 2}}
    assert body["schema"]["required"] == ["text"]
    assert body["example"] == {"text": "hello", "times": 1}
    response = swagger["paths"]["/score"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert response["properties"] == {"repeated": {"type": "string"}, "length": {"type": "integer"}}
    assert "/feedback" in swagger["paths"]


def test_swagger_marks_a_chat_flow(make_flow, serve):
    flow = make_flow({
        "flow.dag.yaml": """
            inputs:
              chat_history: {type: list}
              question: {type: string, is_chat_input: true}
            outputs:
              answer: {type: string, reference: "${reply.output}", is_chat_output: true}
            nodes:
            - name: reply
              type: python
              source: {type: code, path: reply.py}
              inputs: {question: "${inputs.question}", chat_history: "${inputs.chat_history}"}
        """,
        "reply.py": """
            from promptflow import tool

            @tool
            def reply(question: str, chat_history: list) -> str:
                return f"turn {len(chat_history) + 1}: {question}"
        """})
    client = serve(flow)

    info = client.request("GET", "/swagger.json")[2]["info"]

    assert (info["x-flow-type"], info["x-chat-input"], info["x-chat-history"], info["x-chat-output"]) == \
        ("chat", "question", "chat_history", "answer")
    assert client.score({"question": "hi"}) == {"answer": "turn 1: hi"}  # no history yet: []
    history = [{"inputs": {"question": "hi"}, "outputs": {"answer": "turn 1: hi"}}]
    assert client.score({"question": "again", "chat_history": history}) == {"answer": "turn 2: again"}


def test_health_and_version(make_flow, serve, monkeypatch):
    from promptflow_lite._version import __version__

    monkeypatch.setenv("BUILD_INFO", '{"build_number": "20260101.1"}')
    client = serve(make_flow(ECHO_FLOW))

    assert client.request("GET", "/health")[2] == {"status": "Healthy", "version": __version__}
    version = client.request("GET", "/version")[2]
    assert (version["status"], version["version"]) == ("Healthy", "20260101.1")


def test_python_generator_output_streams_chunk_by_chunk(make_flow, serve, tmp_path):
    """The second chunk is only produced after the client has received the first one."""
    go = tmp_path / "go"
    flow = make_flow({
        "flow.dag.yaml": """
            inputs:
              go_file: {type: string}
            outputs:
              status: {type: string, reference: "ready"}
              words: {type: string, reference: "${words.output}"}
            nodes:
            - name: words
              type: python
              source: {type: code, path: words.py}
              inputs: {go_file: "${inputs.go_file}"}
        """,
        "words.py": """
            import os, time
            from promptflow import tool

            @tool
            def words(go_file: str):
                yield "first "
                deadline = time.time() + 30
                while not os.path.exists(go_file) and time.time() < deadline:
                    time.sleep(0.01)
                yield "second"
        """})
    client = serve(flow)

    events = client.stream({"go_file": str(go)})
    assert next(events) == {"status": "ready"}
    assert next(events) == {"words": "first "}
    go.write_text("go")
    assert list(events) == [{"words": "second"}]
    assert client.score({"go_file": str(go)}) == {"status": "ready", "words": "first second"}  # joined for JSON


def test_flex_flow_outputs(tmp_path, serve):
    folder = tmp_path / "flex"
    folder.mkdir()
    (folder / "flow.flex.yaml").write_text("entry: greet:greet\n")
    (folder / "greet.py").write_text("def greet(name: str, punctuation: str = '!'):\n"
                                     "    return f'Hello {name}{punctuation}'\n")
    (folder / "both.flex.yaml").write_text("entry: both:both\n")
    (folder / "both.py").write_text("def both(name: str) -> dict:\n    return {'upper': name.upper(), 'size': len(name)}\n")

    assert serve(folder / "flow.flex.yaml").score({"name": "Ada"}) == "Hello Ada!"  # a bare value, as promptflow
    assert serve(folder / "both.flex.yaml").score("Ada") == {"upper": "ADA", "size": 3}


def test_requests_run_concurrently_on_one_loaded_flow(make_flow, serve, tmp_path):
    """Eight requests wait for each other inside the flow: they only finish if all run at once."""
    flow = make_flow({
        "flow.dag.yaml": """
            inputs:
              barrier_dir: {type: string}
              me: {type: int}
            outputs:
              seen: {type: int, reference: "${meet.output}"}
            nodes:
            - name: meet
              type: python
              source: {type: code, path: meet.py}
              inputs: {barrier_dir: "${inputs.barrier_dir}", me: "${inputs.me}"}
        """,
        "meet.py": """
            import os, time
            from promptflow import tool

            @tool
            def meet(barrier_dir: str, me: int) -> int:
                open(os.path.join(barrier_dir, str(me)), "w").close()
                deadline = time.time() + 30
                while len(os.listdir(barrier_dir)) < 8 and time.time() < deadline:
                    time.sleep(0.01)
                return len(os.listdir(barrier_dir))
        """})
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    client = serve(flow)
    answers: list = []

    threads = [threading.Thread(target=lambda i=i: answers.append(client.score({"barrier_dir": str(barrier), "me": i})))
               for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert answers == [{"seen": 8}] * 8


def test_client_leaving_mid_stream_closes_the_generator(make_flow, serve, tmp_path):
    import http.client
    import time

    closed = tmp_path / "closed"
    flow = make_flow({
        "flow.dag.yaml": """
            inputs:
              marker: {type: string}
            outputs:
              ticks: {type: string, reference: "${ticks.output}"}
            nodes:
            - name: ticks
              type: python
              source: {type: code, path: ticks.py}
              inputs: {marker: "${inputs.marker}"}
        """,
        "ticks.py": """
            import asyncio
            from pathlib import Path
            from promptflow import tool

            @tool
            async def ticks(marker: str):
                try:
                    count = 0
                    while True:  # endless: only the client going away ends it
                        yield f"tick {count} "
                        count += 1
                        await asyncio.sleep(0.005)
                finally:
                    Path(marker).write_text("closed")
        """})
    client = serve(flow)
    conn = http.client.HTTPConnection(client.host, client.port, timeout=30)
    conn.request("POST", "/score", body=json.dumps({"marker": str(closed)}), headers={"accept": "text/event-stream"})
    response = conn.getresponse()
    assert response.readline() == b'data: {"ticks":"tick 0 "}\n'

    conn.close()

    def marker() -> str:  # the file may exist a moment before its text is written
        return closed.read_text() if closed.exists() else ""

    deadline = time.time() + 20
    while marker() != "closed" and time.time() < deadline:
        time.sleep(0.05)
    assert marker() == "closed"
    assert client.request("GET", "/health")[0] == 200


def test_flow_without_declared_inputs(tmp_path, serve):
    folder = tmp_path / "kw"
    folder.mkdir()
    (folder / "flow.flex.yaml").write_text("entry: keys:keys\n")
    (folder / "keys.py").write_text("def keys(**kwargs) -> dict:\n    return {'keys': sorted(kwargs)}\n")
    client = serve(folder)

    assert client.score({"b": 1, "a": 2}) == {"keys": []}  # as in promptflow: **kwargs gets no line keys
    assert client.score("not json") == {"keys": []}
