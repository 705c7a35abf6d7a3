"""Big runs in flat memory: data read as a stream, finalisation and resume streamed from the journal."""

from __future__ import annotations

import filecmp
import json
import shutil
import tracemalloc
from pathlib import Path
from types import SimpleNamespace

import pytest

from promptflow_lite.runs import _data as run_data
from promptflow_lite.runs._data import iter_data, load_data
from promptflow_lite.runs._details import detail_rows
from promptflow_lite.runs._errors import DataError
from promptflow_lite.runs._finalize import finalize
from promptflow_lite.runs._journal import frame
from promptflow_lite.runs._journal_index import JournalIndex
from promptflow_lite.runs._mapping import map_lines, mapped_lines
from promptflow_lite.runs._store import RunFolder

GOLDEN = Path(__file__).parents[1] / "fixtures" / "finalize_0_1"


def test_finalisation_writes_the_same_files_as_the_in_memory_one_byte_for_byte(tmp_path):
    """``before/`` is an unfinished run folder (a shuffled journal with a line run twice, a damaged record, a torn
    tail; lines never run; a stale artifact file); ``expected/`` is what the in-memory finalisation (main at 8186f74) made
    of it. The streamed finalisation writes the same bytes."""
    folder = tmp_path / "run"
    shutil.copytree(GOLDEN / "before", folder)
    summary = finalize(RunFolder(folder), "gold")
    expected = sorted(p.relative_to(GOLDEN / "expected") for p in (GOLDEN / "expected").rglob("*") if p.is_file())
    written = sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())
    assert written == expected
    for name in expected:
        assert filecmp.cmp(folder / name, GOLDEN / "expected" / name, shallow=False), name
    assert (summary.completed, [n for n, _ in summary.failed]) == (25, [3, 10, 17, 101, 108])


def _big_journal(folder: Path, lines: int) -> int:
    """A journal of ``lines`` finished lines (each ~3 KB: five node runs), in completion order, some twice."""
    filler = "x" * 600
    with open(folder / "line_results.jsonl", "wb") as handle:
        for n in [*range(lines), *range(0, lines, 97)]:  # every 97th line was resumed: a second record
            nodes = [{"node": f"node{k}", "status": "Completed", "inputs": {"text": filler}, "output": n + k,
                      "start_time": 1.0, "end_time": 2.0} for k in range(5)]
            entry = {"line_number": n, "status": "Completed" if n % 10 else "Failed", "inputs": {"i": n},
                     "outputs": {"value": n, "text": filler}, "start_time": 1.0, "end_time": 2.0, "nodes": nodes}
            handle.write(frame(json.dumps(entry)))
    (folder / "inputs.jsonl").write_text("".join(json.dumps({"i": n, "line_number": n}) + "\n" for n in range(lines)))
    return (folder / "line_results.jsonl").stat().st_size


def test_finishing_and_resuming_a_big_run_hold_one_line_at_a_time(tmp_path):
    lines = 1500
    folder = RunFolder(tmp_path / "run").create()
    journal_bytes = _big_journal(folder.path, lines)
    tracemalloc.start()
    try:
        index = JournalIndex.build(folder.journal_file)  # what a resume reads
        resumed_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        summary = finalize(folder, "big")
        finished_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (index.completed_count, len(index), index.has_repeats) == (lines - lines // 10, lines, True)
    assert summary.completed == lines - lines // 10 and len(summary.failed) == lines // 10
    # the journal decoded whole takes ~4 times its size; a line (and one artifact file's 100 lines) at a time
    # takes a fraction of it
    assert journal_bytes > 5 * 2**20
    assert resumed_peak < journal_bytes / 20, (resumed_peak, journal_bytes)
    assert finished_peak < journal_bytes / 2, (finished_peak, journal_bytes)
    with open(folder.outputs_file, encoding="utf-8") as handle:
        numbers = [json.loads(text)["line_number"] for text in handle]
    assert numbers == [n for n in range(lines) if n % 10]
    assert len(list(folder.flow_artifacts.glob("*.jsonl"))) == lines // 100
    assert sum(1 for _ in open(folder.journal_file, "rb")) == lines  # one record per line, sorted


def test_a_data_file_is_read_as_its_rows_are_wanted(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps({"i": i, "pad": "p" * 100}) + "\n" for i in range(20000)))
    rows = iter_data(path)
    assert next(rows)["i"] == 0
    last = len(json.dumps({"i": 19999, "pad": "p" * 100})) + 1
    with open(path, "r+b") as handle:  # the last line breaks after the first row was read
        handle.seek(-last, 2)
        handle.write(b"{" + b"x" * (last - 2) + b"\n")
    *_, broken = rows  # read now: the broken line fails alone (its run line would), naming the file's line
    assert broken == {} and "line 20000: Invalid JSON" in broken.problem


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_tables_read_in_chunks_give_the_rows_of_a_whole_read(tmp_path, monkeypatch, suffix):
    import pandas as pd

    frame_ = pd.DataFrame({"q": [f"question {i}" for i in range(10)], "n": list(range(10))},
                          index=pd.Index([f"r{i}" for i in range(10)], name="row"))
    path = tmp_path / f"data{suffix}"
    if suffix == ".csv":
        frame_.to_csv(path, index=False)
    else:
        frame_.to_parquet(path)  # the index goes into the file's pandas metadata
    whole = load_data(path)
    monkeypatch.setattr(run_data, "CHUNK_ROWS", 3)
    assert load_data(path) == whole
    assert [row["q"] for row in whole] == [f"question {i}" for i in range(10)]
    assert all("__index_level_0__" not in row and "row" not in row for row in whole)


