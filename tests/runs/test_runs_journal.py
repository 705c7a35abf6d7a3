"""No line is ever lost: torn, damaged and old-format journals, and a disk that fills up mid-run."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import pytest

from promptflow_lite.cli.main import main as pfl

LINES = 60
FLOW = {
    "work.py": (
        "import os\n"
        "from promptflow.core import tool\n"
        "from disk import fill_at\n"
        "@tool\n"
        "def work(i: int) -> str:\n"
        "    for _ in range(int(os.environ.get('ECHO', '1'))):\n"
        "        print(f'running {i}')\n"
        "    fill_at(i)\n"
        "    if i % 5 == 2 and os.path.exists('broken'):\n"
        "        raise RuntimeError(f'line {i} is broken')\n"
        "    return f'{i:05d}' + 'x' * int(os.environ.get('PAD', '0'))\n"),
    "disk.py": (
        '"""The disk fills at FILL_DISK=POINT@LINE (a line number, or "aggregation"): from then on the run\'s\n'
        'process cannot grow a file past a size limit (the kernel fails the write, EFBIG), so POINT is the\n'
        'first of its files to fail."""\n'
        "import glob, os, resource, time\n"
        "def fill_at(i):\n"
        "    point, _, line = os.environ.get('FILL_DISK', '').partition('@')\n"
        "    if not point or str(i) != line:\n"
        "        return\n"
        "    limit = 1\n"
        "    if point == 'logs.txt':  # room for a few more journal records, none for the (bigger) log\n"
        "        journal, = glob.glob(os.path.join(os.environ['PFL_HOME'], 'runs', '*', 'line_results.jsonl'))\n"
        "        limit = os.path.getsize(journal) + 8192\n"
        "    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))\n"
        "    if point == 'runs.sqlite':\n"
        "        time.sleep(5)  # the run saves its progress to the index (every 0.5 s) before this line ends\n"
        "                       # (PFL_INLINE_SYNC_TOOLS=0: on a thread, not on the run's event loop)\n"),
    "stats.py": (
        "from promptflow.core import tool, log_metric\n"
        "from disk import fill_at\n"
        "@tool\n"
        "def stats(values: list) -> dict:\n"
        "    fill_at('aggregation')\n"
        "    numbers = [int(v[:5]) for v in values]\n"
        "    log_metric('count', len(numbers))\n"
        "    log_metric('sum', sum(numbers))\n"
        "    return {}\n"),
    "flow.dag.yaml": """
        inputs:
          i:
            type: int
        outputs:
          value:
            type: string
            reference: ${work.output}
        nodes:
        - name: work
          type: python
          source: {type: code, path: work.py}
          inputs: {i: "${inputs.i}"}
        - name: stats
          type: python
          source: {type: code, path: stats.py}
          inputs: {values: "${work.output}"}
          aggregation: true
        """,
}


@pytest.fixture
def flow(make_flow):
    return make_flow(FLOW, name="journaled")


def data_file(tmp_path: Path, lines: int = LINES) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps({"i": i}) + "\n" for i in range(lines)))
    return path


def journal_lines(folder: Path) -> list[int]:
    return [json.loads(line)["line_number"] for line in (folder / "line_results.jsonl").read_text().splitlines()]


def output_values(folder: Path) -> list[str]:
    return [json.loads(line)["value"] for line in (folder / "flow_outputs" / "output.jsonl").read_text().splitlines()]


def assert_complete(name: str, lines: int, expected_metrics: dict, pfl_json) -> Path:
    """Every line exactly once, in the journal, the outputs and the counts; metrics as an uninterrupted run."""
    run = pfl_json("run", "show", name)
    folder = Path(run["output_path"])
    assert (run["status"], run["completed_lines"], run["failed_lines"], run["total_lines"]) == \
        ("Completed", lines, 0, lines)
    assert sorted(journal_lines(folder)) == list(range(lines))  # each line once (in completion order)
    assert [int(v[:5]) for v in output_values(folder)] == list(range(lines))
    assert pfl_json("run", "show-metrics", name) == expected_metrics
    return folder


