"""A PFL_HOME with real runs and traces for the run browser's tests, made as a user makes them.

``build_world(home)`` runs README's main job (``pfl --scripted-llm ... eval`` of the classification
flow's two variants with exact_match, offline through the scripted server) under the name
``cls``, and a batch run ``flaky`` of a small python flow whose lines 3, 7 and 11 fail. Commands
run in subprocesses, so nothing (PFL_HOME, offline mode, tracing) leaks into the test process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLASSIFICATION = ROOT / "flows" / "classification"
RULES = CLASSIFICATION / "scripted_llm.yaml"
EVAL_NAME = "cls"
VARIANTS = ("cls_variant_0", "cls_variant_1")
EVALUATIONS = ("cls_variant_0_exact_match", "cls_variant_1_exact_match")
FLAKY = "flaky"
FLAKY_FAILED = (3, 7, 11)
FLAKY_LINES = 15

FLAKY_FLOW = {
    "flow.dag.yaml": """
inputs:
  word: {type: string}
outputs:
  shout: {reference: "${shout.output}"}
nodes:
- {name: shout, type: python, source: {type: code, path: shout.py}, inputs: {word: "${inputs.word}"}}
""",
    "shout.py": """
from promptflow.core import tool

@tool
def shout(word: str) -> str:
    if word.startswith("bad"):
        raise ValueError(f"cannot shout {word}")
    return word.upper() + "!"
""",
}


GATED_FLOW = {
    "flow.dag.yaml": """
inputs:
  text: {type: string}
  gate: {type: string}
outputs:
  category: {reference: "${label.output}"}
nodes:
- {name: label, type: python, source: {type: code, path: label.py}, inputs: {text: "${inputs.text}", gate: "${inputs.gate}"}}
""",
    "label.py": """
import time
from pathlib import Path

from promptflow.core import tool

@tool
def label(text: str, gate: str) -> str:
    while "lock" in text and not Path(gate).exists():  # such a line waits until the gate file exists
        time.sleep(0.05)
    return text.upper()
""",
}


def make_gated_flow(folder: Path, texts: list[str]) -> tuple[Path, Path, Path]:
    """A flow whose lines with "lock" in their text wait for a gate file: its folder, data and gate."""
    flow = folder / "gated"
    flow.mkdir(parents=True, exist_ok=True)
    for name, text in GATED_FLOW.items():
        (flow / name).write_text(text.lstrip("\n"), encoding="utf-8")
    gate = folder / "gate"
    data = folder / "gated.jsonl"
    data.write_text("".join(json.dumps({"text": t, "gate": str(gate), "ground_truth": t.upper()}) + "\n"
                            for t in texts), encoding="utf-8")
    return flow, data, gate


def pfl(home: Path, *args: str, check: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``pfl ARGS`` in a subprocess with ``PFL_HOME=home``."""
    env = {**os.environ, "PFL_HOME": str(home)}
    env.pop("PFL_SCRIPTED_LLM", None)
    result = subprocess.run([sys.executable, "-m", "promptflow_lite.cli.main", *args], capture_output=True,
                            text=True, env=env, timeout=600, cwd=cwd)
    if check and result.returncode != 0:
        raise AssertionError(f"pfl {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def run_main_job(home: Path, name: str = EVAL_NAME) -> subprocess.CompletedProcess:
    return pfl(home, "--scripted-llm", str(RULES), "eval", "--flow", str(CLASSIFICATION),
               "--data", str(CLASSIFICATION / "data.jsonl"), "--variants", "all", "--evaluator", "exact_match",
               "--evaluator-mapping", "exact_match.answer=${run.outputs.category}", "--name", name)


def make_flaky_flow(folder: Path) -> tuple[Path, Path]:
    """The flaky flow's folder and its data file (``FLAKY_LINES`` words, the failing ones start with bad)."""
    flow = folder / "flaky_flow"
    flow.mkdir(parents=True, exist_ok=True)
    for name, text in FLAKY_FLOW.items():
        (flow / name).write_text(text.lstrip("\n"), encoding="utf-8")
    words = [f"bad{n}" if n in FLAKY_FAILED else f"word{n}" for n in range(FLAKY_LINES)]
    data = folder / "flaky.jsonl"
    data.write_text("".join(json.dumps({"word": w}) + "\n" for w in words), encoding="utf-8")
    return flow, data


def build_world(home: Path) -> dict[str, str]:
    """Make the runs; returns the CLI's comparison table (stdout of ``pfl eval``)."""
    table = run_main_job(home).stdout
    flow, data = make_flaky_flow(home.parent / f"{home.name}_flows")
    pfl(home, "run", "create", "--flow", str(flow), "--data", str(data), "--name", FLAKY, "--allow-failures")
    return {"table": table}


@pytest.fixture(scope="session")
def runs_world(tmp_path_factory) -> Path:
    """One PFL_HOME made by :func:`build_world`, shared by the tests that only read it."""
    home = tmp_path_factory.mktemp("runs_world")
    (home / "table.txt").write_text(build_world(home)["table"], encoding="utf-8")
    return home


@pytest.fixture
def world_home(runs_world, monkeypatch) -> Path:
    """:func:`runs_world` as this test's PFL_HOME."""
    monkeypatch.setenv("PFL_HOME", str(runs_world))
    return runs_world
