"""The Ray engine against the local engine on CPU-bound work: ``python benchmarks/ray_engine.py``.

    python benchmarks/ray_engine.py [--lines 2000] [--actors 2] [--runs 3]

A flow with one pure-Python node of ~20 ms per line (``flows/cpu20ms``: it holds the GIL, so one
process runs one line at a time however many are in flight) over ``--lines`` lines, each run a
fresh ``pfl run create`` process with default settings (tracing on):

- ``local``: the local engine;
- ``ray, private cluster``: ``--engine ray --ray-actors N`` - the command starts its own cluster;
- ``ray, running cluster``: the same, joining a cluster started once beforehand (``--ray-address``),
  as on a machine where ``ray start --head`` runs.

Figures: the wall time of the command; the time the lines took (first line start to last line end,
from the run's journal); the speed-up of the lines; the Ray engine's fixed start-up cost (cluster,
workers, flow loaded in each: the run log's "ready in"). Local and Ray runs alternate, so that
load from elsewhere hits both alike; the load average is recorded. Outputs and metrics of every
run are checked equal. Results: ``benchmarks/results/ray_<time>.json`` and the printed table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
FLOW = BENCH_DIR / "flows" / "cpu20ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--actors", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3, help="repetitions of each mode (median reported)")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results")
    args = parser.parse_args(argv)

    scratch = Path(tempfile.mkdtemp(prefix="pfl-ray-bench-"))
    data = scratch / "seeds.jsonl"
    data.write_text("".join(json.dumps({"seed": i}) + "\n" for i in range(args.lines)))
    env = {**os.environ, "PFL_HOME": str(scratch / "home")}
    log(f"scratch: {scratch}; per-line work: {line_cpu_ms():.1f} ms of CPU (one line, alone)")
    loads = [os.getloadavg()]
    samples: dict[str, list[dict]] = {"local": [], "ray, private cluster": [], "ray, running cluster": []}
    ray = ["--engine", "ray", "--ray-actors", str(args.actors)]
    for rep in range(args.runs):
        samples["local"].append(run(env, data, f"local_{rep}", []))
        samples["ray, private cluster"].append(run(env, data, f"private_{rep}", ray))
    loads.append(os.getloadavg())
    cluster = start_cluster()  # after the private-cluster runs: its idle processes stay out of their way
    for rep in range(args.runs):
        samples["local"].append(run(env, data, f"local_again_{rep}", []))
        samples["ray, running cluster"].append(run({**os.environ, **env}, data, f"joined_{rep}",
                                                   ray + ["--ray-address", cluster]))
    loads.append(os.getloadavg())
    check_same_results(env, samples)
    table = report(samples, args, loads)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d_%H%M%S")
    (args.out / f"ray_{stamp}.json").write_text(json.dumps(
        {"args": {k: str(v) for k, v in vars(args).items()}, "samples": samples, "load_average": loads,
         "cpus": os.cpu_count(), "python": sys.version.split()[0]}, indent=2))
    (args.out / f"ray_{stamp}.md").write_text(table + "\n")
    return 0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def line_cpu_ms() -> float:
    """The CPU time of one line's work, measured in a fresh interpreter (median of 5)."""
    code = ("import sys, time; from promptflow_lite._compat import install_fallback; install_fallback(); "
            f"sys.path.insert(0, {str(FLOW)!r}); import work; t = []\n"
            "for s in range(5):\n    c = time.process_time(); work.work(s); t.append(time.process_time() - c)\n"
            "print(sorted(t)[2] * 1000)")
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def run(env: dict[str, str], data: Path, name: str, options: list[str]) -> dict:
    """One ``pfl run create``: wall time, the lines' span from the journal, the Ray engine's start-up."""
    command = [sys.executable, "-m", "promptflow_lite.cli.main", "run", "create", "--flow", str(FLOW),
               "--data", str(data), "--name", name, *options]
    began = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{name} failed:\n{done.stdout}\n{done.stderr}")
    folder = Path(env["PFL_HOME"]) / "runs" / name
    entries = [json.loads("{" + line.split(",", 1)[1]) for line in
               (folder / "line_results.jsonl").read_text().splitlines()]
    lines = max(e["end_time"] for e in entries) - min(e["start_time"] for e in entries)
    ready = re.search(r"ready in ([\d.]+) s \(cluster ([\d.]+) s\)", (folder / "logs.txt").read_text())
    sample = {"name": name, "wall": wall, "lines_seconds": lines, "lines": len(entries),
              "ready": float(ready.group(1)) if ready else None, "cluster": float(ready.group(2)) if ready else None}
    log(f"  {name}: {wall:.1f} s wall, lines {lines:.1f} s" + (f", ready in {sample['ready']:.1f} s" if ready else ""))
    return sample


def start_cluster() -> str:
    """A cluster on 127.0.0.1 that outlives the runs (as `ray start --head` would); returns its address."""
    from promptflow_lite.runs._ray_cluster import connect

    return connect("local").address


def check_same_results(env: dict[str, str], samples: dict[str, list[dict]]) -> None:
    results = set()
    for mode in samples.values():
        for sample in mode:
            folder = Path(env["PFL_HOME"]) / "runs" / sample["name"]
            outputs = (folder / "flow_outputs" / "output.jsonl").read_text()
            results.add((outputs, (folder / "metrics.json").read_text()))
    if len(results) != 1:
        raise SystemExit("The runs' outputs or metrics differ between engines.")


def report(samples: dict[str, list[dict]], args: argparse.Namespace, loads: list) -> str:
    def median(mode: str, key: str) -> float:
        return statistics.median(s[key] for s in samples[mode])

    def spread(mode: str, key: str) -> str:
        values = [s[key] for s in samples[mode]]
        return f"{statistics.median(values):.1f} s ({min(values):.1f}–{max(values):.1f})"

    local_lines, local_wall = median("local", "lines_seconds"), median("local", "wall")
    rows = ["| Engine | Command wall time | Lines (first start → last end) | Lines speed-up | Wall speed-up "
            "| Ray start-up (cluster) |", "|---|---|---|---|---|---|"]
    for mode in samples:
        startup = "—"
        if mode != "local":
            startup = f"{median(mode, 'ready'):.1f} s ({median(mode, 'cluster'):.1f} s)"
        rows.append(f"| {mode} | {spread(mode, 'wall')} | {spread(mode, 'lines_seconds')} "
                    f"| {local_lines / median(mode, 'lines_seconds'):.2f}× | {local_wall / median(mode, 'wall'):.2f}× "
                    f"| {startup} |")
    loads_text = " → ".join("/".join(f"{x:.1f}" for x in load) for load in loads)
    return "\n".join(rows + ["", f"{args.lines:,} lines of ~20 ms pure-Python work (`flows/cpu20ms`), "
                             f"{args.actors} Ray workers, median of {args.runs} runs (min–max); "
                             f"{os.cpu_count()} CPUs; load average (1/5/15 min) {loads_text}."])


if __name__ == "__main__":
    sys.exit(main())
