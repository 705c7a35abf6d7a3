"""A big run's files are finalised by a second process while its lines run: the same bytes, crash-safe."""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from promptflow_lite.cli.main import main as pfl
from promptflow_lite.runs._finalize import finalize
from promptflow_lite.runs._finalize_process import FOLLOW_FROM_LINES
from promptflow_lite.runs._journal import frame
from promptflow_lite.runs._journal_follow import JournalFollower
from promptflow_lite.runs._journal_index import JournalIndex
from promptflow_lite.runs._store import RunFolder
from _engine_runs import alive, wait_for

GOLDEN = Path(__file__).parents[1] / "fixtures" / "finalize_0_1"
LINES = FOLLOW_FROM_LINES + 200

FLOW = {
    "work.py": (
        "import os, time\n"
        "from promptflow.core import tool\n"
        "@tool\n"
        "def work(i: int) -> int:\n"
        "    if os.path.exists('slow'):\n"
        "        time.sleep(0.01)\n"
        "    if i % 97 == 5 and os.path.exists('broken'):\n"
        "        raise RuntimeError(f'line {i} is broken')\n"
        "    return i * 3\n"),
    "total.py": (
        "from promptflow.core import tool, log_metric\n"
        "@tool\n"
        "def total(values: list) -> int:\n"
        "    log_metric('sum', sum(values))\n"
        "    return sum(values)\n"),
    "flow.dag.yaml": json.dumps({  # JSON is YAML
        "inputs": {"i": {"type": "int"}}, "outputs": {"tripled": {"type": "int", "reference": "${work.output}"}},
        "nodes": [{"name": "work", "type": "python", "source": {"type": "code", "path": "work.py"},
                   "inputs": {"i": "${inputs.i}"}},
                  {"name": "total", "type": "python", "source": {"type": "code", "path": "total.py"},
                   "inputs": {"values": "${work.output}"}, "aggregation": True}]}),
}


@pytest.fixture
def flow(make_flow):
    return make_flow(FLOW, name="big")


def data_file(tmp_path: Path, lines: int) -> Path:
    (tmp_path / "data.jsonl").write_text("".join(f'{{"i": {i}}}\n' for i in range(lines)))
    return tmp_path / "data.jsonl"


def same_as_finalised_again(folder: Path, tmp_path: Path) -> None:
    """Every file of ``folder`` is byte for byte what finalising its journal in this process writes."""
    again = tmp_path / "again"
    shutil.rmtree(again, ignore_errors=True)
    shutil.copytree(folder, again)
    finalize(RunFolder(again), folder.name)
    files = sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())
    assert not [f for f in files if f.suffix == ".tmp"]
    for name in files:
        assert filecmp.cmp(folder / name, again / name, shallow=False), name


def run_lines(folder: Path, node: str) -> list[int]:
    return sorted(json.loads(text)["line_number"] for file in (folder / "node_artifacts" / node).glob("*_*.jsonl")
                  for text in file.read_text().splitlines())


def test_a_big_run_with_failed_lines_and_aggregation_gets_the_files_of_a_finalisation_after_it(flow, tmp_path,
                                                                                               pfl_home):
    (flow / "broken").write_text("")
    assert pfl(["run", "create", "--flow", str(flow), "--data", str(data_file(tmp_path, LINES)), "--name", "big"]) == 1
    folder = pfl_home / "runs" / "big"
    failed = [i for i in range(LINES) if i % 97 == 5]
    assert [json.loads(t)["line_number"] for t in (folder / "outputs.jsonl").read_text().splitlines()] == \
        [i for i in range(LINES) if i not in failed]
    assert run_lines(folder, "work") == list(range(LINES))
    assert (folder / "node_artifacts" / "total" / "000000000.jsonl").is_file()
    error = json.loads((folder / "error.json").read_text())
    assert error["messageParameters"]["failed_lines"] == str(len(failed))
    same_as_finalised_again(folder, tmp_path)

    (flow / "broken").unlink()  # the resume reruns the failed lines: the journal is rewritten sorted as well
    assert pfl(["run", "resume", "big"]) == 0
    assert sum(1 for _ in open(folder / "line_results.jsonl", "rb")) == LINES
    assert not (folder / "error.json").exists()
    assert json.loads((folder / "metrics.json").read_text()) == {"sum": 3 * sum(range(LINES))}
    same_as_finalised_again(folder, tmp_path)


