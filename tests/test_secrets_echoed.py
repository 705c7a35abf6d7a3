"""An endpoint that echoes the API key in its errors: the key never reaches a file, a stream or an HTTP answer.

Each scenario takes the key from another place (a stored connection, ``${env:VAR}``, a ``.env`` the
flow loads itself), runs every command a user would through real ``pfl`` processes against the
scripted server echoing the key (whole or elided, in a 401 and in 500s), then greps every file under
PFL_HOME and the flow folder, every stdout/stderr and every HTTP body for the key and its parts.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from promptflow_lite.serve._client import ScoreClient
from promptflow_lite.testing import ScriptedServer

PFL = [sys.executable, "-m", "promptflow_lite.cli.main"]
SERVER_KEY = "the-one-key-the-server-accepts"


def _llm_flow(input_name: str, output_name: str, prompt: str) -> dict[str, str]:
    """A one-node DAG: an LLM node on the connection ``echo_conn``."""
    return {"flow.dag.yaml": f"""
        inputs: {{{input_name}: {{type: string}}}}
        outputs: {{{output_name}: {{type: string, reference: "${{ask.output}}"}}}}
        nodes:
        - {{name: ask, type: llm, api: chat, connection: echo_conn, source: {{type: code, path: ask.jinja2}},
           inputs: {{model: gpt-4o-mini, {input_name}: "${{inputs.{input_name}}}"}}}}
    """, "ask.jinja2": f"user:\n{prompt} {{{{{input_name}}}}}\n"}


DAG_FLOW = _llm_flow("question", "answer", "Answer:")
EVALUATOR = _llm_flow("answer", "verdict", "Is this right?")
ECHO_FLOW = {  # no LLM: a complete base run for the evaluation run
    "flow.dag.yaml": """
        inputs: {question: {type: string}}
        outputs: {answer: {type: string, reference: "${echo.output}"}}
        nodes:
        - {name: echo, type: python, source: {type: code, path: echo.py}, inputs: {text: "${inputs.question}"}}
    """,
    "echo.py": "from promptflow import tool\n\n\n@tool\ndef echo(text: str) -> str:\n    return text\n",
}
FLEX_FLOW = {  # flow code that loads its own .env, as many flows do with python-dotenv
    "flow.flex.yaml": "entry: ask:ask\n",
    "ask.py": """
        import os
        from pathlib import Path

        import openai

        def ask(question: str) -> str:
            for line in Path(__file__).with_name(".env").read_text().splitlines():
                name, _, value = line.partition("=")
                os.environ[name.strip()] = value.strip()
            headers = {"api-key": os.environ["OPENAI_API_KEY"], "x-note": "Authorization: Bearer " + "x" * 12}
            client = openai.OpenAI(base_url=os.environ["ECHO_BASE_URL"], default_headers=headers, max_retries=0)
            messages = [{"role": "user", "content": question}]
            answer = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
            return answer.choices[0].message.content
    """,
}


@dataclass
class Session:
    """Where a scenario writes, what it saw printed and answered, and how it calls ``pfl``."""

    home: Path
    folders: list[Path]
    env: dict[str, str]
    seen: list[str] = field(default_factory=list)  # every stdout, stderr and HTTP body
    given: set[Path] = field(default_factory=set)  # the files where the test itself wrote the key

    def pfl(self, *args: str, ok: bool | None = None) -> subprocess.CompletedProcess:
        done = subprocess.run(PFL + list(args), capture_output=True, text=True, env=self.env, timeout=600)
        self.seen += [done.stdout, done.stderr]
        if ok is not None:
            assert (done.returncode == 0) == ok, f"pfl {' '.join(args)}: {done.returncode} {done.stdout} {done.stderr}"
        return done

    def leaks(self, key: str) -> list[str]:
        """Where the key, or a telling part of it, shows: file paths, or 'output N'."""
        parts = [key, key[:12], key[-8:], key[12:28]]
        found = [f"output {n}: ...{text[max(text.find(p) - 60, 0):text.find(p) + 40]!r}"
                 for n, text in enumerate(self.seen) for p in parts if p in text]
        for folder in [self.home, *self.folders]:
            for path in folder.rglob("*"):
                if path.is_file() and path not in self.given:
                    data = path.read_bytes()
                    found += [f"{path}: {p}" for p in parts if p.encode() in data]
        return found


def _folder(root: Path, name: str, files: dict[str, str]) -> Path:
    folder = root / name
    folder.mkdir()
    for relative, text in files.items():
        (folder / relative).write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return folder


def _serve(session: Session, flow: Path) -> None:
    """``pfl flow serve``: two /score requests (JSON and event stream), then SIGINT."""
    proc = subprocess.Popen(PFL + ["flow", "serve", "--source", str(flow), "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=session.env)
    try:
        line = proc.stdout.readline()
        url = re.search(r"at (http://\S+) ", line)
        assert url, f"no URL printed: {line!r}"
        client = ScoreClient(url.group(1))
        for accept in ("application/json", "text/event-stream"):
            status, _, body = client.request("POST", "/score", {"question": "Hi?"}, {"accept": accept})
            session.seen.append(json.dumps(body, ensure_ascii=False))
            assert status >= 400 and "error" in body, body  # the flow failed, and said why
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        session.seen += [line, out, err]


@pytest.fixture
def session(tmp_path, pfl_home):
    env = {**os.environ, "PFL_HOME": str(pfl_home), "PFL_LLM_MAX_RETRIES": "1", "PFL_LLM_BACKOFF_SECONDS": "0.01",
           "PFL_TRACE_WRITER": "thread"}
    return Session(pfl_home, [], env)


def _store_connection(session: Session, folder: Path, api_key: str, base_url: str) -> None:
    file = folder / "connection.yaml"
    file.write_text(f"name: echo_conn\ntype: open_ai\napi_key: '{api_key}'\nbase_url: {base_url}\n")
    session.given.add(file)
    session.pfl("connection", "create", "-f", str(file), ok=True)


@pytest.mark.parametrize("source, echo, faults", [
    ("stored connection", "full", None),        # a wrong key: 401 "Incorrect API key provided: <key>"
    ("${env:VAR}", "elided", None),             # 401 with the key elided as OpenAI shows it
    ("stored connection", "full", "500"),       # the right key, echoed in 500s (retried, then given up)
])
def test_a_dag_flow_never_reveals_the_key(session, tmp_path, source, echo, faults):
    key = "sk-pfl-" + secrets.token_hex(20)
    with ScriptedServer(api_key=key if faults else SERVER_KEY, echo_key=echo,
                        fail_rate=1.0 if faults else 0.0, fail_kinds=faults or "500") as server:
        flow = _folder(tmp_path, "qa", DAG_FLOW)
        evaluator = _folder(tmp_path, "judge", EVALUATOR)
        echo_flow = _folder(tmp_path, "echo", ECHO_FLOW)
        data = tmp_path / "data.jsonl"
        data.write_text("".join(json.dumps({"question": f"Question {n}?"}) + "\n" for n in range(3)))
        session.folders += [flow, evaluator, data.parent / "reports"]
        if source == "${env:VAR}":
            session.env["ECHO_LLM_KEY"] = key
            _store_connection(session, tmp_path, "${env:ECHO_LLM_KEY}", server.base_url)
        else:
            _store_connection(session, tmp_path, key, server.base_url)

        session.pfl("flow", "test", "--flow", str(flow), "--inputs", "question=Hi?", ok=False)
        session.pfl("--debug", "flow", "test", "--flow", str(flow), "--inputs", "question=Hi?", ok=False)
        session.pfl("run", "create", "--flow", str(flow), "--data", str(data), "--name", "base", "--stream")
        session.pfl("run", "resume", "base", "--stream")
        session.pfl("run", "create", "--flow", str(echo_flow), "--data", str(data), "--name", "echoed", ok=True)
        session.pfl("run", "create", "--flow", str(evaluator), "--data", str(data), "--run", "echoed", "--name",
                    "judged", "--column-mapping", "answer=${run.outputs.answer}")
        for command in (["show", "base"], ["show-details", "base"], ["show-details", "judged", "-o", "json"]):
            session.pfl("run", *command)
        session.pfl("run", "visualize", "base", "judged", ok=True)
        session.pfl("eval", "--flow", str(flow), "--data", str(data), "--evaluator", "exact_match",
                    "--evaluator-mapping", "exact_match.answer=${run.outputs.answer}",
                    "--report", str(tmp_path / "reports" / "report.html"),
                    "--json", str(tmp_path / "reports" / "report.json"))
        session.pfl("trace", "list")
        _serve(session, flow)
        assert server.stats["statuses"].get(401 if not faults else 500), "the server never echoed the key"

    assert any("Incorrect API key" in text or "server had an error" in text for text in session.seen)
    assert (session.home / "runs" / "base" / "error.json").is_file()
    assert not session.leaks(key)


def test_a_flow_that_loads_its_own_env_file_never_reveals_the_key(session, tmp_path):
    key = "sk-pfl-" + secrets.token_hex(20)
    with ScriptedServer(api_key=SERVER_KEY, echo_key="full") as server:
        flow = _folder(tmp_path, "flex_qa", FLEX_FLOW)
        (flow / ".env").write_text(f"OPENAI_API_KEY={key}\nECHO_BASE_URL={server.base_url}\n")
        session.given.add(flow / ".env")
        data = tmp_path / "data.jsonl"
        data.write_text("".join(json.dumps({"question": f"Question {n}?"}) + "\n" for n in range(3)))
        session.folders.append(flow)

        session.pfl("flow", "test", "--flow", str(flow), "--inputs", "question=Hi?", ok=False)
        session.pfl("run", "create", "--flow", str(flow), "--data", str(data), "--name", "flex_base", "--stream")
        session.pfl("run", "resume", "flex_base")
        session.pfl("run", "visualize", "flex_base", ok=True)
        _serve(session, flow)

    snapshot = session.home / "runs" / "flex_base" / "snapshot"
    assert (snapshot / "ask.py").read_text() == (flow / "ask.py").read_text()  # code that builds headers: intact
    assert (snapshot / ".env").read_text().startswith("OPENAI_API_KEY=***\n")
    assert any("Incorrect API key" in text for text in session.seen)
    assert not session.leaks(key)


def test_a_key_given_in_init_is_never_stored_and_resume_says_why_it_cannot_rerun(make_flow, tmp_path, pfl_home):
    from promptflow_lite import Client
    from promptflow_lite.errors import UserError

    key = "sk-init-" + secrets.token_hex(16)
    flow = make_flow({"flow.flex.yaml": "entry: chat:Chat\n", "chat.py": """
        from promptflow_lite import OpenAIModelConfiguration

        class Chat:
            def __init__(self, model_config: OpenAIModelConfiguration):
                self.model = model_config.model

            def __call__(self, question: str) -> str:
                if question == "fail":
                    raise ValueError("this line fails")
                return self.model + ": " + question
    """})
    data = tmp_path / "data.jsonl"
    data.write_text('{"question": "hi"}\n{"question": "fail"}\n')
    client = Client(progress=False)
    init = {"model_config": {"model": "gpt-4o-mini", "base_url": "http://127.0.0.1:9/v1", "api_key": key}}
    run = client.run(flow=str(flow), data=str(data), init=init, name="with_init")
    assert run.status == "CompletedWithErrors" and run.properties["init"]["model_config"]["api_key"] == "******"
    assert not any(key.encode() in path.read_bytes() for path in pfl_home.rglob("*") if path.is_file())
    with pytest.raises(UserError, match=r"secret in init \(model_config.api_key\).*connection"):
        client.resume("with_init")
    with pytest.raises(UserError, match="model_config.api_key"):
        client.run(resume_from="with_init")


def test_retry_notices_of_a_library_call_never_reveal_the_key(make_flow, monkeypatch, capsys):
    """No CLI around it: the notice a retried request prints (into its node's logs) is masked where it is made."""
    from promptflow_lite import OpenAIConnection, load_flow

    key = "sk-pfl-" + secrets.token_hex(20)
    monkeypatch.setenv("PFL_LLM_RETRY_NOTICE_SECONDS", "0")
    monkeypatch.setenv("PFL_LLM_MAX_RETRIES", "2")
    monkeypatch.setenv("PFL_LLM_BACKOFF_SECONDS", "0.01")
    with ScriptedServer(api_key=key, echo_key="full", fail_rate=1.0, fail_kinds="500") as server:
        connection = OpenAIConnection(api_key=key, base_url=server.base_url, name="echo_conn")
        line = load_flow(make_flow(DAG_FLOW), connections={"echo_conn": connection}).run({"question": "Hi?"})
    printed, logs = capsys.readouterr(), line.node_runs["ask"].logs
    assert "retrying in" in logs and "API key provided: ***" in logs
    assert not line.ok and "API key provided: ***" in line.error["message"]
    assert key[:12] not in logs + printed.err + printed.out + json.dumps(line.error)


def test_credentials_in_an_endpoint_url_never_show(make_flow, pfl_home, capsys):
    """A gateway's URL may carry a password or a ``?code=`` key: each message names the endpoint, never them."""
    from promptflow_lite.cli.main import main as pfl

    password, code = "url-pw-" + secrets.token_hex(10), "fn-code-" + secrets.token_hex(10)
    with ScriptedServer() as server:
        url = server.base_url.replace("http://", f"http://svc:{password}@") + f"?code={code}"
        flow = make_flow({"ask.prompty": f"""
            ---
            name: ask
            model:
              api: chat
              configuration: {{type: openai, base_url: "{url}", api_key: sk-any-key-0000}}
              parameters: {{model: gpt-4o-mini}}
            inputs: {{question: {{type: string}}}}
            ---
            user:
            {{{{question}}}}
        """})
        assert pfl(["flow", "test", "--flow", str(flow / "ask.prompty"), "--inputs", "question=Hi?"]) == 1
    printed = capsys.readouterr()
    assert "svc:***@" in printed.err
    texts = [printed.out, printed.err] + [p.read_text(errors="replace") for p in pfl_home.rglob("*") if p.is_file()]
    texts += [p.read_text(errors="replace") for p in (flow / ".promptflow").rglob("*") if p.is_file()]
    assert not [text for text in texts if password in text or code in text]