def test_a_bad_csv_row_in_a_later_chunk_names_the_file(tmp_path, monkeypatch):
    path = tmp_path / "data.csv"
    path.write_text("q,a\n" + "".join(f"x{i},y{i}\n" for i in range(8)) + 'bad,"unclosed\n')
    monkeypatch.setattr(run_data, "CHUNK_ROWS", 3)
    with pytest.raises(DataError) as caught:
        load_data(path)
    assert "data.csv" in str(caught.value)


def test_an_evaluation_over_a_big_base_run_maps_its_lines_one_at_a_time(tmp_path):
    lines = 1500
    base = RunFolder(tmp_path / "base").create()
    journal_bytes = _big_journal(base.path, lines)  # completion order, every 10th line failed, some run twice
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"truth": n, "pad": "p" * 600}) + "\n" for n in range(lines)))
    sources = {"data": lambda: iter_data(data), "run.outputs": base.resolved_outputs_source()}
    inputs = {"answer": SimpleNamespace(default=None), "truth": SimpleNamespace(default=None)}
    warnings = []

    def evaluation_lines():
        mapped = mapped_lines(inputs, sources, {"answer": "${run.outputs.value}"}, warn=warnings.append,
                              only=set(range(0, lines, 2)))
        return mapped, [(n, values["answer"], values["truth"]) for n, values in mapped]

    (mapped, pairs), peak = _traced_peak(evaluation_lines)
    wanted = [n for n in range(0, lines, 2) if n % 10]  # the sample's lines the base run completed
    assert pairs == [(n, n, n) for n in wanted] and mapped.count == len(wanted)
    assert warnings == [f"{lines // 10} of {lines // 2} lines are DROPPED because source 'run.outputs' has no row for "
                        "them: line(s) 0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160, 170, "
                        "180, 190, ...."]
    assert peak < journal_bytes / 20, (peak, journal_bytes)  # decoded whole, the journal takes ~4 times its size


def test_rows_numbered_out_of_order_are_joined_by_their_line_number(tmp_path):
    data = [{"line_number": n, "q": f"q{n}"} for n in (2, 0, 1, 0)]  # line 0 twice: its last row counts
    outputs = [{"line_number": n, "a": f"a{n}"} for n in (0, 1, 2)]
    lines = map_lines({"q": SimpleNamespace(default=None), "a": SimpleNamespace(default=None)},
                      {"data": data, "run.outputs": outputs}, {"a": "${run.outputs.a}"})
    assert lines == [(0, {"q": "q0", "a": "a0"}), (1, {"q": "q1", "a": "a1"}), (2, {"q": "q2", "a": "a2"})]


def test_the_first_details_of_a_big_run_are_read_without_its_whole_journal(tmp_path):
    lines = 1500
    folder = RunFolder(tmp_path / "run").create()
    journal_bytes = _big_journal(folder.path, lines)
    rows, peak = _traced_peak(lambda: detail_rows(folder, failed_only=True, max_results=3))
    assert [(r["line_number"], r["status"], r["outputs.value"]) for r in rows] == [
        (0, "Failed", None), (10, "Failed", None), (20, "Failed", None)]
    assert list(rows[0])[:5] == ["line_number", "inputs.i", "outputs.value", "outputs.text", "status"]
    assert peak < journal_bytes / 20, (peak, journal_bytes)
    shown = detail_rows(folder, max_results=2)
    assert [(r["line_number"], r["outputs.value"]) for r in shown] == [(0, None), (1, 1)]


def _traced_peak(call):
    """``call()``'s result and the peak of the memory traced while it ran."""
    tracemalloc.start()
    try:
        return call(), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
