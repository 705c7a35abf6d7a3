"""Time and peak memory of a batch run as it grows: ``python benchmarks/scale.py``.

    python benchmarks/scale.py [--sizes 10000,100000,1000000] [--runs 1] [--tracing on|off|on,off]
    python benchmarks/scale.py --plot results/scale_<time>.json     # redraw the chart of a results file

The 5-node pure-python chain (``flows/chain5``) over each size of data (generated like
``make_data.py``'s chain rows, streamed to disk), each run a fresh ``pfl run create`` process with
default settings (tracing on unless ``--tracing off``). Per size: wall time, lines/s, and the peak
RSS of the whole process tree (the trace writer included), sampled as ``run.py`` does
(``_lib/measure.py``). Flat memory shows as the same peak at every size; linear time as the same
lines/s. Results: ``benchmarks/results/scale_<time>.json``, the printed table and a chart next to the
JSON (``scale_<time>.svg``: wall time, CPU time per line and peak RSS against the size). The million-line
run takes several minutes on 2 cores and writes ~3 GB to the scratch folder (deleted at the end
unless ``--keep-scratch``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from _lib.measure import run_measured  # noqa: E402
from _lib.svgplot import Panel, render  # noqa: E402
from make_data import chain_rows  # noqa: E402

FLOW = BENCH_DIR / "flows" / "chain5"
MAPPING = {"text": "${data.text}", "number": "${data.number}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated line counts")
    parser.add_argument("--runs", type=int, default=1, help="repetitions of each size (median reported)")
    parser.add_argument("--tracing", default="on", help="on, off, or on,off (both, per size)")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results")
    parser.add_argument("--keep-scratch", action="store_true")
    parser.add_argument("--plot", type=Path, metavar="RESULTS_JSON", help="only redraw the chart of a results file")
    args = parser.parse_args(argv)
    if args.plot:
        write_chart(json.loads(args.plot.read_text()), args.plot.with_suffix(".svg"))
        return 0
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    modes = [m.strip() for m in args.tracing.split(",") if m.strip()]
    if not modes or set(modes) - {"on", "off"}:
        parser.error("--tracing takes on, off or on,off")

    scratch = Path(tempfile.mkdtemp(prefix="pfl-scale-bench-"))
    pfl = str(Path(sys.executable).with_name("pfl"))
    flow = scratch / "chain5"
    shutil.copytree(FLOW, flow)
    results, loads = [], [os.getloadavg()]
    try:
        for size in sizes:
            data = scratch / f"chain_{size}.jsonl"
            write_data(data, size)
            for rep in range(args.runs):
                for mode in modes:
                    results.append(measure(pfl, flow, data, scratch, size, rep, mode))
            data.unlink()
    finally:
        if not args.keep_scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    loads.append(os.getloadavg())
    for mode in modes:
        if len(modes) > 1:
            print(f"tracing {mode}:")
        print(table([r for r in results if r["tracing"] == mode], sizes))
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d_%H%M%S")
    report = {"results": results, "load_start": loads[0], "load_end": loads[-1], "tracing": args.tracing,
              "commit": commit(), "cpus": os.cpu_count(), "python": sys.version.split()[0]}
    (args.out / f"scale_{stamp}.json").write_text(json.dumps(report, indent=2))
    write_chart(report, args.out / f"scale_{stamp}.svg")
    return 0


def measure(pfl: str, flow: Path, data: Path, scratch: Path, size: int, rep: int, mode: str) -> dict:
    """One ``pfl run create`` of ``size`` lines with tracing ``mode``, checked and measured."""
    name = f"scale_{size}_{rep}_{mode}"
    env = {**os.environ, "PFL_HOME": str(scratch / "home"), "PFL_TRACING": mode}
    cmd = [pfl, "run", "create", "--flow", str(flow), "--data", str(data), "--name", name,
           "--column-mapping", *(f"{k}={v}" for k, v in MAPPING.items())]
    sample = run_measured(cmd, env=env, timeout=6 * 3600).check(f"{size:,} lines")
    produced = count_lines(scratch / "home" / "runs" / name / "flow_outputs" / "output.jsonl")
    if produced != size:
        raise RuntimeError(f"{size:,} lines: only {produced:,} outputs")
    log(f"{size:>9,} lines, tracing {mode}: {sample.seconds:8.1f} s  {size / sample.seconds:7,.0f} lines/s  "
        f"CPU {sample.cpu_seconds:7.1f} s  peak RSS {sample.peak_rss_mb:6.0f} MB  (load {os.getloadavg()[0]:.1f})")
    shutil.rmtree(scratch / "home" / "runs" / name, ignore_errors=True)  # disk, not memory
    return {"lines": size, "tracing": mode, "seconds": sample.seconds, "peak_rss_mb": sample.peak_rss_mb,
            "cpu_seconds": sample.cpu_seconds, "load": os.getloadavg()}


def write_chart(report: dict, path: Path) -> None:
    """Wall time, CPU time per line and peak RSS against the size, one line per tracing mode (medians)."""
    panels = [Panel("Wall time", "seconds", log_y=True), Panel("CPU time per line", "ms (process tree)"),
              Panel("Peak RSS (process tree)", "MB")]
    results = report["results"]
    for mode in dict.fromkeys(r.get("tracing", report.get("tracing", "on")) for r in results):
        mine = [r for r in results if r.get("tracing", report.get("tracing", "on")) == mode]
        label = f"tracing {mode}"
        for size in sorted({r["lines"] for r in mine}):
            runs = [r for r in mine if r["lines"] == size]
            panels[0].series.setdefault(label, []).append((size, statistics.median(r["seconds"] for r in runs)))
            panels[1].series.setdefault(label, []).append(
                (size, statistics.median(r["cpu_seconds"] for r in runs) / size * 1000))
            panels[2].series.setdefault(label, []).append((size, statistics.median(r["peak_rss_mb"] for r in runs)))
    caption = f"chain5, commit {report.get('commit', '?')}, {report.get('cpus', '?')} CPUs"
    path.write_text(render(panels, "lines (log scale)", caption), encoding="utf-8")
    log(f"chart: {path}")


def write_data(path: Path, size: int, seed: int = 20240601) -> None:
    """``size`` chain rows, written in blocks (the generator never holds the whole file)."""
    rng = random.Random(f"{seed}-chain")
    with path.open("w", encoding="utf-8") as handle:
        for start in range(0, size, 10_000):
            handle.writelines(json.dumps(row) + "\n" for row in chain_rows(min(10_000, size - start), rng))


def count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def table(results: list[dict], sizes: list[int]) -> str:
    rows = ["| Lines | Wall time | Lines/s | Peak RSS (tree) | Peak ÷ smallest size's |", "|---|---|---|---|---|"]
    base = None
    for size in sizes:
        mine = [r for r in results if r["lines"] == size]
        seconds = statistics.median(r["seconds"] for r in mine)
        peak = statistics.median(r["peak_rss_mb"] for r in mine)
        base = base or peak
        rows.append(f"| {size:,} | {seconds:,.1f} s | {size / seconds:,.0f} | {peak:,.0f} MB | {peak / base:.2f}× |")
    return "\n".join(rows)


def commit() -> str:
    found = subprocess.run(["git", "-C", str(BENCH_DIR), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return found.stdout.strip()


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
