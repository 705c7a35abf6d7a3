"""What every suite shares: the tools, data, flow copies, repetitions, and measuring helpers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from _lib.figures import Figure
from _lib.measure import Sample, run_measured
from _lib.tools import Tool

BENCH_DIR = Path(__file__).resolve().parents[1]
FLOWS_DIR = BENCH_DIR / "flows"


@dataclass
class Context:
    tools: dict[str, Tool]
    runs: int
    quick: bool
    data: dict[str, Path]
    sizes: dict[str, int]
    scratch: Path
    figures: list[Figure] = field(default_factory=list)
    log: Callable[[str], None] = print

    def flow(self, tool: Tool, name: str) -> Path:
        """The tool's own copy of a benchmark flow (tools write ``.promptflow/`` next to a flow)."""
        dest = tool.scratch / "flows" / name
        if not dest.exists():
            shutil.copytree(FLOWS_DIR / name, dest, ignore=shutil.ignore_patterns("__pycache__", ".promptflow"))
        return dest

    def figure(self, suite: str, key: str, title: str, unit: str, **kwargs) -> Figure:
        fig = Figure(suite, key, title, unit, **kwargs)
        self.figures.append(fig)
        return fig

    def skip(self, suite: str, key: str, title: str, reason: str) -> Figure:
        self.log(f"  skipped: {title}: {reason}")
        return self.figure(suite, key, title, "", skipped=reason)

    def measure(self, tool: Tool, cmd: list[str], env: dict[str, str], what: str, timeout: float = 3600) -> Sample:
        sample = run_measured(cmd, env=env, cwd=str(tool.scratch), timeout=timeout).check(f"{tool.label}: {what}")
        self.log(f"  {tool.key:4s} {what}: {sample.seconds:.3f} s (cpu {sample.cpu_seconds:.2f} s), "
                 f"peak {sample.peak_rss_mb:.0f} MB")
        return sample

    def run_batch(self, tool: Tool, flow: str, data: Path, mapping: dict[str, str], env: dict[str, str],
                  expected_lines: int, what: str, **run_options) -> tuple[Sample, str]:
        """``run create`` one batch run; checks that every line produced an output. Returns (sample, name)."""
        name = f"{flow}_{tool.key}_{uuid.uuid4().hex[:8]}"
        cmd = tool.run_create_command(self.flow(tool, flow), data, mapping, name, **run_options)
        sample = self.measure(tool, cmd, env, what)
        produced = count_outputs(tool, env, name, sample.stdout)
        if produced != expected_lines:
            raise RuntimeError(f"{tool.label}: {what}: {produced} of {expected_lines} lines produced an output\n"
                               f"{sample.stdout[-2000:]}\n{sample.stderr[-2000:]}")
        return sample, name


def count_outputs(tool: Tool, env: dict[str, str], name: str, stdout: str) -> int:
    """Lines in the run's output file (promptflow says 'Completed' even when lines failed)."""
    if tool.key == "pfl":
        path = Path(env["PFL_HOME"]) / "runs" / name / "outputs.jsonl"
    else:
        start = stdout.rfind("\n{\n")
        info = json.loads(stdout[start + 1 if start >= 0 else 0:])
        path = Path(info["properties"]["output_path"]) / "flow_outputs" / "output.jsonl"
    if not path.exists():
        return 0
    with path.open(encoding="utf-8") as f:
        return sum(1 for line in f if line.strip())


def python_value(python: str, code: str) -> str:
    """Evaluate a little code with another interpreter (e.g. a constant of promptflow_lite)."""
    return subprocess.run([python, "-c", code], capture_output=True, text=True).stdout.strip()


def loadgen_command(url: str, bodies: Path, requests: int, concurrency: int) -> list[str]:
    return [sys.executable, str(BENCH_DIR / "loadgen.py"), "--url", url, "--bodies", str(bodies),
            "--requests", str(requests), "--concurrency", str(concurrency)]
