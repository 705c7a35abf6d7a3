"""A served flow protects itself: API key, hostile bodies, line slots, timeouts, clients that leave (real HTTP)."""

from __future__ import annotations

import http.client
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from promptflow_lite.connections._types import OpenAIConnection
from promptflow_lite.serve import ServerThread, ServeSettings, create_app
from promptflow_lite.serve._client import ScoreClient
from promptflow_lite.testing import Rule, ScriptedServer

from _served import ASK_FLOW

KEY = "k3y-for-tests-0123456789"
ECHO_FLOW = {
    "flow.dag.yaml": """
        inputs:
          text: {type: string}
          times: {type: int, default: 2}
        outputs:
          repeated: {type: string, reference: "${repeat.output}"}
        nodes:
        - name: repeat
          type: python
          source: {type: code, path: repeat.py}
          inputs: {text: "${inputs.text}", times: "${inputs.times}"}
    """,
    "repeat.py": """
        from promptflow import tool

        @tool
        def repeat(text: str, times: int) -> str:
            return text * times
    """,
}
TWO_CALLS_FLOW = {
    "first.jinja2": "# user:\n{{question}}\n",
    "second.jinja2": "# user:\nsecond opinion on {{answer}}\n",
    "flow.dag.yaml": """
        inputs:
          question: {type: string}
        outputs:
          answer: {type: string, reference: "${second.output}"}
        nodes:
        - name: first
          type: llm
          source: {type: code, path: first.jinja2}
          inputs: {model: gpt-4o-mini, question: "${inputs.question}"}
          connection: open_ai_connection
          api: chat
        - name: second
          type: llm
          source: {type: code, path: second.jinja2}
          inputs: {model: gpt-4o-mini, answer: "${first.output}"}
          connection: open_ai_connection
          api: chat
    """,
}


@pytest.fixture
def llm():
    with ScriptedServer(rules=[Rule("slow", "a slow answer", latency_ms=60_000), Rule("second opinion", "agreed"),
                               Rule(".", "a quick answer")]) as server:
        yield server


def llm_app(make_flow, llm, files=TWO_CALLS_FLOW, **settings):
    connections = {"open_ai_connection": OpenAIConnection(api_key="x", base_url=llm.base_url)}
    return create_app(make_flow(files), connections=connections, settings=ServeSettings(**settings))


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def test_api_key_is_required_everywhere_but_health(make_flow, serve):
    client = serve(make_flow(ECHO_FLOW), settings=ServeSettings(api_key=KEY))

    for path, method, body in [("/score", "POST", {"text": "a"}), ("/swagger.json", "GET", None),
                               ("/metrics", "GET", None), ("/version", "GET", None), ("/", "GET", None)]:
        status, headers, answer = client.request(method, path, body)
        assert status == 401, path
        assert answer["error"]["code"] == "UserError" and "API key" in answer["error"]["message"]
        assert headers["www-authenticate"].startswith("Bearer")
        assert client.request(method, path, body, bearer("wrong-" + KEY))[0] == 401
        assert client.request(method, path, body, {"authorization": KEY})[0] == 401  # no scheme
    assert client.request("GET", "/health")[0] == 200
    assert client.score({"text": "ab"}, headers=bearer(KEY)) == {"repeated": "abab"}
    assert client.request("GET", "/metrics", None, bearer(KEY))[0] == 200


def test_api_key_never_reaches_traces_or_answers(make_flow, pfl_home):
    """Even a flow that echoes the key leaves no trace of it in the trace store or its answer."""
    from promptflow_lite.tracing._store import TraceStore

    with ServerThread(create_app(make_flow(ECHO_FLOW), settings=ServeSettings(api_key=KEY), trace_store=True)) as server:
        client = ScoreClient(server.url)
        answer = client.score({"text": KEY}, headers=bearer(KEY))
        assert KEY not in answer["repeated"]  # masked in the answer too
    # stopping the server wrote the pending spans

    store = TraceStore()
    assert store.line_runs(), "the request was traced"
    assert KEY.encode() not in b"".join(p.read_bytes() for p in store.path.parent.glob("traces.sqlite*"))