def test_a_sample_of_lines_an_evaluation_over_it_and_a_resume_from_it(flow, tmp_path, pfl_home):
    from promptflow_lite.runs import Client

    client = Client()
    sample = client.run(flow=str(flow), data=str(data_file(tmp_path, 3 * LINES)), name="sample",
                         lines=list(range(0, 3 * LINES, 3)))
    folder = Path(sample.output_path)
    assert sample.status == "Completed" and run_lines(folder, "work") == list(range(0, 3 * LINES, 3))
    same_as_finalised_again(folder, tmp_path)

    evaluation = client.run(flow=str(flow), run="sample", name="evaluation",
                             column_mapping={"i": "${run.outputs.tripled}"})
    assert evaluation.status == "Completed" and run_lines(Path(evaluation.output_path), "work") == \
        list(range(0, 3 * LINES, 3))
    same_as_finalised_again(Path(evaluation.output_path), tmp_path)

    again = Path(client.run(resume_from="sample", name="again").output_path)
    record = json.loads((again / "flow_artifacts" / "000000000_000000099.jsonl").read_text().splitlines()[0])
    assert record["run_info"]["source_run_id"] == "sample_0"
    same_as_finalised_again(again, tmp_path)


def _follower_pid(parent: int) -> int | None:
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and b"runs._finalize_process" in (entry / "cmdline").read_bytes() and \
                    int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                return int(entry.name)
        except OSError:
            continue
    return None


