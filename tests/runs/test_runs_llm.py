"""Batch runs of an LLM flow against the scripted OpenAI server: cache, concurrency, transient and permanent errors."""

from __future__ import annotations

import json

import pytest

from promptflow_lite.cli.main import main as pfl
from promptflow_lite.connections._types import OpenAIConnection
from promptflow_lite.runs._client import Client
from promptflow_lite.testing import Rule, ScriptedServer

RULES = [
    {"match": "capital of (\\w+)", "reply": "The capital of \\1 is scripted."},
    {"match": "forbidden", "status": 400, "error": "This prompt is not allowed."},
]
LLM_FLOW = {
    "ask.jinja2": "# system:\nAnswer briefly.\n# user:\n{{question}}\n",
    "flow.dag.yaml": """
        inputs:
          question:
            type: string
        outputs:
          answer:
            type: string
            reference: ${ask.output}
        nodes:
        - name: ask
          type: llm
          source: {type: code, path: ask.jinja2}
          inputs:
            model: gpt-4o-mini
            temperature: 0
            question: ${inputs.question}
          connection: open_ai_connection
          api: chat
        """,
}
COUNTRIES = ["France", "Spain", "Italy", "Chile", "Peru", "Japan", "Kenya", "Nepal", "Oman", "Fiji"]


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setenv("PFL_LLM_BACKOFF_SECONDS", "0.01")
    monkeypatch.setenv("PFL_LLM_MAX_RETRY_SECONDS", "60")


@pytest.fixture
def server():
    with ScriptedServer(rules=RULES) as scripted:
        yield scripted


@pytest.fixture
def connections(server, scripted_connections):
    """The CLI finds the connection through PROMPTFLOW_CONNECTIONS (promptflow's execution format)."""
    return scripted_connections(server)


@pytest.fixture
def flow(make_flow):
    return make_flow(LLM_FLOW, name="qa")


def questions(tmp_path, count: int, name: str = "questions.jsonl", bad: set[int] = frozenset()):
    path = tmp_path / name
    path.write_text("".join(json.dumps({"question": "forbidden question" if i in bad else
                                        f"What is the capital of {COUNTRIES[i % 10]} #{i}?"}) + "\n"
                            for i in range(count)))
    return path