HOSTILE = [
    # (body, content type, expected status)
    (b"{not json", "application/json", 400),  # one input expects a string? no: two inputs need an object
    (b"null", "application/json", 400),
    (b"[1, 2, 3]", "application/json", 400),
    (b'"just a string"', "application/json", 400),
    (b"42", "application/json", 400),
    (b"{}", "application/json", 400),  # missing required input
    (b'{"times": 3}', "application/json", 400),
    (b'{"text": "a", "times": "many"}', "application/json", 400),
    (b'{"text": "a", "times": [1]}', "application/json", 400),
    (b'{"text": "a", "times": {"n": 1}}', "application/json", 400),
    (b'{"text": "a", "times": 1e400}', "application/json", 400),
    (b'{"text": "a", "times": NaN}', "application/json", 400),
    (b'{"text": "a", "times": Infinity}', "application/json", 400),
    (b'{"text": "\\ud800"}', "application/json", 400),
    (b'{"text": ' + b"[" * 100 + b"]" * 100 + b"}", "application/json", 400),
    (b"[" * 100_000, "application/json", 400),
    (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "application/json", 400),
    (b'{"text": "a"}', "application/xml", 415),
    (b'{"text": "a"}', "multipart/form-data; boundary=x", 415),
    (b"text=a&times=2", "application/x-www-form-urlencoded", 415),
    (b'{"text": "a"}', "image/png", 415),
    (b"\xff\xfe\x00garbage", "application/octet-stream", 415),
    (b"x" * (20 * 1024 * 1024), "application/json", 413),
]


def test_fifty_hostile_requests_get_the_right_4xx_and_the_server_stays_up(make_flow, serve):
    client = serve(make_flow(ECHO_FLOW))

    for body, content_type, expected in (HOSTILE * 3)[:50]:
        status, _, answer = client.request("POST", "/score", body, {"content-type": content_type})
        assert status == expected, (body[:60], content_type, answer)
        assert set(answer) == {"error"} and answer["error"]["message"]
        assert client.score({"text": "ok"}) == {"repeated": "okok"}
    assert client.request("POST", "/score", {"text": "a"}, {"accept": "image/png"})[0] == 406


def test_twenty_megabytes_are_refused_while_being_sent(make_flow, serve):
    """A body without Content-Length (chunked) is counted as it comes and refused past the limit."""
    client = serve(make_flow(ECHO_FLOW), settings=ServeSettings(max_body_bytes=1024 * 1024))
    conn = http.client.HTTPConnection(client.host, client.port, timeout=60)

    def chunks():
        for _ in range(20):
            yield b"x" * (1024 * 1024)

    try:
        conn.request("POST", "/score", body=chunks(), headers={"content-type": "application/json"},
                     encode_chunked=True)
        response = conn.getresponse()
        status, answer = response.status, json.loads(response.read())
    except (BrokenPipeError, ConnectionResetError):
        pytest.fail("the server closed the connection without answering 413")
    finally:
        conn.close()
    assert status == 413 and "1,048,576 bytes" in answer["error"]["message"]
    assert client.score({"text": "b"}) == {"repeated": "bb"}


def test_busy_server_answers_503_with_retry_after_and_loses_nothing(make_flow, llm):
    llm.latency = 0.2
    app = llm_app(make_flow, llm, files=ASK_FLOW, max_concurrency=8)
    with ServerThread(app) as server:
        client = ScoreClient(server.url, timeout=120)

        def ask(i: int) -> tuple[int, dict, object]:
            return client.request("POST", "/score", {"question": f"question {i}"})

        with ThreadPoolExecutor(64) as pool:
            answers = list(pool.map(ask, range(200)))

    statuses = [status for status, _, _ in answers]
    assert len(answers) == 200 and set(statuses) <= {200, 503}, set(statuses)
    assert statuses.count(200) >= 8 and statuses.count(503) >= 1
    for status, headers, body in answers:
        if status == 503:
            assert int(headers["retry-after"]) >= 1 and body["error"]["innerError"]["code"] == "ServerBusy"
        else:
            assert body == {"answer": "a quick answer"}
    assert llm.stats["max_in_flight"] <= 8  # never more lines at once than allowed
    assert llm.stats["requests"] == statuses.count(200)


