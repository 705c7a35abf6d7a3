"""Several flows in one server: each on ``/flows/<name>/``, with its swagger; the CLI's guard options."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from promptflow_lite.serve import ServerThread, create_app
from promptflow_lite.serve._client import ScoreClient

PFL = [sys.executable, "-m", "promptflow_lite.cli.main"]


def python_flow(body: str, inputs: str = "text: {type: string}") -> dict[str, str]:
    return {
        "flow.dag.yaml": f"""
            inputs:
              {inputs}
            outputs:
              out: {{type: string, reference: "${{work.output}}"}}
            nodes:
            - name: work
              type: python
              source: {{type: code, path: work.py}}
              inputs: {{text: "${{inputs.text}}"}}
        """,
        "work.py": f"""
            from promptflow import tool

            @tool
            def work(text: str) -> str:
                return {body}
        """}


@pytest.fixture
def two_flows(make_flow):
    return make_flow(python_flow("text.upper()"), name="shout"), make_flow(python_flow("text[::-1]"), name="mirror")


def test_two_flows_answer_on_their_own_paths(two_flows):
    with ServerThread(create_app(list(two_flows))) as server:
        client = ScoreClient(server.url)

        assert client.request("POST", "/flows/shout/score", {"text": "abc"})[2] == {"out": "ABC"}
        assert client.request("POST", "/flows/mirror/score", {"text": "abc"})[2] == {"out": "cba"}
        assert client.request("POST", "/score", {"text": "abc"})[0] == 404  # which one? none
        assert client.request("POST", "/flows/nope/score", {"text": "abc"})[0] == 404
        own = client.request("GET", "/flows/mirror/swagger.json")[2]
        assert own["info"]["x-flow-name"] == "mirror" and "/score" in own["paths"]
        both = client.request("GET", "/swagger.json")[2]
        assert both["info"]["x-flows"] == ["shout", "mirror"]
        assert {"/flows/shout/score", "/flows/mirror/score", "/flows/mirror/feedback"} <= set(both["paths"])
        metrics = client.request("GET", "/metrics")[2]
        assert 'pfl_requests_total{flow="shout",status="200"} 1.0' in metrics
        assert 'pfl_requests_total{flow="mirror",status="200"} 1.0' in metrics
        assert client.request("GET", "/flows/shout/")[0] == 200  # its try-it page


def test_two_flows_of_one_name_are_refused(make_flow, tmp_path):
    first = make_flow(python_flow("text"), name="a/same")
    second = make_flow(python_flow("text"), name="b/same")

    with pytest.raises(Exception, match="Two flows are named 'same'"):
        create_app([first, second])


def _serve(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen, ScoreClient]:
    proc = subprocess.Popen(PFL + ["flow", "serve", *args, "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **env}, cwd="/")
    line = proc.stdout.readline()
    assert " at http://" in line, (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc, ScoreClient(line.split(" at ", 1)[1].split()[0])


def _stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    return err


def test_cli_serves_several_flows_behind_a_key_from_the_environment(two_flows):
    shout, mirror = two_flows
    proc, client = _serve(["--source", str(shout), "--source", str(mirror), "--api-key-env", "MY_KEY",
                           "--max-concurrency", "4", "--timeout", "30"], {"MY_KEY": "a-key-from-env-123"})
    try:
        key = {"authorization": "Bearer a-key-from-env-123"}
        assert client.request("POST", "/flows/shout/score", {"text": "hi"})[0] == 401
        assert client.request("POST", "/flows/shout/score", {"text": "hi"}, key)[2] == {"out": "HI"}
        assert client.request("POST", "/flows/mirror/score", {"text": "hi"}, key)[2] == {"out": "ih"}
    finally:
        err = _stop(proc)
    assert "a-key-from-env-123" not in err and "WARNING" not in err


def test_cli_warns_loudly_when_listening_beyond_this_machine_without_a_key(two_flows):
    proc, client = _serve(["--source", str(two_flows[0]), "--host", "0.0.0.0"], {"PFL_SERVE_API_KEY": ""})
    try:
        assert client.request("POST", "/score", {"text": "hi"})[2] == {"out": "HI"}
    finally:
        err = _stop(proc)
    assert "WITHOUT AN API KEY" in err and "0.0.0.0" in err


def test_cli_refuses_a_missing_key_variable(two_flows):
    proc = subprocess.run(PFL + ["flow", "serve", "--source", str(two_flows[0]), "--api-key-env", "NOT_SET_ANYWHERE"],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "NOT_SET_ANYWHERE": ""})

    assert proc.returncode == 1 and "NOT_SET_ANYWHERE" in proc.stderr and "Serving" not in proc.stdout