def details(name: str, capsys) -> list[dict]:
    capsys.readouterr()
    assert pfl(["run", "show-details", name, "-o", "json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("breakage", ["no folder", "no space"])
def test_a_cache_that_cannot_be_used_costs_only_the_saving(breakage, flow, connections, server, tmp_path,
                                                            pfl_home, capsys):
    data = questions(tmp_path, 20)
    cache = pfl_home / "cache"
    if breakage == "no folder":
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text("")  # the cache's folder cannot be made
    else:
        cache.mkdir(parents=True)
        (cache / "llm.sqlite").symlink_to("/dev/full")  # every write fails: No space left on device
    assert pfl(["run", "create", "--flow", str(flow), "--data", str(data), "--name", "uncached"]) == 0
    printed = capsys.readouterr()
    assert "Lines:     20 completed, 0 failed, 20 total" in printed.out
    assert f"The LLM cache {cache / 'llm.sqlite'} cannot be used" in printed.out + printed.err
    assert server.stats["requests"] == 20 and "Traceback" not in printed.err


def test_a_rerun_of_the_same_data_makes_no_llm_calls(flow, connections, server, tmp_path, capsys):
    data = questions(tmp_path, 20)
    assert pfl(["run", "create", "--flow", str(flow), "--data", str(data), "--name", "first"]) == 0
    assert server.stats["requests"] == 20
    first = details("first", capsys)
    assert first[3]["outputs.answer"] == "The capital of Chile is scripted." and not any(r["cached"] for r in first)

    assert pfl(["run", "create", "--flow", str(flow), "--data", str(data), "--name", "second"]) == 0
    assert "Cache:     20 of 20 lines answered from the LLM cache" in capsys.readouterr().out
    assert server.stats["requests"] == 20  # not one new request
    second = details("second", capsys)
    assert all(r["cached"] for r in second)
    assert [r["outputs.answer"] for r in second] == [r["outputs.answer"] for r in first]

    assert pfl(["run", "create", "--flow", str(flow), "--data", str(data), "--no-cache"]) == 0
    assert server.stats["requests"] == 40


def test_repeat_index_samples_again_and_is_cached_per_repeat(flow, server, tmp_path):
    data = questions(tmp_path, 5)
    client = Client()
    conns = {"open_ai_connection": OpenAIConnection(api_key="x", base_url=server.base_url)}
    for repeat in (0, 1, 1, 0):
        run = client.run(flow=flow, data=data, connections=conns, repeat_index=repeat)
        assert run.status == "Completed" and run.properties["repeat_index"] == repeat
    assert server.stats["requests"] == 10  # repeats 0 and 1 once each
    assert run.cached_lines == 5


def test_token_usage_is_summed_over_lines(flow, connections, server, tmp_path, capsys):
    data = questions(tmp_path, 4)
    pfl(["run", "create", "--flow", str(flow), "--data", str(data), "--name", "tokens"])
    out = capsys.readouterr().out
    pfl(["run", "show", "tokens"])
    run = json.loads(capsys.readouterr().out)
    assert run["tokens"]["total_tokens"] > 0
    assert run["tokens"]["total_tokens"] == run["tokens"]["prompt_tokens"] + run["tokens"]["completion_tokens"]
    assert f"Tokens:    {run['tokens']['total_tokens']}" in out


def test_concurrency_overlaps_llm_calls_up_to_the_limit(flow, connections, server, tmp_path):
    server.latency = 0.2
    data = questions(tmp_path, 24)
    assert pfl(["run", "create", "--flow", str(flow), "--data", str(data), "--max-concurrency", "6",
                "--no-cache"]) == 0
    assert 2 <= server.stats["max_in_flight"] <= 6
    server.reset()
    assert pfl(["run", "create", "--flow", str(flow), "--data", str(questions(tmp_path, 100, "more.jsonl")),
                "--no-cache"]) == 0
    assert 16 < server.stats["max_in_flight"] <= 64  # the default concurrency (64) keeps many lines in flight


def test_transient_failures_are_retried_and_every_line_succeeds(flow, connections, server, tmp_path, capsys):
    server.fail_rate = 0.3
    server.fail_kinds = ("429", "500")
    data = questions(tmp_path, 30)
    assert pfl(["run", "create", "--flow", str(flow), "--data", str(data), "--name", "flaky", "--no-cache"]) == 0
    assert sum(server.stats["faults"].values()) > 0
    assert all(r["status"] == "Completed" for r in details("flaky", capsys))


def test_permanent_errors_fail_exactly_those_lines(flow, connections, server, tmp_path, capsys):
    data = questions(tmp_path, 12, bad={2, 7})
    assert pfl(["run", "create", "--flow", str(flow), "--data", str(data), "--name", "perm"]) == 1
    captured = capsys.readouterr()
    assert "2/12 lines failed: 2, 7" in captured.err
    rows = details("perm", capsys)
    assert [r["line_number"] for r in rows if r["status"] == "Failed"] == [2, 7]
    assert all("This prompt is not allowed" in rows[i]["error"] for i in (2, 7))
    assert server.stats["statuses"][400] == 2  # not retried
    # errors are never cached: the same lines fail again, with new requests
    assert pfl(["run", "create", "--flow", str(flow), "--data", str(data), "--allow-failures"]) == 0
    assert server.stats["statuses"][400] == 4


PROMPTY = """---
name: greeter
model:
  api: chat
  configuration:
    type: openai
    connection: open_ai_connection
  parameters:
    model: gpt-4o-mini
inputs:
  country:
    type: string
---
system:
Answer briefly.
user:
What is the capital of {{country}}?
"""


def test_prompty_batch_through_the_client(server, tmp_path):
    (tmp_path / "greeter.prompty").write_text(PROMPTY)
    data = tmp_path / "countries.csv"
    data.write_text("country\nFrance\nPeru\n")
    conns = {"open_ai_connection": OpenAIConnection(api_key="x", base_url=server.base_url)}
    run = Client().run(flow=tmp_path / "greeter.prompty", data=data, connections=conns)
    assert run.status == "Completed" and run.name.startswith("greeter_")
    details = Client().get_details(run)
    assert list(details["outputs.output"]) == ["The capital of France is scripted.", "The capital of Peru is scripted."]


DEAD_KEY = Rule(r"later", status=401, error={"message": "Incorrect API key provided: sk-te**st.",
                                             "type": "invalid_request_error", "code": "invalid_api_key"})


def test_a_dead_key_stops_the_run_and_resume_completes_it_after_the_fix(flow, connections, server, tmp_path, capsys):
    from promptflow_lite.runs._runner import KEY_REJECTIONS_TO_STOP

    server.rules = [DEAD_KEY, *RULES]  # the key "dies" from line 10 on
    data = tmp_path / "questions.jsonl"
    data.write_text("".join(json.dumps({"question": f"What is the capital of {COUNTRIES[i % 10]} #{i}"
                                        f"{' later' if i >= 10 else ''}?"}) + "\n" for i in range(40)))
    assert pfl(["run", "create", "--flow", str(flow), "--data", str(data), "--name", "dead",
                "--max-concurrency", "1"]) == 1
    out = capsys.readouterr().out
    assert "Status:    Canceled" in out and "The endpoint rejected the key" in out
    assert server.stats["statuses"] == {200: 10, 401: KEY_REJECTIONS_TO_STOP}  # not one line more was sent
    pfl(["run", "show", "dead"])
    run = json.loads(capsys.readouterr().out)
    assert (run["status"], run["completed_lines"], run["failed_lines"]) == ("Canceled", 10, KEY_REJECTIONS_TO_STOP)
    assert "fix the key, then `pfl run resume dead`" in run["error"]["message"]
    assert "check the api_key of connection 'open_ai_connection'" in run["error"]["message"]

    server.rules = RULES  # the key is fixed
    assert pfl(["run", "resume", "dead", "--max-concurrency", "1"]) == 0
    assert server.stats["statuses"] == {200: 40, 401: KEY_REJECTIONS_TO_STOP}  # the 10 done lines were not sent again
    assert [r["status"] for r in details("dead", capsys)] == ["Completed"] * 40


def test_a_dead_key_is_not_sent_every_line_at_full_concurrency(flow, connections, server, tmp_path, capsys):
    server.rules = [Rule(r"", status=403, error="Access denied: this key may not use this model.")]
    assert pfl(["run", "create", "--flow", str(flow), "--data", str(questions(tmp_path, 400)), "--name", "dead"]) == 1
    run = json.loads((capsys.readouterr(), pfl(["run", "show", "dead"]), capsys.readouterr().out)[2])
    assert run["status"] == "Canceled" and run["completed_lines"] == 0
    assert server.stats["requests"] < 200  # at most the lines already in flight when the third one failed
