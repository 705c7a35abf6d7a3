"""The LLM response cache: hits skip HTTP, repeats and errors are kept apart, `pfl cache` manages it."""

from __future__ import annotations

import asyncio
import json

import pytest

from promptflow_lite.cli.main import main as pfl
from promptflow_lite.connections._types import OpenAIConnection
from promptflow_lite.errors import LLMError
from promptflow_lite.testing import ScriptedServer
from promptflow_lite.tools import _builtin as builtin, _llm as llm
from promptflow_lite.tools._llm_cache import LLMCache, cache_key, current_repeat, default_cache_path, use_cache
from promptflow_lite.tools._observe import calls_collector

PROMPT = "user:\nWhat is the capital of {{country}}?"


@pytest.fixture
def server():
    rules = [{"match": "capital of (\\w+)", "reply": "The capital of \\1 is scripted."},
             {"match": "broken", "status": 400, "error": "Bad prompt."}]
    with ScriptedServer(rules=rules) as scripted:
        yield scripted


@pytest.fixture
def conn(server):
    return OpenAIConnection(api_key="k", base_url=server.base_url, name="oa")


def ask(conn, **kwargs):
    """One chat call; returns (answer, its model-call record)."""
    async def main():
        calls = []
        calls_collector.set(calls)
        answer = await llm.chat(conn, PROMPT, **{"model": "gpt-4o", "country": "France", **kwargs})
        return answer, calls[0]
    return asyncio.run(main())


def test_cache_is_off_unless_enabled(server, conn):
    ask(conn)
    ask(conn)
    assert server.stats["requests"] == 2
    assert not default_cache_path().exists()


def test_second_identical_call_makes_no_http_request(server, conn):
    with use_cache(LLMCache()) as cache:
        first, first_call = ask(conn)
        second, second_call = ask(conn)
    assert first == second == "The capital of France is scripted."
    assert server.stats["requests"] == 1
    assert (first_call.cached, second_call.cached) == (False, True)
    assert second_call.attempts == 0 and second_call.response == first_call.response
    assert second_call.usage == first_call.usage
    assert cache.stats()["entries"] == 1 and (cache.hits, cache.misses) == (1, 1)


def test_anything_that_shapes_the_answer_is_part_of_the_key(server, conn):
    with use_cache(LLMCache()):
        ask(conn)
        ask(conn, temperature=0.5)
        ask(conn, country="Spain")
        ask(conn, model="gpt-4o-mini")
        with use_cache(LLMCache(), repeat=1):
            ask(conn)
        ask(conn)  # repeat 0 again: a hit
    assert server.stats["requests"] == 5


def test_repeat_index_comes_from_the_context(server, conn):
    with use_cache(LLMCache()):
        token = current_repeat.set(2)
        try:
            ask(conn)
        finally:
            current_repeat.reset(token)
        ask(conn)
    assert server.stats["requests"] == 2


def test_errors_and_streams_are_not_cached(server, conn):
    with use_cache(LLMCache()) as cache:
        for _ in range(2):
            with pytest.raises(LLMError, match="HTTP 400"):
                asyncio.run(llm.chat(conn, "user:\nbroken", model="gpt-4o"))

        async def stream():
            return "".join([d async for d in await llm.chat(conn, PROMPT, model="gpt-4o", country="Chad",
                                                            stream=True)])
        assert asyncio.run(stream()) == asyncio.run(stream())
    assert server.stats["requests"] == 4
    assert cache.stats()["entries"] == 0


def test_sync_calls_and_embeddings_use_the_cache_too(server, conn):
    with use_cache(LLMCache()):
        answers = [builtin.openai_chat(conn, PROMPT, model="gpt-4o", country="Peru") for _ in range(3)]
        vectors = [builtin.embedding(conn, "hello") for _ in range(3)]
    assert len(set(answers)) == 1 and vectors[0] == vectors[2]
    assert server.stats["requests"] == 2


def test_entries_are_shared_between_cache_objects_on_one_file(server, conn, tmp_path):
    path = tmp_path / "shared.sqlite"
    with use_cache(LLMCache(path)):
        ask(conn)
    with use_cache(LLMCache(path)):
        _, call = ask(conn)
    assert call.cached and server.stats["requests"] == 1


def test_cache_key_is_canonical():
    a = cache_key(provider="OpenAI", endpoint="u", api_version=None, api="chat", params={"a": 1, "b": [1, 2]})
    b = cache_key(provider="OpenAI", endpoint="u", api_version=None, api="chat", params={"b": [1, 2], "a": 1})
    assert a == b and len(a) == 64
    assert a != cache_key(provider="OpenAI", endpoint="u", api_version=None, api="chat",
                          params={"a": 1, "b": [1, 2]}, repeat=1)


def test_pfl_cache_stats_and_clear(server, conn, capsys):
    with use_cache(LLMCache()) as cache:
        ask(conn)
        ask(conn, country="Chile")
    cache.close()
    assert pfl(["cache", "stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["entries"] == 2 and stats["path"] == str(default_cache_path())
    assert stats["by_model"] == [{"api": "chat", "model": "gpt-4o", "entries": 2}]
    assert pfl(["cache", "stats"]) == 0
    assert "Entries: 2" in capsys.readouterr().out
    assert pfl(["cache", "clear"]) == 0
    assert "Removed 2 cached response(s)" in capsys.readouterr().out
    assert LLMCache().stats()["entries"] == 0


LLM_FLOW = """
inputs:
  country: {type: string}
outputs:
  answer: {type: string, reference: "${ask.output}"}
nodes:
- name: ask
  type: llm
  source: {type: code, path: ask.jinja2}
  connection: open_ai_connection
  api: chat
  inputs: {model: gpt-4o-mini, temperature: 0, country: "${inputs.country}"}
"""


def test_a_batch_with_repeated_inputs_sends_each_distinct_request_once(make_flow, scripted_connections, tmp_path):
    # 40 lines, 4 countries, 10 lines in flight: identical requests run at the same time; the first is sent and
    # the others take its answer from the cache (before, each one in flight then was sent too)
    flow = make_flow({"flow.dag.yaml": LLM_FLOW, "ask.jinja2": PROMPT}, name="repeated")
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"country": ["France", "Peru", "Chad", "Laos"][i % 4]}) + "\n"
                            for i in range(40)))
    rules = [{"match": "capital of (\\w+)", "reply": "The capital of \\1 is scripted."}]
    with ScriptedServer(rules=rules, latency=0.5) as slow:
        scripted_connections(slow)
        assert pfl(["run", "create", "--flow", str(flow), "--data", str(data), "--name", "repeated",
                    "--max-concurrency", "10"]) == 0
        assert slow.stats["requests"] == 4


def test_identical_calls_in_flight_share_one_request_and_a_failure_is_not_shared(server, conn):
    async def main(prompt: str, count: int):
        return await asyncio.gather(*(llm.chat(conn, prompt, model="gpt-4o", country="Chile")
                                      for _ in range(count)), return_exceptions=True)

    with use_cache(LLMCache()):
        answers = asyncio.run(main(PROMPT, 5))
        assert answers == ["The capital of Chile is scripted."] * 5 and server.stats["requests"] == 1
        failures = asyncio.run(main("user:\nbroken", 3))  # errors are not cached: each waiter tries for itself
    assert all(isinstance(f, LLMError) for f in failures)
    assert server.stats["requests"] == 1 + 3
