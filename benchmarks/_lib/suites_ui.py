"""ui (promptflow_lite only): how fast the ``pfl ui`` pages answer on large stores.

- The Traces page with 100,000 spans in the trace store (a traced run of the chain flow: each line
  is its own span and 5 node spans).
- One 1,000-span trace (``flows/spans1000``: a line, its node and 998 ``@trace`` calls): the page's
  server time, and in Chromium from the navigation until its waterfall is painted.
- A 50,000-line run's page (the chain flow, untraced): the first open, which indexes the run's
  journal, and a reopen.

Server time is the page's script run under Streamlit's AppTest (``_lib/ui_timing.py``, imports
warm as in a running app), each open a new session.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import sqlite3
from pathlib import Path

import make_data
from _lib.context import Context
from _lib.measure import run_measured
from _lib.suites_batch import CHAIN_MAPPING

SPANS_PER_LINE = 6  # chain5: the line and its 5 nodes
TIMING = Path(__file__).resolve().parent / "ui_timing.py"


def run_ui(ctx: Context) -> None:
    tool = ctx.tools["pfl"]
    spans_wanted, details_lines = (10_000, 5_000) if ctx.quick else (100_000, 50_000)
    home = tool.scratch / "ui_home"
    shutil.rmtree(home, ignore_errors=True)
    env = {**tool.env(), "PFL_HOME": str(home)}
    folder = ctx.scratch / "ui_data"
    folder.mkdir(exist_ok=True)

    traced = _data(folder / "traced.jsonl", math.ceil(spans_wanted / SPANS_PER_LINE))
    ctx.measure(tool, tool.run_create_command(ctx.flow(tool, "chain5"), traced, CHAIN_MAPPING, "ui_traced"), env,
                "traced chain run for the trace store")
    spans = _spans(home / "traces.sqlite")
    listing = ctx.figure("ui", "trace_list", f"Traces page, {spans:,} spans in the store", "s",
                         target=("at_most", 1), memory_target=False,
                         note="server time: the page's script (list, count, filter choices) under AppTest")
    for _ in range(ctx.runs):
        listing.values.setdefault("pfl", []).extend(_timing(ctx, tool, env, "traces"))

    ctx.measure(tool, tool.cli() + ["flow", "test", "--flow", str(ctx.flow(tool, "spans1000"))], env,
                "one 1,000-span trace")
    trace_id = _trace_id(tool, env)
    server = ctx.figure("ui", "trace_1000", "A 1,000-span trace (tree, waterfall, details)", "s",
                        target=("at_most", 2), memory_target=False, note="server time under AppTest")
    browser = ctx.figure("ui", "trace_1000_browser", "… in Chromium until the waterfall is painted", "s",
                         target=("at_most", 2), memory_target=False,
                         note="a real `pfl ui`; from the navigation until the app is idle and the chart drawn")
    for _ in range(ctx.runs):
        server.values.setdefault("pfl", []).extend(_timing(ctx, tool, env, "traces", f"trace={trace_id}"))
    if Path("/usr/bin/chromium").exists():
        browser.values.setdefault("pfl", []).extend(_timing(ctx, tool, env, "traces", f"trace={trace_id}",
                                                            browser=True))
    else:
        browser.skipped = "no /usr/bin/chromium on this machine"

    details = _data(folder / "details.jsonl", details_lines)
    ctx.measure(tool, tool.run_create_command(ctx.flow(tool, "chain5"), details, CHAIN_MAPPING, "ui_details"),
                {**env, "PFL_TRACING": "off"}, f"untraced chain run of {details_lines:,} lines")
    first = ctx.figure("ui", "run_page_first", f"A {details_lines:,}-line run's page, first open", "s",
                       target=("at_most", 1), memory_target=False,
                       note="server time under AppTest; the first open indexes the run's journal")
    again = ctx.figure("ui", "run_page", "… reopened", "s", target=("at_most", 1), memory_target=False,
                       note="server time under AppTest; the line index is there")
    for _ in range(ctx.runs):
        _forget_line_index(home, "ui_details")
        seconds = _timing(ctx, tool, env, "runs", "run=ui_details")
        first.add("pfl", seconds[0])
        again.values.setdefault("pfl", []).extend(seconds[1:])


def _data(path: Path, lines: int) -> Path:
    rows = make_data.chain_rows(lines, random.Random(f"ui-{lines}"))
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _spans(store: Path) -> int:
    with sqlite3.connect(store) as db:
        rows, children = db.execute("SELECT COUNT(*), COALESCE(SUM(json_array_length(children)), 0) FROM spans"
                                    ).fetchone()
    return rows + children


def _trace_id(tool, env: dict[str, str]) -> str:
    sample = run_measured(tool.cli() + ["trace", "list", "--flow", "spans1000", "-o", "json"], env=env)
    return json.loads(sample.check("pfl trace list").stdout)[0]["trace_id"]


def _forget_line_index(home: Path, run: str) -> None:
    with sqlite3.connect(home / "runs.sqlite") as db:
        for table in ("run_lines", "run_journals"):
            db.execute(f"DELETE FROM {table} WHERE run = ?", (run,))


def _timing(ctx: Context, tool, env: dict[str, str], page: str, *params: str, browser: bool = False) -> list[float]:
    command = [tool.python(), str(TIMING), page, *params, "--opens", "3"] + (["--browser"] if browser else [])
    sample = run_measured(command, env=env, cwd=str(tool.scratch), timeout=1800).check(f"ui timing of {page}")
    result = json.loads(sample.stdout.strip().splitlines()[-1])
    if result["errors"]:
        raise RuntimeError(f"the {page} page showed errors: {result['errors'][:3]}")
    ctx.log(f"  pfl  {page} {' '.join(params)}{' (chromium)' if browser else ''}: "
            + ", ".join(f"{s:.3f}" for s in result["seconds"]) + " s")
    return result["seconds"]