@pytest.fixture
def uninterrupted(flow, tmp_path, pfl_json):
    """The metrics of the same data run in one go."""
    assert pfl(["run", "create", "--flow", str(flow), "--data", str(data_file(tmp_path)), "--name", "whole"]) == 0
    return pfl_json("run", "show-metrics", "whole")


def interrupted_run(flow, tmp_path, pfl_json, name: str) -> Path:
    """A run whose lines 2, 7, 12... failed (so it can be resumed); returns its folder."""
    (flow / "broken").write_text("")
    assert pfl(["run", "create", "--flow", str(flow), "--data", str(data_file(tmp_path)), "--name", name]) == 1
    (flow / "broken").unlink()
    return Path(pfl_json("run", "show", name)["output_path"])


def test_a_record_torn_mid_write_is_cut_off_and_its_line_runs_again(flow, tmp_path, uninterrupted, pfl_json,
                                                                     capsys):
    folder = interrupted_run(flow, tmp_path, pfl_json, "torn")
    journal = folder / "line_results.jsonl"
    data = journal.read_bytes()
    last = data.rstrip(b"\n").rfind(b"\n") + 1
    journal.write_bytes(data[:last + (len(data) - last) // 2])  # the last record loses its second half
    torn_line = json.loads(data[last:])["line_number"]

    assert pfl(["run", "resume", "torn"]) == 0
    assert "1 torn or damaged record(s)" in capsys.readouterr().err
    folder = assert_complete("torn", LINES, uninterrupted, pfl_json)
    printed = Counter(line.rsplit("running ", 1)[1] for line in (folder / "logs.txt").read_text().splitlines()
                      if "stdout> running " in line)
    assert printed[str(torn_line)] == 2 and printed["0" if torn_line else "1"] == 1


def test_a_damaged_record_is_caught_by_its_checksum(flow, tmp_path, uninterrupted, pfl_json, capsys):
    folder = interrupted_run(flow, tmp_path, pfl_json, "damaged")
    journal = folder / "line_results.jsonl"
    records = journal.read_bytes().split(b"\n")
    victim = next(i for i, r in enumerate(records) if json.loads(r)["line_number"] == 10)
    records[victim] = records[victim].replace(b'"00010', b'"00099')  # still valid JSON, but not what was written
    journal.write_bytes(b"\n".join(records))

    assert pfl(["run", "resume", "damaged"]) == 0
    assert "1 torn or damaged record(s)" in capsys.readouterr().err
    assert_complete("damaged", LINES, uninterrupted, pfl_json)


def test_a_journal_written_by_the_previous_release_still_reads(flow, tmp_path, uninterrupted, pfl_json):
    folder = interrupted_run(flow, tmp_path, pfl_json, "legacy")
    journal = folder / "line_results.jsonl"
    entries = [json.loads(line) for line in journal.read_text().splitlines()]
    for entry in entries:
        entry.pop("_crc32")
    journal.write_text("".join(json.dumps(e) + "\n" for e in entries)[:-40])  # no checksums, a torn tail

    rows = pfl_json("run", "show-details", "legacy", "-o", "json")
    assert sum(r["status"] == "Completed" for r in rows) == sum(e["status"] == "Completed" for e in entries[:-1])
    assert pfl(["run", "resume", "legacy"]) == 0
    assert_complete("legacy", LINES, uninterrupted, pfl_json)


def test_surrogates_in_a_journal_record_round_trip(tmp_path):
    from promptflow_lite.runs._journal import JournalWriter, scan

    writer = JournalWriter(tmp_path / "line_results.jsonl")
    writer.append(json.dumps({"line_number": 0, "status": "Failed", "inputs": {"s": "a\ud800b"}}, ensure_ascii=False))
    writer.close()
    assert scan(tmp_path / "line_results.jsonl").entries[0]["inputs"] == {"s": "a\ud800b"}


# a disk that fills up -----------------------------------------------------------------------------


@contextmanager
def small_disk(tmp_path: Path, megabytes: int):
    """A PFL_HOME on a real 3 MB filesystem: ``(home, preexec, grow)``.

    A tmpfs of that size when this process may mount one (root), else a file size limit
    (``RLIMIT_FSIZE``) on the run's process, which makes the kernel fail its writes with EFBIG;
    ``grow()`` frees the space (a bigger tmpfs, or no limit).
    """
    mount_point = tmp_path / "small_disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(mount_point)],
                             capture_output=True).returncode == 0
    limit = {"bytes": megabytes * 1024 * 1024}

    def preexec() -> None:
        if not mounted and limit["bytes"]:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit["bytes"], resource.RLIM_INFINITY))

    def grow() -> None:
        if mounted:
            subprocess.run(["mount", "-o", "remount,size=256m", str(mount_point)], check=True)
        limit["bytes"] = 0

    try:
        yield mount_point / "home", preexec, grow, mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(mount_point)], check=False)


