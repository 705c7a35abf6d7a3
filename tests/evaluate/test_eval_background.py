"""Evaluations started in the background: ordinary runs in the store, progress from the run index, the
CLI's table at the end, and ``pfl run resume`` for a run whose process was killed."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from _runs_world import CLASSIFICATION, RULES, make_gated_flow, pfl

from promptflow_lite.errors import UserError
from promptflow_lite.evaluate._background import (FAILED, INTERRUPTED, RUNNING, SUCCEEDED, get_evaluation, job_runs,
                                                 list_evaluations, start_evaluation)
from promptflow_lite.evaluate._evaluators import parse_evaluators, parse_mapping_overrides
from promptflow_lite.evaluate._session import EvaluationPlan, choose_variants

MAPPING = "exact_match.answer=${run.outputs.category}"


def plan_for(flow: Path, data: Path, name: str | None = None, **options) -> EvaluationPlan:
    specs = parse_evaluators(["exact_match"])
    return EvaluationPlan(flow=flow, data=data, evaluators=specs, variants=choose_variants(flow, "all"),
                          evaluator_mapping=parse_mapping_overrides([MAPPING], specs), name=name, **options)


def wait_for(job, states, timeout=300):
    deadline = time.monotonic() + timeout
    while job.state not in states:
        assert time.monotonic() < deadline, f"{job.name} still {job.state}: {job.log[-2000:]}"
        time.sleep(0.2)
    return job.state


def test_a_background_evaluation_makes_ordinary_runs_and_the_clis_table(pfl_home):
    job = start_evaluation(plan_for(CLASSIFICATION, CLASSIFICATION / "data.jsonl", name="bg"),
                           evaluator_args=["exact_match"], scripted_llm=RULES)
    assert job.runs == ["bg_variant_0", "bg_variant_0_exact_match", "bg_variant_1", "bg_variant_1_exact_match"]
    assert wait_for(job, (SUCCEEDED, FAILED)) == SUCCEEDED, job.log
    assert [r["status"] for r in job_runs(job)] == ["Completed"] * 4
    assert all(r["completed_lines"] == r["total_lines"] == 40 for r in job_runs(job))
    listed = json.loads(pfl(pfl_home, "run", "list", "-o", "json").stdout)
    assert {r["name"] for r in listed} == set(job.runs)
    cli_table = pfl(pfl_home, "run", "compare", "bg_variant_0", "bg_variant_1").stdout
    assert "0.850  [0.709, 0.929]" in job.output and "+0.150" in job.output and "better" in job.output
    assert "0.850  [0.709, 0.929]" in cli_table
    assert job.result["variants"]["variant_1"]["exact_match.passed"]["mean"] == 1.0
    again = get_evaluation("bg")
    assert again.state == SUCCEEDED and again.settings["variants"] == ["variant_0", "variant_1"]
    assert [j.name for j in list_evaluations()] == ["bg"]


def test_mistakes_are_reported_before_anything_starts(pfl_home, tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        start_evaluation(plan_for(CLASSIFICATION, tmp_path / "missing.jsonl"), evaluator_args=["exact_match"])
    specs = parse_evaluators(["exact_match"])
    plan = EvaluationPlan(flow=CLASSIFICATION, data=CLASSIFICATION / "data.jsonl", evaluators=specs,
                          evaluator_mapping=parse_mapping_overrides(["exact_match.nope=${data.text}"], specs))
    with pytest.raises(UserError, match="no input 'nope'"):
        start_evaluation(plan, evaluator_args=["exact_match"])
    assert list_evaluations() == [] and not (pfl_home / "runs.sqlite").exists()


def test_a_killed_evaluation_leaves_a_run_that_pfl_run_resume_completes(pfl_home, tmp_path):
    flow, data, gate = make_gated_flow(tmp_path, ["a", "b", "lock c", "d"])
    job = start_evaluation(plan_for(flow, data, name="killed"), evaluator_args=["exact_match"])
    deadline = time.monotonic() + 120
    while not (job_runs(job)[0].get("completed_lines") == 3):
        assert time.monotonic() < deadline and job.state == RUNNING, job.log
        time.sleep(0.1)
    os.killpg(job.pid, signal.SIGKILL)  # the app, the machine or the user stopped it
    assert wait_for(job, (INTERRUPTED,), timeout=60) == INTERRUPTED
    deadline = time.monotonic() + 60  # the runner's process may take a moment longer than the job's to be gone
    while job_runs(job)[0]["status"] != "NotResponding":
        assert time.monotonic() < deadline, job_runs(job)[0]["status"]
        time.sleep(0.2)
    gate.touch()
    resumed = pfl(pfl_home, "run", "resume", "killed_default")
    assert "4 completed, 0 failed, 4 total" in resumed.stdout
