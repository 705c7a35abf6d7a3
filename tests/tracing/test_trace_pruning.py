"""Pruning the trace store to a size or age cap: `pfl trace prune`, `pfl config set trace.*`, the writer's own pruning."""

from __future__ import annotations

import json
import sqlite3

import pytest

from promptflow_lite import Client
from promptflow_lite.cli.main import main as pfl
from promptflow_lite.engine import load_flow
from promptflow_lite.tracing import count_traces, disable_tracing, enable_tracing, flush_tracing, list_traces

HEADER = "from promptflow.core import tool\n"
ECHO = {
    "echo.py": HEADER + "@tool\ndef echo(text: str) -> str:\n    return text * 2\n",
    "flow.dag.yaml": """
        inputs:
          text: {type: string}
        outputs:
          out: {type: string, reference: "${echo.output}"}
        nodes:
        - {name: echo, type: python, source: {type: code, path: echo.py}, inputs: {text: "${inputs.text}"}}
        """,
}
DAY = 86400.0


@pytest.fixture
def echo(make_flow):
    return make_flow(ECHO, name="echo")


def trace_lines(flow_dir, run: str, count: int, size: int = 2000) -> None:
    """``count`` traced lines of batch run ``run``, each ~``size`` bytes of input."""
    assert enable_tracing()
    flow = load_flow(flow_dir)
    for n in range(count):
        flow.run({"text": f"{run}-{n}-" + "x" * size}, line_number=n,
                 attributes={"batch_run_id": run, "line_number": n})
    flush_tracing()
    disable_tracing()


def age(store, run: str, days: float, lines: range | None = None) -> None:
    """Make the traces of ``run`` (or of these line numbers) as if they had started ``days`` earlier."""
    shift = days * DAY
    picked = "run = ?" + (f" AND line_number BETWEEN {lines.start} AND {lines.stop - 1}" if lines else "")
    with sqlite3.connect(store) as db:
        ids = [r[0] for r in db.execute(f"SELECT trace_id FROM line_runs WHERE {picked}", (run,))]
        marks = ", ".join("?" * len(ids))
        db.execute(f"UPDATE line_runs SET start_time = start_time - ?, end_time = end_time - ? "
                   f"WHERE trace_id IN ({marks})", (shift, shift, *ids))
        db.execute(f"UPDATE spans SET start_time = start_time - ?, end_time = end_time - ? WHERE trace_id IN ({marks})",
                   (shift, shift, *ids))


def runs_left() -> dict[str, int]:
    found: dict[str, int] = {}
    for trace in list_traces(limit=None):
        found[trace["run"]] = found.get(trace["run"], 0) + 1
    return found


def used_bytes(store) -> int:
    with sqlite3.connect(store) as db:
        pages = db.execute("PRAGMA page_count").fetchone()[0] - db.execute("PRAGMA freelist_count").fetchone()[0]
        return pages * db.execute("PRAGMA page_size").fetchone()[0]