def test_a_killed_run_leaves_no_half_written_file_and_its_resume_finalises_everything(flow, tmp_path, pfl_home):
    (flow / "slow").write_text("")  # ~10 ms a line: time to kill it half-way
    run = subprocess.Popen([sys.executable, "-m", "promptflow_lite.cli.main", "run", "create", "--flow", str(flow),
                            "--data", str(data_file(tmp_path, LINES)), "--name", "killed", "--max-concurrency", "4"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    folder = pfl_home / "runs" / "killed"
    try:
        wait_for(lambda: run.poll() is not None or ((folder / "line_results.jsonl").is_file() and
                 (folder / "line_results.jsonl").read_bytes().count(b"\n") >= 300), what="300 finished lines")
        assert run.poll() is None
        follower = wait_for(lambda: _follower_pid(run.pid), what="the finalising process")
        wait_for(lambda: list(folder.glob("flow_artifacts/*_*.jsonl")), what="a first artifact file")
        run.send_signal(signal.SIGKILL)
        run.wait(60)
    finally:
        if run.poll() is None:
            run.kill()
    wait_for(lambda: not alive(follower), what="the finalising process to end with its run")
    assert not list(folder.rglob("*.tmp"))  # written whole and moved into place, or removed
    assert not (folder / "outputs.jsonl").exists()

    (flow / "slow").unlink()
    assert pfl(["run", "resume", "killed"]) == 0
    assert run_lines(folder, "work") == list(range(LINES))
    assert [json.loads(t)["line_number"] for t in (folder / "outputs.jsonl").read_text().splitlines()] == \
        list(range(LINES))
    same_as_finalised_again(folder, tmp_path)


def _follow(folder: RunFolder, records: list[bytes], start: int, numbers: list[int],
            per_wait: int = 3) -> tuple[list, JournalFollower]:
    """The entries a follower yields while ``records`` are appended to the journal, ``per_wait`` at a time."""
    pending = list(records)

    def wait() -> bool:  # the run writes its next records; it has ended once all are written
        with open(folder.journal_file, "ab") as handle:
            handle.write(b"".join(pending[:per_wait]))
        del pending[:per_wait]
        return not pending

    follower = JournalFollower(folder.journal_file, start)
    try:
        return list(follower.entries(iter(numbers), wait)), follower
    finally:
        follower.close()


def test_the_follower_yields_what_the_finished_journal_holds_as_its_lines_land(tmp_path):
    folder = RunFolder(tmp_path / "run").create()
    records = [frame(json.dumps({"line_number": n, "status": "Completed", "outputs": {"n": n}}))
               for n in [1, 0, 2, 4, 3, 6, 5, 7, 9, 8]]
    folder.journal_file.write_bytes(b"".join(records[:4]))  # lines 0-2 and 4 done before a resume
    entries, follower = _follow(folder, records[4:], folder.journal_file.stat().st_size, list(range(12)))
    index = JournalIndex.build(folder.journal_file)
    assert entries == list(index.entries())
    assert follower.faithful and not follower.has_repeats


def test_the_follower_says_when_a_line_it_passed_was_recorded_again(tmp_path):
    folder = RunFolder(tmp_path / "run").create()
    folder.journal_file.write_bytes(b"")
    records = [frame(json.dumps({"line_number": n, "status": "Completed"})) for n in [0, 1, 2, 0]]
    entries, follower = _follow(folder, records, 0, [0, 1, 2], per_wait=1)
    assert [e["line_number"] for e in entries] == [0, 1, 2]
    assert not follower.faithful and follower.has_repeats  # the finalising process starts over then


def test_the_finalising_process_writes_the_golden_files_from_a_journal_written_as_it_follows(tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(GOLDEN / "before", folder)
    journal = folder / "line_results.jsonl"
    records = journal.read_bytes().splitlines(keepends=True)  # shuffled, a line twice, damaged, a torn tail
    journal.write_bytes(b"")
    child = subprocess.Popen([sys.executable, "-m", "promptflow_lite.runs._finalize_process"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    child.stdin.write(json.dumps({"folder": str(folder), "run": "gold", "start": 0, "secrets": []}).encode() + b"\n")
    child.stdin.flush()
    for record in records:
        with open(journal, "ab") as handle:
            handle.write(record)
    child.stdin.write(b'{"end": true, "secrets": []}\n')
    child.stdin.close()
    summary = json.loads(child.stdout.read())
    assert child.wait(60) == 0
    expected = sorted(p.relative_to(GOLDEN / "expected") for p in (GOLDEN / "expected").rglob("*") if p.is_file())
    assert sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file()) == expected
    for name in expected:
        assert filecmp.cmp(folder / name, GOLDEN / "expected" / name, shallow=False), name
    assert (summary["completed"], [n for n, _ in summary["failed"]]) == (25, [3, 10, 17, 101, 108])


def test_the_finalising_process_removes_its_files_when_its_run_goes_away(tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(GOLDEN / "before", folder)
    (folder / "line_results.jsonl").write_bytes(b"")
    child = subprocess.Popen([sys.executable, "-m", "promptflow_lite.runs._finalize_process"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    child.stdin.write(json.dumps({"folder": str(folder), "run": "gold", "start": 0, "secrets": []}).encode() + b"\n")
    child.stdin.flush()
    wait_for(lambda: list(folder.rglob("*.tmp")), what="the temporary files")
    child.stdin.close()  # no end message: the run failed or its process was killed
    assert child.wait(60) == 1
    assert not list(folder.rglob("*.tmp")) and not (folder / "outputs.jsonl").exists()
    assert os.listdir(folder / "flow_artifacts") == ["000000200_000000299.jsonl"]  # left as it was


def test_ctrl_c_cancels_a_big_run_whose_files_are_still_finalised(flow, tmp_path, pfl_home):
    (flow / "slow").write_text("")
    run = subprocess.Popen([sys.executable, "-m", "promptflow_lite.cli.main", "run", "create", "--flow", str(flow),
                            "--data", str(data_file(tmp_path, LINES)), "--name", "interrupted", "--max-concurrency",
                            "4"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    folder = pfl_home / "runs" / "interrupted"
    try:
        wait_for(lambda: run.poll() is not None or _follower_pid(run.pid), what="the finalising process")
        wait_for(lambda: (folder / "line_results.jsonl").read_bytes().count(b"\n") >= 200, what="200 finished lines")
        os.killpg(run.pid, signal.SIGINT)  # as a terminal's Ctrl+C: the whole process group
        _, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    assert "The run was canceled" in err.decode()
    done = [json.loads(t)["line_number"] for t in (folder / "outputs.jsonl").read_text().splitlines()]
    assert 200 <= len(done) < LINES and run_lines(folder, "work") == done
    same_as_finalised_again(folder, tmp_path)


def test_a_finalising_process_behind_a_killed_run_stops_without_catching_up(tmp_path):
    folder = RunFolder(tmp_path / "run").create()
    folder.inputs_file.write_text("".join(f'{{"i": {n}, "line_number": {n}}}\n' for n in range(LINES)))
    folder.journal_file.write_bytes(b"".join(frame(json.dumps({"line_number": n, "status": "Completed",
                                                               "outputs": {"n": n}})) for n in range(LINES)))
    child = subprocess.Popen([sys.executable, "-m", "promptflow_lite.runs._finalize_process"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    child.stdin.write(json.dumps({"folder": str(folder.path), "run": "lagging", "start": 0, "secrets": []}).encode())
    child.stdin.write(b"\n")
    child.stdin.close()  # the run is gone before its child read a line: none of its backlog is worth writing
    assert child.wait(60) == 1
    assert not list(folder.path.rglob("*.tmp")) and not folder.outputs_file.exists()
    assert len(list(folder.flow_artifacts.iterdir())) <= 1


def test_a_process_pinned_to_one_core_finalises_its_big_runs_itself(tmp_path):
    from promptflow_lite.runs._finalize_process import BackgroundFinalize

    folder = RunFolder(tmp_path / "run").create()
    folder.journal_file.touch()
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})  # as under `taskset -c 0` or a one-CPU container
    try:
        assert BackgroundFinalize.start(folder, "pinned", 10 * FOLLOW_FROM_LINES) is None
    finally:
        os.sched_setaffinity(0, cores)
    if len(cores) > 1:
        handle = BackgroundFinalize.start(folder, "free", 10 * FOLLOW_FROM_LINES)
        assert handle is not None
        handle.abort()
        assert BackgroundFinalize.start(folder, "small", FOLLOW_FROM_LINES - 1) is None