def test_a_line_past_the_timeout_is_cancelled_with_504(make_flow, llm):
    with ServerThread(llm_app(make_flow, llm, timeout=3)) as server:
        client = ScoreClient(server.url, timeout=60)
        assert client.score({"question": "quick"}) == {"answer": "agreed"}  # the first line imports the client: warm

        status, _, body = client.request("POST", "/score", {"question": "a slow one"})

        assert status == 504 and body["error"]["innerError"]["code"] == "LineTimeoutError"
        assert "pfl flow serve: --timeout" in body["error"]["message"]  # the option that raises it here
        assert client.score({"question": "quick"}) == {"answer": "agreed"}  # alive
    assert llm.stats["paths"]["/v1/chat/completions"] == 5  # both calls of each quick line, the slow line's first


def test_a_client_that_leaves_cancels_its_line(make_flow, llm):
    """The first model call is in flight when the client disconnects: the second is never made."""
    app = llm_app(make_flow, llm)
    with ServerThread(app) as server:
        client = ScoreClient(server.url)
        sock = socket.create_connection((client.host, client.port))
        body = json.dumps({"question": "a slow one"}).encode()
        sock.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        _wait_for(lambda: llm.stats["in_flight"] == 1)
        sock.close()
        _wait_for(lambda: 'pfl_requests_total{flow="flow",status="499"} 1.0' in _metrics(client))

        assert 'pfl_lines_in_flight{flow="flow"} 0.0' in _metrics(client)
        assert client.score({"question": "quick"}) == {"answer": "agreed"}  # alive
    assert llm.stats["requests"] == 3  # the abandoned first call, then the quick line's two: no second call for nobody


def _metrics(client: ScoreClient) -> str:
    return client.request("GET", "/metrics")[2]


def _wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_streamed_answer_cut_at_the_timeout_ends_with_an_error_event(make_flow, serve, tmp_path):
    flow = make_flow({
        "flow.dag.yaml": """
            inputs: {}
            outputs:
              words: {type: string, reference: "${words.output}"}
            nodes:
            - name: words
              type: python
              source: {type: code, path: words.py}
              inputs: {}
        """,
        "words.py": """
            import time
            from promptflow import tool

            @tool
            def words():
                yield "first "
                time.sleep(60)
                yield "never"
        """})
    client = serve(flow, settings=ServeSettings(timeout=1))

    events = list(client.stream({}))

    assert events[0] == {"words": "first "}
    assert events[-1]["error"]["innerError"]["code"] == "LineTimedOut"
    assert client.request("GET", "/health")[0] == 200


def test_settings_are_checked():
    with pytest.raises(Exception, match="max-concurrency must be positive"):
        ServeSettings(max_concurrency=0)
    with pytest.raises(Exception, match="API key is empty"):
        ServeSettings(api_key=" ")


def test_every_branch_of_an_abandoned_line_is_cancelled(make_flow, serve, tmp_path):
    """Two async nodes run side by side; when the client leaves, both are cancelled (not left running)."""
    flow = make_flow({
        "flow.dag.yaml": """
            inputs:
              marker_dir: {type: string}
            outputs:
              a: {type: string, reference: "${left.output}"}
              b: {type: string, reference: "${right.output}"}
            nodes:
            - name: left
              type: python
              source: {type: code, path: wait.py}
              inputs: {marker_dir: "${inputs.marker_dir}", name: left}
            - name: right
              type: python
              source: {type: code, path: wait.py}
              inputs: {marker_dir: "${inputs.marker_dir}", name: right}
        """,
        "wait.py": """
            import asyncio
            from pathlib import Path
            from promptflow import tool

            @tool
            async def wait(marker_dir: str, name: str) -> str:
                (Path(marker_dir) / f"{name}.started").touch()
                try:
                    await asyncio.sleep(600)
                except asyncio.CancelledError:
                    (Path(marker_dir) / f"{name}.cancelled").touch()
                    raise
                return name
        """})
    client = serve(flow)
    body = json.dumps({"marker_dir": str(tmp_path)}).encode()
    sock = socket.create_connection((client.host, client.port))
    sock.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    _wait_for(lambda: (tmp_path / "left.started").exists() and (tmp_path / "right.started").exists())
    sock.close()

    _wait_for(lambda: (tmp_path / "left.cancelled").exists() and (tmp_path / "right.cancelled").exists())
    assert 'pfl_lines_in_flight{flow="flow"} 0.0' in _metrics(client)
