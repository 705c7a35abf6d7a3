"""Benchmarks: promptflow_lite, and optionally promptflow 1.18.5 on the same work in the same invocation.

    python benchmarks/run.py [--suite startup,flowtest,batch,eval,grid,serve,tracing,ui,editor]
                             [--compare-promptflow /path/to/promptflow-venv] [--quick] [--runs N]

Writes ``benchmarks/results/bench_<time>.json`` (every run) and ``.md`` (the table; also
``latest.json`` / ``latest.md``) and prints the table. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import make_data  # noqa: E402
from _lib import report  # noqa: E402
from _lib.context import Context  # noqa: E402
from _lib.suites_batch import run_batch, run_tracing  # noqa: E402
from _lib.suites_eval import run_eval  # noqa: E402
from _lib.suites_grid import run_grid  # noqa: E402
from _lib.suites_serve import run_serve  # noqa: E402
from _lib.suites_startup import run_flowtest, run_startup  # noqa: E402
from _lib.suites_editor import run_editor  # noqa: E402
from _lib.suites_ui import run_ui  # noqa: E402
from _lib.tools import Promptflow, PromptflowLite  # noqa: E402

SUITES = {"startup": run_startup, "flowtest": run_flowtest, "batch": run_batch, "eval": run_eval,
          "grid": run_grid, "serve": run_serve, "tracing": run_tracing, "ui": run_ui, "editor": run_editor}
BENCH_DIR = Path(__file__).resolve().parent
FULL = {"chain": 5000, "llm": 1000, "parallel": 100, "serve": 2000, "requests": 2000}
QUICK = {"chain": 500, "llm": 100, "parallel": 20, "serve": 200, "requests": 200}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--suite", default=",".join(SUITES),
                        help=f"comma-separated suites (default: all): {','.join(SUITES)}")
    parser.add_argument("--compare-promptflow", metavar="VENV", type=Path,
                        help="a venv with promptflow==1.18.5: run the same work with it and give ratios")
    parser.add_argument("--quick", action="store_true", help="smoke test: fewer lines/requests, 1 run")
    parser.add_argument("--runs", type=int, help="repetitions per figure (default 3; 1 with --quick)")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results", help="results folder")
    parser.add_argument("--keep-scratch", action="store_true", help="keep the scratch folder (homes, runs)")
    args = parser.parse_args(argv)

    suites = [s.strip() for s in args.suite.split(",") if s.strip()]
    unknown = [s for s in suites if s not in SUITES]
    if unknown:
        parser.error(f"unknown suite(s) {', '.join(unknown)}; choose from {', '.join(SUITES)}")
    runs = args.runs or (1 if args.quick else 3)
    sizes = QUICK if args.quick else FULL
    started = datetime.datetime.now().replace(microsecond=0)
    scratch = Path(tempfile.mkdtemp(prefix="pfl-bench-"))
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    try:
        data_dir = scratch / "data" if args.quick else make_data.DATA_DIR
        data = make_data.generate(data_dir, {k: v for k, v in sizes.items() if k in make_data.FULL_SIZES})
        tools = {"pfl": PromptflowLite(scratch)}
        if args.compare_promptflow:
            tools["pf"] = Promptflow(scratch, args.compare_promptflow)
        ctx = Context(tools=tools, runs=runs, quick=args.quick, data=data, sizes=sizes, scratch=scratch, log=log)
        meta = {"started": started.isoformat(), "command": "python benchmarks/run.py " + shlex.join(sys.argv[1:]),
                "suites": suites, "runs": runs, "quick": args.quick, "sizes": sizes,
                "machine": report.machine_info(), "promptflow_lite": tools["pfl"].version(),
                "commit": report.git_commit(BENCH_DIR.parent), "fingerprint": _fingerprint(tools["pfl"]),
                "promptflow": tools["pf"].version() if "pf" in tools else None}
        log(f"scratch: {scratch}")
        for tool in tools.values():
            tool.prime()
        for name in suites:
            log(f"== {name}")
            try:
                SUITES[name](ctx)
            except Exception as exc:  # one broken suite must not lose the others' figures
                traceback.print_exc()
                ctx.skip(name, f"{name}_failed", f"suite `{name}`", f"failed: {type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}")
        meta["finished"] = datetime.datetime.now().replace(microsecond=0).isoformat()
        meta["commit_at_end"] = report.git_commit(BENCH_DIR.parent)
        meta["fingerprint_at_end"] = _fingerprint(tools["pfl"])
        meta["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
        json_path, md_path, table = report.write(args.out, ctx.figures, meta)
        print(table)
        log(f"written: {json_path}\n         {md_path}")
        return 0
    finally:
        if args.keep_scratch:
            log(f"scratch kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


def _fingerprint(pfl: PromptflowLite) -> str | None:
    from _lib.context import python_value

    folder = python_value(pfl.python(), "import os, promptflow_lite; print(os.path.dirname(promptflow_lite.__file__))")
    return report.source_fingerprint(Path(folder)) if folder else None


if __name__ == "__main__":
    sys.exit(main())
