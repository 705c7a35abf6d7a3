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
        "@tool\n"
        "def work(i: int) -> str:\n"
        "    print(f'running {i}')\n"
        "    if i % 5 == 2 and os.path.exists('broken'):\n"
        "        raise RuntimeError(f'line {i} is broken')\n"
        "    return f'{i:05d}' + 'x' * int(os.environ.get('PAD', '0'))\n"),
    "stats.py": (
        "from promptflow.core import tool, log_metric\n"
        "@tool\n"
        "def stats(values: list) -> dict:\n"
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


def pfl_process(home: Path, preexec, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PFL_HOME": str(home), "PAD": "1500"}
    return subprocess.run([sys.executable, "-m", "promptflow_lite.cli.main", *args], env=env, preexec_fn=preexec,
                          capture_output=True, text=True, timeout=600)


def test_a_full_disk_stops_the_run_and_the_resume_completes_it_exactly(flow, tmp_path, pfl_json, monkeypatch):
    lines = 2000  # ~7 MB of journal with 1.5 kB outputs: cannot fit in 3 MB
    data = data_file(tmp_path, lines)
    monkeypatch.setenv("PAD", "1500")
    assert pfl(["run", "create", "--flow", str(flow), "--data", str(data), "--name", "roomy"]) == 0
    expected = pfl_json("run", "show-metrics", "roomy")

    with small_disk(tmp_path, 3) as (home, preexec, grow, mounted):
        full = pfl_process(home, preexec, "run", "create", "--flow", str(flow), "--data", str(data), "--name", "full")
        assert full.returncode == 1
        reason = "No space left on device" if mounted else "File too large"
        said = full.stdout + full.stderr  # the summary (stdout), or the error when the index is full too (stderr)
        assert f"({reason}); the run stops here" in said and "pfl run resume full" in said
        assert "Traceback" not in full.stderr and "lines failed" not in said
        journal = home / "runs" / "full" / "line_results.jsonl"
        written = journal.read_bytes()
        assert written.endswith(b"\n")  # the failed record was cut back off: no torn tail
        assert 0 < written.count(b"\n") < lines

        grow()
        resumed = pfl_process(home, preexec, "run", "resume", "full")
        assert resumed.returncode == 0, resumed.stderr
        monkeypatch.setenv("PFL_HOME", str(home))
        assert_complete("full", lines, expected, pfl_json)
