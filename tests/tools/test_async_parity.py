"""Sync/async parity of model calls: the twin senders in ``tools/_llm.py`` (``chat_sync`` / ``chat``...)
and stream recorders in ``tools/_observe.py`` (also used for OpenAI SDK calls made by user code while
tracing patches the SDK) must give the same answers and errors and leave the same model-call record:
answered, cached, retried, refused, streamed to the end or dropped early."""

from __future__ import annotations

import asyncio

import openai
import pytest

from promptflow_lite.connections import OpenAIConnection
from promptflow_lite.testing import ScriptedServer
from promptflow_lite.tools import _llm as llm
from promptflow_lite.tools._observe import calls_collector
from promptflow_lite.tracing._openai_sdk import instrument, uninstrument

PROMPT = "# user:\nWhat is the capital of {{country}}?\n"
RULES = [{"match": "capital of (\\w+)", "reply": "The capital of \\1 is a long scripted answer."},
         {"match": "flaky", "reply": "finally", "fail_first": 2},
         {"match": "forbidden", "status": 403, "error": "Your key may not use this model."}]
MESSAGES = [{"role": "user", "content": "What is the capital of Peru?"}]


@pytest.fixture
def server():
    with ScriptedServer(rules=RULES) as scripted:
        yield scripted


def record(call) -> dict:
    """What a model-call record says, without times (nor the server's response id and time)."""
    response = call.response
    if isinstance(response, dict):
        response = {k: v for k, v in response.items() if k not in ("id", "created")}
    return {"api": call.api, "request": call.request, "response": response, "usage": call.usage,
            "cached": call.cached, "error": type(call.error).__name__ if call.error else None,
            "attempts": call.attempts, "ended": call.end_time is not None}


def sync_run(read):
    calls = []
    token = calls_collector.set(calls)
    try:
        return read(), [record(c) for c in calls]
    finally:
        calls_collector.reset(token)


def async_run(read):
    async def main():
        calls = []
        calls_collector.set(calls)
        return await read(), [record(c) for c in calls]
    return asyncio.run(main())


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setenv("PFL_LLM_BACKOFF_SECONDS", "0.01")


def outcome(run, read):
    """What a call gave (its answer or its error's type and message) and the records it left."""
    try:
        answer, calls = run(read)
        return answer, calls
    except Exception as exc:  # noqa: BLE001 - the error is what is compared
        return (type(exc).__name__, str(exc)), None


@pytest.mark.parametrize("question", ["What is the capital of Peru?", "Is it flaky?", "Say something forbidden."])
def test_llm_tool_answers_retries_and_refusals_alike(server, question, pfl_home):
    from promptflow_lite.tools import LLMCache, use_cache

    conn = OpenAIConnection(api_key="sk-test", base_url=server.base_url, name="c")

    def sync_read():
        return llm.chat_sync(conn, "# user:\n{{question}}\n", model="gpt-4o", question=question)

    async def async_read():
        return await llm.chat(conn, "# user:\n{{question}}\n", model="gpt-4o", question=question)

    sync_side = outcome(sync_run, sync_read)
    server.reset()  # flaky fails its first two requests again
    assert outcome(async_run, async_read) == sync_side
    with use_cache(LLMCache(pfl_home / "cache.sqlite")):
        stored = outcome(sync_run, sync_read)  # answered by the server, then stored
        assert outcome(sync_run, sync_read) == outcome(async_run, async_read)  # both from the cache
    if "forbidden" in question:
        assert sync_side[0][0].endswith("Error") and "403" in sync_side[0][1] and "may not use this model" in sync_side[0][1]
    else:
        assert sync_side[1][0]["attempts"] == (3 if "flaky" in question else 1) and stored[1][0]["cached"] is False


def test_llm_tool_streams_the_same_deltas_and_record(server):
    conn = OpenAIConnection(api_key="sk-test", base_url=server.base_url, name="c")

    def sync_read():
        return list(llm.chat_sync(conn, PROMPT, model="gpt-4o", country="Peru", stream=True))

    async def async_read():
        return [delta async for delta in await llm.chat(conn, PROMPT, model="gpt-4o", country="Peru", stream=True)]

    sync_deltas, sync_calls = sync_run(sync_read)
    async_deltas, async_calls = async_run(async_read)
    assert len(sync_deltas) > 2 and "".join(sync_deltas) == "The capital of Peru is a long scripted answer."
    assert (sync_deltas, sync_calls) == (async_deltas, async_calls)
    assert sync_calls[0]["response"] == "".join(sync_deltas) and sync_calls[0]["ended"]


def test_a_dropped_llm_stream_ends_its_record_alike(server):
    conn = OpenAIConnection(api_key="sk-test", base_url=server.base_url, name="c")

    def sync_read():
        stream = llm.chat_sync(conn, PROMPT, model="gpt-4o", country="Peru", stream=True)
        read = [next(stream)]
        while not read[-1]:  # up to the first piece of text
            read.append(next(stream))
        stream.close()
        return read

    async def async_read():
        stream = await llm.chat(conn, PROMPT, model="gpt-4o", country="Peru", stream=True)
        read = [await stream.__anext__()]
        while not read[-1]:
            read.append(await stream.__anext__())
        await stream.aclose()
        return read

    sync_read_part, sync_calls = sync_run(sync_read)
    async_read_part, async_calls = async_run(async_read)
    assert (sync_read_part, sync_calls) == (async_read_part, async_calls)
    call = sync_calls[0]
    assert call["response"] == "".join(sync_read_part) != "" and call["error"] is None and call["ended"]


def test_sdk_streams_recorded_by_tracing_give_the_same_chunks_and_record(server):
    instrument()
    try:
        def sync_read():
            client = openai.OpenAI(base_url=server.base_url, api_key="sk-test")
            stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True,
                                                    stream_options={"include_usage": True})
            return [chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices]

        async def async_read():
            client = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test")
            stream = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True,
                                                          stream_options={"include_usage": True})
            return [chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]

        sync_chunks, sync_calls = sync_run(sync_read)
        async_chunks, async_calls = async_run(async_read)
    finally:
        uninstrument()
    assert "".join(sync_chunks) == "The capital of Peru is a long scripted answer."
    assert (sync_chunks, sync_calls) == (async_chunks, async_calls)
    assert sync_calls[0]["usage"].get("total_tokens") and sync_calls[0]["response"] == "".join(sync_chunks)
