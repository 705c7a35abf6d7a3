"""Cost and latency per variant: tokens (prompt / completion), cost from the user's price table, p50 / p95 line
latency (also when the answers come from the response cache), and the Pareto front named."""

from __future__ import annotations

import json

import pytest

from promptflow_lite.cli.main import main
from _grid_flow import BASELINE, BEST, EXACT, server, write_grid_flow, write_words  # noqa: F401

PRICES = ("currency: EUR\nmodels:\n  gpt-4o-mini: {prompt: 0.15, completion: 0.6}\n"
          "  'gpt-4o*': {input: 2.5, output: 10}\n")


def evaluate(flow, data, out, *extra) -> dict:
    assert main(["eval", "--flow", str(flow), "--data", str(data), "--grid", *EXACT, "--json", str(out),
                 *map(str, extra)]) == 0
    return json.loads(out.read_text())


def test_tokens_cost_latency_and_the_pareto_front(server, tmp_path, capsys):
    server.latency = 0.05
    flow, data = write_grid_flow(tmp_path / "words"), write_words(tmp_path / "data.jsonl", 30)
    (tmp_path / "prices.yaml").write_text(PRICES)
    result = evaluate(flow, data, tmp_path / "r.json", "--prices", tmp_path / "prices.yaml")
    out = capsys.readouterr().out
    costs = result["costs"]
    assert costs["basis"] == "cost" and costs["currency"] == "EUR"

    baseline = costs["variants"][BASELINE]
    run = result["runs"][BASELINE]["base"][0]
    from promptflow_lite.runs._client import Client

    stored = Client().runs.get(run)  # the run's own token totals agree with the per-line figures
    assert baseline["prompt_tokens"]["mean"] * 30 == pytest.approx(stored.tokens["prompt_tokens"])
    assert baseline["completion_tokens"]["mean"] * 30 == pytest.approx(stored.tokens["completion_tokens"])
    assert set(baseline["tokens_by_model"]) == {"gpt-4o-mini"}
    best = costs["variants"][BEST]
    assert set(best["tokens_by_model"]) == {"gpt-4o-mini", "gpt-4o"}  # rewrite on mini, answer on gpt-4o
    expected = sum(p * price[0] + c * price[1] for model, (p, c) in best["tokens_by_model"].items()
                   for price in [{"gpt-4o-mini": (0.15, 0.6), "gpt-4o": (2.5, 10)}[model]]) / 1000 / 30
    assert best["cost"]["mean"] == pytest.approx(expected)
    assert best["cost"]["mean"] > 5 * baseline["cost"]["mean"]

    # two 50 ms calls in a row per line: the line takes at least 0.1 s
    for figures in costs["variants"].values():
        assert 0.1 <= figures["latency_p50"]["mean"] <= figures["latency_p95"]["mean"]
        assert figures["latency_p95"]["low"] <= figures["latency_p95"]["mean"] <= figures["latency_p95"]["high"]

    front = costs["front"]
    assert BEST in front  # nothing beats its quality
    points = {name: (v["quality"], -v["cost"]["mean"], -v["latency_p95"]["mean"])
              for name, v in costs["variants"].items()}
    for name in front:
        assert not any(all(o >= s for o, s in zip(other, points[name])) and other != points[name]
                       for other in points.values())
    assert [r["variant"] for r in result["charts"]["pareto"] if r["front"]] == front
    assert "cost/line EUR" in out and "Pareto front (best exact_match.passed × cost per line × p95 latency" in out


def test_answers_from_the_cache_keep_the_latency_their_requests_had(server, tmp_path):
    server.latency = 0.05
    flow, data = write_grid_flow(tmp_path / "words"), write_words(tmp_path / "data.jsonl", 20)
    evaluate(flow, data, tmp_path / "first.json")
    sent = server.stats["requests"]
    again = evaluate(flow, data, tmp_path / "again.json")  # same home: every answer from the cache
    assert server.stats["requests"] == sent and again["spend"]["calls"] == 0
    for figures in again["costs"]["variants"].values():
        assert figures["latency_p50"]["mean"] >= 0.1
        assert figures["untimed_lines"] == 0


def test_a_model_without_a_price_is_named_and_not_costed(server, tmp_path, capsys):
    flow, data = write_grid_flow(tmp_path / "words"), write_words(tmp_path / "data.jsonl", 10)
    (tmp_path / "prices.yaml").write_text("models:\n  gpt-4o-mini: {prompt: 0.15, completion: 0.6}\n")
    result = evaluate(flow, data, tmp_path / "r.json", "--prices", tmp_path / "prices.yaml")
    assert result["costs"]["variants"][BEST]["cost"] is None
    assert result["costs"]["variants"][BEST]["unpriced_models"] == ["gpt-4o"]
    assert result["costs"]["variants"][BASELINE]["cost"]["mean"] > 0
    assert result["costs"]["basis"] == "tokens"  # the front cannot weigh a cost some variants lack
    assert f"No price for model(s) gpt-4o in {tmp_path / 'prices.yaml'}" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("text, message", [
    ("models:\n  gpt-4o: {prompt: -1, completion: 2}\n",
     "models.gpt-4o.prompt: Input should be greater than or equal to 0"),
    ("models:\n  gpt-4o: {prompt: 1}\n", "models.gpt-4o.completion: Field required"),
    ("currency: USD\n", "models: Field required"),
])
def test_a_bad_price_table_is_refused_before_any_run(server, tmp_path, capsys, text, message):
    flow, data = write_grid_flow(tmp_path / "words"), write_words(tmp_path / "data.jsonl", 5)
    (tmp_path / "prices.yaml").write_text(text)
    assert main(["eval", "--flow", str(flow), "--data", str(data), "--grid", *EXACT,
                 "--prices", str(tmp_path / "prices.yaml")]) == 1
    err = capsys.readouterr().err
    assert message in err and "per 1,000 tokens" in err
    assert server.stats["requests"] == 0