def test_prune_by_age_deletes_only_older_traces_and_dry_run_deletes_nothing(echo, pfl_home, capsys):
    trace_lines(echo, "old", 4)
    trace_lines(echo, "recent", 3)
    store = pfl_home / "traces.sqlite"
    age(store, "old", 40)
    age(store, "recent", 20)

    assert pfl(["trace", "prune", "--max-age-days", "30", "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("Would delete 4 traces (started up to ")
    assert runs_left() == {"old": 4, "recent": 3}

    assert pfl(["trace", "prune", "--max-age-days", "30"]) == 0
    assert capsys.readouterr().out.startswith("Deleted 4 traces")
    assert runs_left() == {"recent": 3}
    with sqlite3.connect(store) as db:  # their spans went too
        assert db.execute("SELECT COUNT(*) FROM spans").fetchone()[0] == 3


def test_prune_by_size_from_the_config_deletes_the_oldest_and_gives_the_space_back(echo, pfl_home, capsys):
    trace_lines(echo, "first", 150, size=4000)
    trace_lines(echo, "second", 150, size=4000)
    store = pfl_home / "traces.sqlite"
    age(store, "first", 2)
    age(store, "second", 1)
    before_file, before_used = store.stat().st_size, used_bytes(store)
    cap_mb = before_used * 0.7 / 2**20  # pruned down to 90 % of the cap: about a third of the traces go

    assert pfl(["trace", "prune"]) == 1
    assert "No cap to prune the traces to" in capsys.readouterr().err
    assert pfl(["config", "set", f"trace.max_size_mb={cap_mb}"]) == 0
    assert json.loads((pfl_home / "config.json").read_text()) == {"trace.max_size_mb": cap_mb}
    capsys.readouterr()

    assert pfl(["trace", "prune"]) == 0
    assert capsys.readouterr().out.startswith("Deleted ")
    left = runs_left()
    assert left.get("second") == 150 and 0 < 150 - left.get("first", 0)  # oldest first, the newer run whole
    assert used_bytes(store) <= cap_mb * 2**20
    assert store.stat().st_size < before_file * 0.8  # freed pages went back to the disk
    kept = sorted(t["line_number"] for t in list_traces(run="first", limit=None))
    assert kept == list(range(150 - len(kept), 150))  # what stayed of "first" is its newest lines


def test_the_writer_prunes_by_the_environment_cap_but_never_a_run_in_progress(echo, pfl_home, monkeypatch, tmp_path):
    trace_lines(echo, "ancient", 5)
    store = pfl_home / "traces.sqlite"
    age(store, "ancient", 90)
    trace_lines(echo, "ongoing", 6)
    age(store, "ongoing", 90, lines=range(0, 3))  # a long run: its first lines are old, its latest are new
    monkeypatch.setenv("PFL_TRACE_MAX_AGE_DAYS", "30")

    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"text": f"line {n}"}) + "\n" for n in range(20)))
    run = Client().run(echo, data=data, name="now", column_mapping={"text": "${data.text}"})
    assert run.status == "Completed"

    assert runs_left() == {"ongoing": 6, "now": 20}  # the writer pruned on its own; the run kept every trace
    assert count_traces(run="now") == 20


def test_config_rejects_unknown_keys_and_bad_values(capsys, pfl_home):
    assert pfl(["config", "set", "trace.max_age_days=soon"]) == 1
    assert "trace.max_age_days = 'soon'" in capsys.readouterr().err
    assert pfl(["config", "set", "trace.max_days=3"]) == 1
    assert "Unknown setting 'trace.max_days'" in capsys.readouterr().err
    assert not (pfl_home / "config.json").exists()
    assert pfl(["config", "set", "trace.max_age_days=7"]) == 0 and pfl(["config", "show"]) == 0
    assert "trace.max_age_days = 7  [from pfl config]" in capsys.readouterr().out
    assert pfl(["config", "set", "trace.max_age_days="]) == 0
    assert capsys.readouterr().out.startswith("trace.max_age_days cleared")
    assert pfl(["config", "show", "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["trace.max_age_days"] is None
    with pytest.raises(SystemExit):
        pfl(["trace", "prune", "--max-size-mb", "-1"])
    assert "'-1' is not a positive number" in capsys.readouterr().err


def test_a_store_from_an_earlier_release_is_compacted_by_a_prune_and_prunes_incrementally_after(echo, pfl_home,
                                                                                                   capsys):
    store = pfl_home / "traces.sqlite"
    pfl_home.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(store) as db:  # as releases before incremental vacuum made it
        db.execute("PRAGMA journal_mode = WAL")
    trace_lines(echo, "old", 60, size=4000)
    trace_lines(echo, "new", 5)
    age(store, "old", 60)
    with sqlite3.connect(store) as db:
        assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
    before = store.stat().st_size

    assert pfl(["trace", "prune", "--max-age-days", "30"]) == 0
    assert capsys.readouterr().out.startswith("Deleted 60 traces")
    assert runs_left() == {"new": 5}
    assert store.stat().st_size < before / 3
    with sqlite3.connect(store) as db:
        assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental from now on
