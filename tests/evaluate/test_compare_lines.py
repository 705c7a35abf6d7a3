"""Runs compared line by line: the same statistics as ``pfl run compare``, each line side by side, who won."""

from __future__ import annotations

import json

import pytest
from _runs_world import CLASSIFICATION, VARIANTS, pfl, runs_world, world_home  # noqa: F401 (fixtures)

from promptflow_lite.errors import UserError
from promptflow_lite.evaluate._line_compare import compare_lines
from promptflow_lite.runs._client import Client

METRIC = "exact_match.passed"


def test_the_statistics_are_the_clis(world_home):
    compared = compare_lines(Client(), list(VARIANTS))
    cli = json.loads(pfl(world_home, "run", "compare", *VARIANTS, "-o", "json").stdout)
    assert compared.report.to_dict() == cli
    assert compared.baseline == VARIANTS[0] and compared.runs == list(VARIANTS)
    records = compared.chart_records()
    assert [(r["run"], r["mean"]) for r in records] == [(VARIANTS[0], 0.85), (VARIANTS[1], 1.0)]
    assert records[0]["low"] == cli["variants"][VARIANTS[0]][METRIC]["low"] and records[0]["baseline"]


def test_each_line_side_by_side_with_its_outcome(world_home):
    compared = compare_lines(Client(), list(VARIANTS))
    data = [json.loads(line) for line in (CLASSIFICATION / "data.jsonl").read_text().splitlines()]
    assert len(compared.lines) == 40
    for line, row in zip(compared.lines, data):
        assert line["inputs"] == {"text": row["text"]}
        for run in VARIANTS:
            passed = line["outputs"][run]["category"] == row["ground_truth"]
            assert line["scores"][METRIC][run] == float(passed)
    pair = compared.report.pair(VARIANTS[1], METRIC).comparison
    outcomes = [line["outcome"][METRIC][VARIANTS[1]] for line in compared.lines]
    assert (outcomes.count("better"), outcomes.count("worse"), outcomes.count("same")) == (
        pair.wins, pair.losses, pair.ties) == (6, 0, 34)
    won = compared.select(run=VARIANTS[1], metric=METRIC, outcome="better")
    assert len(won) == 6 and all(line["differs"] for line in won)
    assert compared.select(run=VARIANTS[1], outcome="worse") == []
    differing = compared.select(differing=True)
    assert set(map(id, won)) <= set(map(id, differing)) and len(differing) == sum(l["differs"] for l in compared.lines)


def test_lower_is_better_turns_wins_into_losses(world_home):
    compared = compare_lines(Client(), list(VARIANTS), lower_is_better=[METRIC])
    assert len(compared.select(outcome="worse")) == 6 and compared.select(outcome="better") == []


def test_the_baseline_can_be_any_run_and_bad_choices_are_clear(world_home):
    compared = compare_lines(Client(), list(VARIANTS), baseline=VARIANTS[1])
    assert compared.runs == [VARIANTS[1], VARIANTS[0]]
    assert len(compared.select(outcome="worse")) == 6
    with pytest.raises(UserError, match="at least two runs"):
        compare_lines(Client(), [VARIANTS[0]])
    with pytest.raises(UserError, match="different numbers of lines"):
        compare_lines(Client(), [VARIANTS[0], "flaky"])
