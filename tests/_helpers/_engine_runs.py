"""What the tests of engines that run lines in other processes share: an LLM flow with an aggregation node,
a scripted server for it (the ``server`` fixture), its questions and expected answers, and ways to look at a
run's outputs, journal, traces and processes."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from promptflow_lite.testing import ScriptedServer

RULES = [{"match": "capital of (\\w+)", "reply": "The capital of \\1 is scripted."}]
COUNTRIES = ["France", "Spain", "Italy", "Chile", "Peru", "Japan", "Kenya", "Nepal", "Oman", "Fiji"]
QA_FLOW = {
    "ask.jinja2": "# system:\nAnswer briefly.\n# user:\n{{question}}\n",
    "lengths.py": "from promptflow.core import tool, log_metric\n"
                  "@tool\ndef lengths(answers: list) -> dict:\n"
                  "    log_metric('mean_length', sum(len(a) for a in answers) / len(answers))\n"
                  "    log_metric('lines', len(answers))\n"
                  "    return {'lines': len(answers)}\n",
    "flow.dag.yaml": """
        inputs: {question: {type: string}}
        outputs: {answer: {reference: "${ask.output}"}}
        nodes:
        - {name: ask, type: llm, source: {type: code, path: ask.jinja2}, connection: open_ai_connection, api: chat,
           inputs: {model: gpt-4o-mini, temperature: 0, question: "${inputs.question}"}}
        - {name: lengths, type: python, source: {type: code, path: lengths.py}, inputs: {answers: "${ask.output}"},
           aggregation: true}
        """,
}


@pytest.fixture
def server(monkeypatch):
    """A scripted OpenAI server that answers :data:`RULES` (import it into a test module to use it)."""
    monkeypatch.setenv("PFL_LLM_BACKOFF_SECONDS", "0.01")
    with ScriptedServer(rules=RULES) as scripted:
        yield scripted


def questions(tmp_path, count: int) -> Path:
    path = tmp_path / f"questions_{count}.jsonl"
    path.write_text("".join(json.dumps({"question": f"What is the capital of {COUNTRIES[i % 10]} #{i}?"}) + "\n"
                            for i in range(count)))
    return path


def outputs(run) -> dict[int, dict]:
    rows = [json.loads(line) for line in Path(run.output_path, "flow_outputs", "output.jsonl").read_text().splitlines()]
    numbers = [row.pop("line_number") for row in rows]
    assert len(numbers) == len(set(numbers)), "a line is in the outputs twice"
    return dict(zip(numbers, rows))


def journaled(folder: Path) -> set[int]:
    """The lines a run's journal holds now (each must be there once)."""
    from promptflow_lite.runs._journal import scan

    numbers = [entry["line_number"] for entry in scan(folder / "line_results.jsonl").entries]
    assert len(numbers) == len(set(numbers)), "a line is in the journal twice"
    return set(numbers)


def traced_lines(run_name: str) -> list[int]:
    from promptflow_lite.tracing import flush_tracing, list_traces

    flush_tracing()
    return sorted(t["line_number"] for t in list_traces(run=run_name, limit=None))


def expected(count: int) -> dict[int, dict]:
    return {i: {"answer": f"The capital of {COUNTRIES[i % 10]} is scripted."} for i in range(count)}


def wait_for(predicate, timeout: float = 120.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


def kill_driver_then_resume(server, flow: Path, data: Path, engine: list[str], worker_pids, engine_log: str) -> None:
    """``pfl run create … ENGINE`` on 400 lines, SIGKILLed after 40: its workers end with it, and ``pfl run
    resume`` (which remembers the engine: its log line ``engine_log``) runs only the missing lines."""
    import signal
    import subprocess
    import sys

    from promptflow_lite.cli.main import main as pfl
    from promptflow_lite.runs import Client

    server.latency = 0.1  # the run lasts a few seconds: time to kill its driver
    driver = subprocess.Popen(
        [sys.executable, "-m", "promptflow_lite.cli.main", "run", "create", "--flow", str(flow), "--data", str(data),
         "--name", "orphan", *engine, "--max-concurrency", "8", "--no-cache"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    folder = Path(os.environ["PFL_HOME"], "runs", "orphan")
    try:
        wait_for(lambda: driver.poll() is not None or ((folder / "line_results.jsonl").is_file()
                                                       and len(journaled(folder)) >= 40), what="40 finished lines")
        assert driver.poll() is None, driver.stderr.read().decode()
        workers = worker_pids(folder / "logs.txt")
        driver.send_signal(signal.SIGKILL)
        driver.wait(60)
    finally:
        if driver.poll() is None:
            driver.kill()
    wait_for(lambda: not any(alive(pid) for pid in workers), what="the workers to end with their driver")
    server.latency = 0.0
    done_before, asked_before = journaled(folder), server.stats["requests"]
    assert 40 <= len(done_before) < 400

    assert pfl(["run", "resume", "orphan"]) == 0  # the run remembers its engine (and cluster)
    run = Client().runs.get("orphan")
    assert run.status == "Completed" and outputs(run) == expected(400)
    assert server.stats["requests"] - asked_before == 400 - len(done_before)  # only the missing lines ran again
    assert engine_log in Path(run.output_path, "logs.txt").read_text().split("Resuming run orphan")[1]


def cancel_then_resume(server, flow: Path, data: Path, worker_pids, **engine) -> None:
    """``Client().run(…, **engine)`` on 300 lines, ``cancel`` after 20: the run is Canceled, its workers end, and
    ``resume`` completes every line."""
    import threading

    from promptflow_lite.runs import Client

    server.latency = 0.2  # the run lasts a few seconds: time to cancel it
    client = Client(progress=False)
    done: dict = {}
    runner = threading.Thread(target=lambda: done.setdefault("run", client.run(
        flow, data=data, name="cancel_me", max_concurrency=8, **engine)))
    runner.start()
    folder = Path(os.environ["PFL_HOME"], "runs", "cancel_me")
    workers = wait_for(lambda: worker_pids(folder / "logs.txt"), what="the workers")
    wait_for(lambda: (folder / "line_results.jsonl").is_file() and len(journaled(folder)) >= 20,
             what="20 finished lines")
    assert Client().runs.cancel("cancel_me").status == "Canceled"
    runner.join(120)
    assert done["run"].status == "Canceled" and 20 <= done["run"].completed_lines < 300
    wait_for(lambda: not any(alive(pid) for pid in workers), what="the workers to end")

    server.latency = 0.0
    resumed = client.resume("cancel_me")
    assert resumed.status == "Completed" and outputs(resumed) == expected(300)
