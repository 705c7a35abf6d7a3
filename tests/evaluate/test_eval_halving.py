"""``pfl eval --grid --halving``: the same winner as the full grid for fewer LLM calls, counted by the server."""

from __future__ import annotations

import json

from _grid_flow import BASELINE, BEST, EXACT, pfl, server, write_grid_flow, write_words  # noqa: F401


def test_halving_finds_the_grid_winner_with_materially_fewer_calls(server, tmp_path, capsys):
    flow, data = write_grid_flow(tmp_path / "words"), write_words(tmp_path / "data.jsonl", 400)
    full_calls = 400 * 8  # the full grid: 2 rewrites + 6 answers per line, every request distinct (test_eval_grid)
    assert pfl("eval", "--flow", flow, "--data", data, "--grid", "--halving", *EXACT,
               "--json", tmp_path / "halving.json") == 0
    out = capsys.readouterr().out
    sent = server.stats["requests"]
    result = json.loads((tmp_path / "halving.json").read_text())

    assert result["best"]["variant"] == BEST  # the full grid's winner (test_eval_grid)
    assert sent < 0.6 * full_calls
    totals = result["halving"]["totals"]
    assert totals["sent"]["calls"] == sent and totals["full_grid"]["calls"] == full_calls
    assert totals["saved"]["calls"] == full_calls - sent
    assert f"LLM calls sent: {sent:,}; the full grid on all 400 lines would send about {full_calls:,}: " \
           f"{full_calls - sent:,} calls saved" in " ".join(out.split())

    rounds = result["halving"]["rounds"]
    assert [r["lines"] for r in rounds] == [50, 100, 200, 400]
    assert len(rounds[0]["variants"]) == 6 and rounds[-1]["lines"] == 400
    assert sum(r["spend"]["calls"] for r in rounds) == sent
    assert sum(r["spend"]["saved_calls"] for r in rounds) == full_calls - sent
    dropped = [d for r in rounds for d in r["dropped"]]
    assert dropped and all(d["reason"] == "worse" and d["vs_leader"]["verdict"] == "worse" for d in dropped)
    assert BASELINE not in {d["variant"] for d in dropped}  # the baseline stays to the end
    assert set(result["halving"]["survivors"]) >= {BEST, BASELINE}
    # the winner and the baseline ran every line: their comparison is on the full data
    assert result["variants"][BEST]["exact_match.passed"]["n"] == 400
    assert result["best"]["vs_baseline"]["n_pairs"] == 400
    # a dropped combination keeps the lines it ran, on which it is compared too
    gone = dropped[0]["variant"]
    assert result["variants"][gone]["exact_match.passed"]["n"] < 400
    assert "Successive halving on exact_match.passed" in out


def test_a_budget_drops_the_lowest_ranked_and_says_so(server, tmp_path, capsys):
    flow, data = write_grid_flow(tmp_path / "words"), write_words(tmp_path / "data.jsonl", 160)
    code = pfl("eval", "--flow", flow, "--data", data, "--grid", "--halving", "--budget-lines", "200",
               *EXACT, "--json", tmp_path / "r.json", "-q")
    assert code == 0
    result = json.loads((tmp_path / "r.json").read_text())
    halving = result["halving"]
    assert halving["line_runs"] <= 200
    reasons = {d["variant"]: d["reason"] for r in halving["rounds"] for d in r["dropped"]}
    assert "budget" in reasons.values()
    assert halving["rounds"][-1]["lines"] < 160  # the budget ended the race before the full data
    assert "budget (not shown worse: " in capsys.readouterr().out


def test_a_budget_too_small_for_the_first_sample_is_refused(server, tmp_path, capsys):
    flow, data = write_grid_flow(tmp_path / "words"), write_words(tmp_path / "data.jsonl", 100)
    assert pfl("eval", "--flow", flow, "--data", data, "--grid", "--halving", "--budget-lines", "50", *EXACT) == 1
    assert "--budget-lines 50 cannot run 6 variants on a first sample of 20 lines" in capsys.readouterr().err
    assert server.stats["requests"] == 0