def pfl_process(home: Path, preexec, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PFL_HOME": str(home), "PAD": "1500", **(env or {})}
    return subprocess.run([sys.executable, "-m", "promptflow_lite.cli.main", *args], env=env, preexec_fn=preexec,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("point, at", [("line_results.jsonl", 120), ("logs.txt", 120), ("runs.sqlite", 120),
                                       ("flow_outputs", "aggregation")])
def test_a_full_disk_stops_the_run_whichever_file_fails_first_and_the_resume_completes_it(point, at, flow, tmp_path,
                                                                                          pfl_json, monkeypatch):
    lines, echo = 200, {"ECHO": "50", "PAD": "0"}  # the log grows faster than the journal (for "logs.txt")
    data = data_file(tmp_path, lines)
    monkeypatch.setenv("ECHO", echo["ECHO"])
    assert pfl(["run", "create", "--flow", str(flow), "--data", str(data), "--name", "roomy"]) == 0
    expected = pfl_json("run", "show-metrics", "roomy")
    home = tmp_path / "home"

    full = pfl_process(home, None, "run", "create", "--flow", str(flow), "--data", str(data), "--name", "full",
                       "--max-concurrency", "1",  # no other line in flight writes when the disk fills at line 120
                       env={**echo, "FILL_DISK": f"{point}@{at}", "PFL_INLINE_SYNC_TOOLS": "0"})
    said = full.stdout + full.stderr  # the summary (stdout), or the error when the index is full too (stderr)
    assert full.returncode == 1, said
    reason = "disk I/O error" if point == "runs.sqlite" else "File too large"  # SQLite's words for it, or the OS's
    assert f"({reason}); the run stops here" in said and "pfl run resume full" in said, said
    assert "Traceback" not in full.stderr and "lines failed" not in said, full.stderr
    if point == "logs.txt":
        assert "Cannot write the run log" in full.stderr
    if point == "runs.sqlite":
        assert "Cannot write the run's progress" in said
    if point == "flow_outputs":  # every line is in the journal; what is derived from it waits for the resume
        assert "Cannot write the run's results" in said
    journal = (home / "runs" / "full" / "line_results.jsonl").read_bytes()
    assert journal.endswith(b"\n")  # a failed record was cut back off: no torn tail
    recorded = journal.count(b"\n")
    assert recorded == lines if at == "aggregation" else 0 < recorded < lines

    resumed = pfl_process(home, None, "run", "resume", "full", env=echo)
    assert resumed.returncode == 0, resumed.stderr
    monkeypatch.setenv("PFL_HOME", str(home))
    assert_complete("full", lines, expected, pfl_json)


def test_a_run_log_that_cannot_be_written_costs_its_messages_never_the_run(flow, tmp_path, uninterrupted, pfl_json,
                                                                           capsys):
    folder = interrupted_run(flow, tmp_path, pfl_json, "unlogged")
    (folder / "logs.txt").unlink()
    (folder / "logs.txt").symlink_to("/dev/full")  # every write fails with ENOSPC, as on a full disk

    assert pfl(["run", "resume", "unlogged"]) == 0
    err = capsys.readouterr().err
    assert "Cannot write the run log" in err and "No space left on device" in err and "Traceback" not in err
    assert_complete("unlogged", LINES, uninterrupted, pfl_json)


def test_a_disk_too_small_for_the_run_s_files_fails_it_clearly_before_any_line(flow, tmp_path, pfl_json,
                                                                               monkeypatch):
    (flow / "weights.bin").write_bytes(os.urandom(2 * 1024 * 1024))  # the snapshot cannot fit in 1 MB
    data = data_file(tmp_path)
    with small_disk(tmp_path, 1) as (home, preexec, grow, mounted):
        full = pfl_process(home, preexec, "run", "create", "--flow", str(flow), "--data", str(data), "--name", "full")
        reason = "No space left on device" if mounted else "File too large"
        assert full.returncode == 1 and "Traceback" not in full.stderr, full.stderr
        assert f"could not write its files ({reason}); no line ran" in full.stderr
        assert "free disk space" in full.stderr
        grow()
        monkeypatch.setenv("PFL_HOME", str(home))
        run = pfl_json("run", "show", "full")
        assert run["status"] == "Failed" and "no line ran" in run["error"]["message"]
        assert not (home / "runs" / "full" / "snapshot").exists()  # the space it took is given back
        assert pfl(["run", "create", "--flow", str(flow), "--data", str(data), "--name", "again"]) == 0


def test_listing_runs_on_a_full_disk_says_so_without_a_traceback(flow, tmp_path):
    with small_disk(tmp_path, 1) as (home, preexec, grow, mounted):
        data = data_file(tmp_path, 3)
        assert pfl_process(home, preexec, "run", "create", "--flow", str(flow), "--data", str(data)).returncode == 0
        if mounted:
            with pytest.raises(OSError), open(home / "filler", "wb") as filler:
                while True:
                    filler.write(b"x" * 65536)
                    filler.flush()

        def tiny_file_limit():
            if not mounted:
                resource.setrlimit(resource.RLIMIT_FSIZE, (1, resource.RLIM_INFINITY))

        listed = pfl_process(home, tiny_file_limit, "run", "list")
        assert listed.returncode == 1 and "Traceback" not in listed.stderr, listed.stderr
        assert "runs.sqlite" in listed.stderr and "free disk space" in listed.stderr


def test_a_line_record_is_indexed_from_its_start_without_reading_the_whole_record(tmp_path, monkeypatch):
    # indexing a journal (finalisation, resume, the UI) reads only each record's head: the line's own
    # record starts with its format, line number and status, and is never parsed whole for that
    from promptflow_lite.engine._results import LineResult
    from promptflow_lite.runs import _journal
    from promptflow_lite.runs._journal import JournalWriter, record_head

    writer = JournalWriter(tmp_path / "line_results.jsonl")
    writer.append(LineResult(status="Completed", inputs={"q": "x" * 1000}, line_number=41).to_json())
    writer.close()
    monkeypatch.setattr(_journal, "unframe", lambda record: pytest.fail("the record was parsed whole"))
    raw = (tmp_path / "line_results.jsonl").read_bytes()
    assert raw.startswith(b'{"_crc32":"') and b'"format": ' in raw[:40]
    assert record_head(raw.rstrip(b"\n")) == (41, "Completed")


def test_a_completed_run_whose_journal_was_cut_afterwards_resumes_the_lost_lines(flow, tmp_path, uninterrupted,
                                                                                   pfl_json, capsys):
    assert pfl(["run", "create", "--flow", str(flow), "--data", str(data_file(tmp_path)), "--name", "cut"]) == 0
    folder = Path(pfl_json("run", "show", "cut")["output_path"])
    journal = folder / "line_results.jsonl"
    data = journal.read_bytes()
    journal.write_bytes(data[:len(data) // 2])  # e.g. a backup restored half-copied: whole lines lost, one torn

    assert pfl(["run", "resume", "cut"]) == 0
    assert "1 torn or damaged record(s)" in capsys.readouterr().err
    assert_complete("cut", LINES, uninterrupted, pfl_json)
    assert pfl(["run", "resume", "cut"]) == 0  # now whole: nothing left to do
    assert "nothing to resume" in capsys.readouterr().out
