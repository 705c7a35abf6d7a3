"""Evaluations started in the background (the app's "New evaluation"): ``pfl eval`` in a process of its
own, detached from the caller, so it goes on when the browser tab or the app closes.

A job lives in ``PFL_HOME/evaluations/<name>/``: ``job.json`` (its command and the runs it will make),
``output.txt`` (the comparison table ``pfl eval`` prints), ``log.txt`` (its progress and errors),
``result.json`` (``pfl eval --json``) and ``exit_code`` once it has ended. Its runs are ordinary runs
named ``<name>_<variant>[_<evaluator>]``: ``pfl run list`` lists them, ``pfl run resume`` completes
one that was interrupted, and :func:`job_runs` reads their progress from the run index.

    job = start_evaluation(plan, scripted_llm="flows/classification/scripted_llm.yaml")
    job.state, [(r["name"], r["completed_lines"], r["total_lines"]) for r in job_runs(job)]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from promptflow_lite.errors import UserError
from promptflow_lite.evaluate._session import EvaluationPlan, prepare_evaluation

RUNNING, SUCCEEDED, GATES_FAILED, FAILED, INTERRUPTED = "running", "succeeded", "gates failed", "failed", "interrupted"
_CHILDREN: dict[int, subprocess.Popen] = {}  # started by this process: polled so they are reaped


@dataclass
class EvaluationJob:
    """A background ``pfl eval``; ``state`` is running, succeeded, gates failed, failed or interrupted."""

    name: str
    folder: Path
    command: list[str]
    runs: list[str]  # every run it makes, in order
    started: float
    pid: int | None = None
    settings: dict[str, Any] = field(default_factory=dict)  # what was chosen (flow, data, variants...)

    @property
    def exit_code(self) -> int | None:
        path = self.folder / "exit_code"
        try:
            return int(path.read_text().strip())
        except (OSError, ValueError):
            return None

    @property
    def state(self) -> str:
        code = self.exit_code
        if code is None:
            return RUNNING if _alive(self.pid) else INTERRUPTED
        return SUCCEEDED if code == 0 else GATES_FAILED if code == 1 and self.result is not None else FAILED

    @property
    def output(self) -> str:
        """What ``pfl eval`` printed on stdout: the comparison table (and gate results)."""
        return _read(self.folder / "output.txt")

    @property
    def log(self) -> str:
        """What it printed on stderr: progress messages, warnings, the error that stopped it."""
        return _read(self.folder / "log.txt")

    @property
    def result(self) -> dict[str, Any] | None:
        """``pfl eval --json``: statistics, runs and checks (None until it has finished)."""
        path = self.folder / "result.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None


def start_evaluation(plan: EvaluationPlan, *, evaluator_args: Sequence[str], scripted_llm: str | Path | None = None,
                     home: str | Path | None = None) -> EvaluationJob:
    """Check ``plan`` (errors come now, not in a log) and start ``pfl eval`` for it in the background.

    ``evaluator_args`` are the ``--evaluator`` values the plan's evaluators were parsed from (the
    command line needs them as written). ``scripted_llm``: answer every LLM call from the scripted
    server with these rules (``pfl --scripted-llm``), as for an offline try.
    """
    prepared = prepare_evaluation(plan)
    root = _root(home)
    folder = root / prepared.session
    if folder.exists():
        raise UserError(f"An evaluation named '{prepared.session}' exists already.", hint="choose another name.")
    folder.mkdir(parents=True)
    command = [sys.executable, "-m", "promptflow_lite.cli.main"]
    if scripted_llm:
        command += ["--scripted-llm", str(Path(scripted_llm).expanduser().resolve())]
    command += ["eval", *_eval_arguments(plan, evaluator_args), "--name", prepared.session,
                "--json", str(folder / "result.json")]
    settings = {"flow": str(plan.flow), "data": str(plan.data), "variants": prepared.labels,
                "evaluators": [spec.alias for spec in plan.evaluators], "repeats": plan.repeats,
                "scripted_llm": str(scripted_llm) if scripted_llm else None}
    job = EvaluationJob(prepared.session, folder, command, prepared.run_names(plan), time.time(), settings=settings)
    _save(job)
    environment = {**os.environ, "PFL_HOME": str(root.parent)}
    process = subprocess.Popen([sys.executable, "-m", "promptflow_lite.evaluate._background", str(folder)],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True, env=environment, cwd=str(Path.cwd()))
    _CHILDREN[process.pid] = process
    job.pid = process.pid
    _save(job)
    return job


def get_evaluation(name: str, *, home: str | Path | None = None) -> EvaluationJob:
    path = _root(home) / name / "job.json"
    if not path.is_file():
        raise UserError(f"No evaluation named '{name}' was started from the app.",
                        hint="see the list on the New evaluation page.")
    return _load(path)


def list_evaluations(*, home: str | Path | None = None, limit: int = 50) -> list[EvaluationJob]:
    """Background evaluations, newest first."""
    root = _root(home)
    jobs = [_load(path) for path in root.glob("*/job.json")] if root.is_dir() else []
    return sorted(jobs, key=lambda job: job.started, reverse=True)[:limit]


def job_runs(job: EvaluationJob, *, home: str | Path | None = None) -> list[dict[str, Any]]:
    """The job's runs in order: a run-list row each (status, lines done...), or ``{"name", "status": None}``
    for one not started yet."""
    from promptflow_lite.runs._listing import get_run_row

    return [get_run_row(name, home=home) or {"name": name, "status": None} for name in job.runs]


def _eval_arguments(plan: EvaluationPlan, evaluator_args: Sequence[str]) -> list[str]:
    from promptflow_lite.evaluate._grid import is_combination
    from promptflow_lite.flow._variants import parse_variants

    arguments = ["--flow", str(Path(plan.flow).resolve()), "--data", str(Path(plan.data).resolve()),
                 "--evaluator", *evaluator_args, "--repeats", str(plan.repeats)]
    labels = [selector for selector in plan.variants if selector]
    if any(is_combination(selector) for selector in labels):  # a grid: the product of these nodes' variants
        chosen = {f"{node}.{variant_id}": None
                  for selector in labels for node, variant_id in parse_variants(selector).items()}
        arguments += ["--grid", "--variants", ",".join(chosen)]
    elif labels:
        arguments += ["--variants", ",".join(labels)]
    for option, value in (("--primary", plan.primary), ("--budget-lines", plan.budget_lines),
                          ("--prices", plan.prices and Path(plan.prices).resolve())):
        if value is not None:
            arguments += [option, str(value)]
    if plan.halving:
        arguments += ["--halving", "--seed", str(plan.seed)]
    if plan.slice_by:
        arguments += ["--slice-by", *plan.slice_by]
    if plan.baseline:
        arguments += ["--baseline", plan.baseline]
    for option, values in (("--column-mapping", plan.column_mapping),
                           ("--evaluator-mapping", {f"{alias}.{key}": value
                                                    for alias, mapping in plan.evaluator_mapping.items()
                                                    for key, value in mapping.items()})):
        if values:
            arguments += [option, *(f"{key}={value}" for key, value in values.items())]
    if plan.max_concurrency:
        arguments += ["--max-concurrency", str(plan.max_concurrency)]
    if not plan.use_cache:
        arguments.append("--no-cache")
    if plan.lower_is_better:
        arguments += ["--lower-is-better", *plan.lower_is_better]
    return arguments


def _alive(pid: int | None) -> bool:
    from promptflow_lite.runs._index import process_alive

    child = _CHILDREN.get(pid or 0)
    if child is not None and child.poll() is not None:
        return False
    return process_alive(pid, None)


def _root(home: str | Path | None) -> Path:
    from promptflow_lite.home import pfl_home

    return Path(home or pfl_home()) / "evaluations"


def _save(job: EvaluationJob) -> None:
    data = asdict(job)
    data["folder"] = str(job.folder)
    temporary = job.folder / "job.json.tmp"
    temporary.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(temporary, job.folder / "job.json")


def _load(path: Path) -> EvaluationJob:
    data = json.loads(path.read_text(encoding="utf-8"))
    data["folder"] = path.parent
    return EvaluationJob(**data)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def main(argv: Sequence[str] | None = None) -> int:
    """The background process: run the job's command, its output into the job folder, then its exit code."""
    folder = Path((argv or sys.argv[1:])[0])
    job = _load(folder / "job.json")
    with open(folder / "output.txt", "wb") as output, open(folder / "log.txt", "wb") as log:
        code = subprocess.run(job.command, stdin=subprocess.DEVNULL, stdout=output, stderr=log).returncode
    (folder / "exit_code").write_text(str(code))
    return code


if __name__ == "__main__":
    sys.exit(main())
