"""Crash safety, resume, cancel and concurrent runs — with real processes and real signals."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from promptflow_lite.cli.main import main as pfl

SLOW_FLOW = {
    "work.py": (
        "import asyncio, os\n"
        "from promptflow.core import tool\n"
        "@tool\n"
        "async def work(i: int, pause: float) -> int:\n"
        "    print(f'running {i}')\n"
        "    await asyncio.sleep(pause)\n"
        "    if i % 7 == 3 and os.path.exists('broken'):\n"
        "        raise RuntimeError(f'line {i} is broken')\n"
        "    return (i * 7919) % 1000\n"),
    "stats.py": (
        "from promptflow.core import tool, log_metric\n"
        "@tool\n"
        "def stats(values: list) -> dict:\n"
        "    log_metric('count', len(values))\n"
        "    log_metric('sum', sum(values))\n"
        "    log_metric('mean', sum(values) / len(values))\n"
        "    return {'first': values[:3]}\n"),
    "flow.dag.yaml": """
        inputs:
          i:
            type: int
          pause:
            type: double
            default: 0.02
        outputs:
          value:
            type: int
            reference: ${work.output}
        nodes:
        - name: work
          type: python
          source: {type: code, path: work.py}
          inputs: {i: "${inputs.i}", pause: "${inputs.pause}"}
        - name: stats
          type: python
          source: {type: code, path: stats.py}
          inputs: {values: "${work.output}"}
          aggregation: true
        """,
}


@pytest.fixture
def slow(make_flow):
    return make_flow(SLOW_FLOW, name="slow")


def data_file(tmp_path: Path, lines: int, name: str = "data.jsonl", **extra) -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps({"i": i, **extra}) + "\n" for i in range(lines)))
    return path


def start(pfl_home: Path, *args: str) -> subprocess.Popen:
    """`pfl ...` in its own process (same PFL_HOME)."""
    env = {**os.environ, "PFL_HOME": str(pfl_home)}
    return subprocess.Popen([sys.executable, "-m", "promptflow_lite.cli.main", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_sigint_default)


def _sigint_default() -> None:
    """Ctrl+C acts in the child as in a terminal: an ignored SIGINT would be inherited (as by a shell's background
    job), and `pfl` then rightly keeps ignoring it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for_lines(pfl_home: Path, name: str, at_least: int, timeout: float = 60) -> int:
    journal = pfl_home / "runs" / name / "line_results.jsonl"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if journal.is_file():
            done = journal.read_text().count("\n")
            if done >= at_least:
                return done
        time.sleep(0.05)
    raise AssertionError(f"run {name} did not reach {at_least} lines")


def show(name: str, capsys) -> dict:
    capsys.readouterr()
    assert pfl(["run", "show", name]) == 0
    return json.loads(capsys.readouterr().out)


def metrics(name: str, capsys) -> dict:
    capsys.readouterr()
    assert pfl(["run", "show-metrics", name]) == 0
    return json.loads(capsys.readouterr().out)


def output_lines(folder: Path) -> list[int]:
    return [json.loads(line)["line_number"] for line in (folder / "flow_outputs" / "output.jsonl").read_text().splitlines()]


def test_sigkill_half_way_then_resume_gives_every_line_once_and_the_same_metrics(slow, tmp_path, pfl_home, capsys):
    data = data_file(tmp_path, 1000)
    assert pfl(["run", "create", "--flow", str(slow), "--data", str(data), "--name", "full",
                "--max-concurrency", "8"]) == 0
    expected = metrics("full", capsys)
    assert expected["count"] == 1000

    process = start(pfl_home, "run", "create", "--flow", str(slow), "--data", str(data), "--name", "crash",
                    "--max-concurrency", "8")
    done_before_kill = wait_for_lines(pfl_home, "crash", 300)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    crashed = show("crash", capsys)
    assert crashed["status"] == "NotResponding"  # "Running", but its process is gone
    folder = Path(crashed["output_path"])
    journal_before = [json.loads(line)["line_number"] for line in (folder / "line_results.jsonl").read_text()
                      .splitlines() if line.strip().endswith("}")]
    assert done_before_kill <= len(journal_before) < 1000

    assert pfl(["run", "resume", "crash"]) == 0
    resumed = show("crash", capsys)
    assert (resumed["status"], resumed["completed_lines"], resumed["total_lines"]) == ("Completed", 1000, 1000)
    assert output_lines(folder) == list(range(1000))
    journal = [json.loads(line)["line_number"] for line in (folder / "line_results.jsonl").read_text().splitlines()]
    assert journal == list(range(1000))
    assert metrics("crash", capsys) == expected
    node_lines = [json.loads(line)["line_number"] for file in (folder / "node_artifacts" / "work").glob("*.jsonl")
                  for line in file.read_text().splitlines()]
    assert sorted(node_lines) == list(range(1000))
    # lines finished before the kill were not executed again: each line's print appears once in the log
    printed = Counter(line.rsplit("running ", 1)[1] for line in (folder / "logs.txt").read_text().splitlines()
                      if "stdout> running " in line)
    assert len(printed) == 1000 and set(printed.values()) == {1}


