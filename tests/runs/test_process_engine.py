"""The process engine (``--engine processes``): worker processes of this machine run the lines; results, traces,
cache, resume and cancel behave as with the local engine."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
from pathlib import Path

import pytest

from promptflow_lite.cli.main import main as pfl
from promptflow_lite.runs import Client

from _engine_runs import (  # noqa: F401 - server is a fixture
    QA_FLOW, cancel_then_resume, expected, journaled, kill_driver_then_resume, outputs, questions, server,
    traced_lines, wait_for,
)


@pytest.fixture
def connections(server, scripted_connections):
    return scripted_connections(server, api_key="sk-process-test")


def worker_pids(log: Path) -> list[int]:
    """The worker processes the run's log names ("Process engine: 2 workers (pids 12, 34), ...")."""
    match = re.search(r"Process engine: \d+ workers \(pids ([\d, ]+)\)", log.read_text() if log.is_file() else "")
    return [int(pid) for pid in match.group(1).split(", ")] if match else []


def comparable(folder: Path) -> list[dict]:
    """The run's line records without what differs from run to run (times, ids, the run's name)."""
    from promptflow_lite.runs._journal import scan

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items()
                    if not any(w in k for w in ("time", "duration", "id", "run", "pid"))}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return sorted((strip(e) for e in scan(folder / "line_results.jsonl").entries), key=lambda e: e["line_number"])


def test_an_llm_flow_in_worker_processes_equals_the_local_run_line_for_line(connections, make_flow, tmp_path):
    from promptflow_lite.tracing import get_trace, list_traces

    flow, data = make_flow(QA_FLOW, name="qa"), questions(tmp_path, 60)
    client = Client(progress=False)
    local = client.run(flow, data=data, name="qa_local", engine="local", use_cache=False)
    spread = client.run(flow, data=data, name="qa_processes", engine="processes", use_cache=False)

    assert (local.status, spread.status) == ("Completed", "Completed")
    assert outputs(spread) == outputs(local) == expected(60)
    assert spread.metrics == local.metrics and local.metrics["lines"] == 60
    assert spread.tokens == local.tokens
    assert comparable(Path(spread.output_path)) == comparable(Path(local.output_path))
    pids = worker_pids(Path(spread.output_path, "logs.txt"))
    assert len(pids) == min(os.cpu_count() or 1, 64) and os.getpid() not in pids

    assert traced_lines("qa_processes") == list(range(60))  # the workers' spans reached this process's trace store
    [first] = list_traces(run="qa_processes", limit=1)
    [root] = get_trace(first["trace_id"])["spans"]
    assert [child["name"] for child in root["children"]] == ["ask"]
    assert [child["name"] for child in root["children"][0]["children"]] == ["chat gpt-4o-mini"]
    assert "sk-process-test" not in json.dumps(get_trace(first["trace_id"]))


def test_worker_processes_answer_from_the_llm_cache_the_local_engine_filled(connections, server, make_flow, tmp_path):
    flow, data = make_flow(QA_FLOW, name="qa"), questions(tmp_path, 60)
    first = Client(progress=False).run(flow, data=data, name="first", engine="local")
    calls = server.stats["requests"]
    again = Client(progress=False, engine="processes").run(flow, data=data, name="again")
    assert (first.cached_lines, again.cached_lines) == (0, 60)
    assert server.stats["requests"] == calls  # every answer came from the cache file the workers share
    assert outputs(again) == outputs(first) == expected(60)


def test_a_worker_that_dies_mid_run_loses_only_its_lines_in_flight(connections, server, make_flow, tmp_path):
    flow, data = make_flow(QA_FLOW, name="qa"), questions(tmp_path, 300)
    server.latency = 0.2  # long enough to kill a worker while lines are in flight
    client = Client(progress=False)
    done: dict = {}
    runner = threading.Thread(target=lambda: done.setdefault("run", client.run(
        flow, data=data, name="kill_worker", engine="processes", max_concurrency=8, use_cache=False)))
    runner.start()
    folder = Path(os.environ["PFL_HOME"], "runs", "kill_worker")
    victim = wait_for(lambda: worker_pids(folder / "logs.txt"), what="the workers")[0]
    wait_for(lambda: (folder / "line_results.jsonl").is_file() and len(journaled(folder)) >= 30,
             what="30 finished lines")
    os.kill(victim, signal.SIGKILL)
    runner.join(300)

    run = done["run"]
    assert run.status == "Completed" and run.completed_lines == 300
    assert outputs(run) == expected(300)
    assert traced_lines("kill_worker") == list(range(300))  # lines lost with the worker left no trace: once each
    assert server.stats["requests"] >= 300  # every line asked; those in flight on the dead worker once more
    log = Path(run.output_path, "logs.txt").read_text()
    assert re.search(r"Worker process \d died \(exit code -9\); \d+ lines in flight go back to the queue", log)


def test_a_killed_driver_takes_its_workers_along_and_pfl_run_resume_completes(connections, server, make_flow,
                                                                              tmp_path):
    kill_driver_then_resume(server, make_flow(QA_FLOW, name="qa"), questions(tmp_path, 400),
                            ["--engine", "processes"], worker_pids, "Process engine:")


def test_pfl_run_cancel_ends_the_workers_and_the_run_resumes(connections, server, make_flow, tmp_path):
    cancel_then_resume(server, make_flow(QA_FLOW, name="qa"), questions(tmp_path, 300), worker_pids, engine="processes")