def test_resume_in_place_reruns_only_failed_lines(slow, tmp_path, capsys):
    (slow / "broken").write_text("")
    data = data_file(tmp_path, 30, pause=0)
    assert pfl(["run", "create", "--flow", str(slow), "--data", str(data), "--name", "flaky",
                "--column-mapping", "i=${data.i}", "pause=${data.pause}"]) == 1
    run = show("flaky", capsys)
    failed = [i for i in range(30) if i % 7 == 3]
    assert run["status"] == "CompletedWithErrors" and run["failed_lines"] == len(failed)
    assert metrics("flaky", capsys)["count"] == 30 - len(failed)

    (slow / "broken").unlink()
    assert pfl(["run", "resume", "flaky"]) == 0
    run = show("flaky", capsys)
    assert (run["status"], run["completed_lines"], run["failed_lines"]) == ("Completed", 30, 0)
    assert run["error"] is None and not (Path(run["output_path"]) / "error.json").exists()
    assert metrics("flaky", capsys)["count"] == 30
    log = (Path(run["output_path"]) / "logs.txt").read_text()
    assert log.count("stdout> running 3\n") == 2 and log.count("stdout> running 4\n") == 1
    assert pfl(["run", "resume", "flaky"]) == 0  # a completed run: nothing to do


def test_create_resume_from_makes_a_new_run_reusing_completed_lines(slow, tmp_path, capsys):
    (slow / "broken").write_text("")
    data = data_file(tmp_path, 20, pause=0)
    pfl(["run", "create", "--flow", str(slow), "--data", str(data), "--name", "first",
         "--column-mapping", "i=${data.i}", "pause=${data.pause}"])
    (slow / "broken").unlink()
    assert pfl(["run", "create", "--resume-from", "first", "--name", "second"]) == 0
    first, second = show("first", capsys), show("second", capsys)
    assert first["status"] == "CompletedWithErrors"  # the old run is left as it was
    assert (second["status"], second["completed_lines"]) == ("Completed", 20)
    assert second["properties"]["resume_from"] == "first"
    folder = Path(second["output_path"])
    assert output_lines(folder) == list(range(20))
    executed = [line for line in (folder / "logs.txt").read_text().splitlines() if "stdout> running" in line]
    assert sorted(int(line.rsplit(" ", 1)[1]) for line in executed) == [3, 10, 17]
    record = json.loads((folder / "flow_artifacts" / "000000000_000000099.jsonl").read_text().splitlines()[0])
    assert record["run_info"]["run_id"] == "second_0" and record["run_info"]["source_run_id"] == "first_0"
    assert metrics("second", capsys)["count"] == 20


def test_cancel_from_another_process_keeps_finished_lines_and_resume_finishes(slow, tmp_path, pfl_home, capsys):
    data = data_file(tmp_path, 400, pause=0.25)  # 50 s at least: a loaded machine still cancels it midway
    process = start(pfl_home, "run", "create", "--flow", str(slow), "--data", str(data), "--name", "long",
                    "--max-concurrency", "2", "--column-mapping", "i=${data.i}", "pause=${data.pause}")
    wait_for_lines(pfl_home, "long", 10)
    assert pfl(["run", "cancel", "long"]) == 0
    assert "Run long is Canceled." in capsys.readouterr().out
    assert process.wait(timeout=30) == 1
    run = show("long", capsys)
    folder = Path(run["output_path"])
    assert run["status"] == "Canceled" and 10 <= run["completed_lines"] < 400
    done = output_lines(folder)  # the lines finished before the cancel, each once (two ran side by side)
    assert done == sorted(set(done)) and len(done) == run["completed_lines"]
    assert pfl(["run", "resume", "long", "--max-concurrency", "64"]) == 0
    assert show("long", capsys)["completed_lines"] == 400 and output_lines(folder) == list(range(400))


def test_ctrl_c_cancels_the_run(slow, tmp_path, pfl_home, capsys):
    data = data_file(tmp_path, 400, pause=0.05)
    process = start(pfl_home, "run", "create", "--flow", str(slow), "--data", str(data), "--name", "interrupted",
                    "--max-concurrency", "2", "--column-mapping", "i=${data.i}", "pause=${data.pause}")
    wait_for_lines(pfl_home, "interrupted", 5)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode != 0
    run = show("interrupted", capsys)
    assert run["status"] == "Canceled" and run["completed_lines"] >= 5
    assert "canceled" in err


def test_two_runs_at_once_share_the_index_safely(slow, tmp_path, pfl_home, capsys):
    data = data_file(tmp_path, 150, pause=0.001)
    mapping = ["--column-mapping", "i=${data.i}", "pause=${data.pause}"]
    processes = [start(pfl_home, "run", "create", "--flow", str(slow), "--data", str(data), "--name", f"p{k}",
                       *mapping) for k in range(2)]
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    capsys.readouterr()
    pfl(["run", "list", "-o", "json"])
    runs = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(runs) == {"p0", "p1"}
    assert all(r["status"] == "Completed" and r["completed_lines"] == 150 for r in runs.values())
    with sqlite3.connect(pfl_home / "runs.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_resume_refuses_a_running_run_and_a_run_that_never_started(slow, tmp_path, pfl_home, capsys):
    data = data_file(tmp_path, 200, pause=0.05)
    process = start(pfl_home, "run", "create", "--flow", str(slow), "--data", str(data), "--name", "busy",
                    "--max-concurrency", "1", "--column-mapping", "i=${data.i}", "pause=${data.pause}")
    try:
        wait_for_lines(pfl_home, "busy", 1)
        assert pfl(["run", "resume", "busy"]) == 1
        assert "still running" in capsys.readouterr().err
        assert pfl(["run", "delete", "busy", "-y"]) == 1
    finally:
        process.kill()
        process.wait()
    pfl(["run", "create", "--flow", str(slow), "--data", str(data), "--name", "never",
         "--column-mapping", "x=${data.missing_column}"])
    capsys.readouterr()
    assert pfl(["run", "resume", "never"]) == 1
    assert "never started" in capsys.readouterr().err


def test_resume_runs_the_snapshot_when_the_flow_folder_is_gone(slow, tmp_path, capsys):
    import shutil

    (slow / "broken").write_text("")
    data = data_file(tmp_path, 10, pause=0)
    pfl(["run", "create", "--flow", str(slow), "--data", str(data), "--name", "orphan",
         "--column-mapping", "i=${data.i}", "pause=${data.pause}"])
    folder = Path(show("orphan", capsys)["output_path"])
    (folder / "snapshot" / "broken").unlink()  # the snapshot holds the flow folder as it was
    shutil.rmtree(slow)
    assert pfl(["run", "resume", "orphan"]) == 0
    assert "is gone; running the run's snapshot instead" in capsys.readouterr().err
    assert show("orphan", capsys)["status"] == "Completed"


def test_a_resumed_run_drops_the_warnings_of_the_earlier_attempt_and_keeps_setup_ones(slow, tmp_path, capsys):
    (slow / "broken").write_text("")
    data = data_file(tmp_path, 10, pause=0)  # the `pause` column is hidden by the input's default: a setup warning
    assert pfl(["run", "create", "--flow", str(slow), "--data", str(data), "--name", "healed"]) == 1
    assert any("lines failed" in w for w in show("healed", capsys)["properties"]["warnings"])
    (slow / "broken").unlink()
    assert pfl(["run", "resume", "healed"]) == 0
    warnings = show("healed", capsys)["properties"]["warnings"]
    assert not any("lines failed" in w for w in warnings)
    assert [w for w in warnings if "'pause' is NOT used" in w] == warnings and len(warnings) == 1
