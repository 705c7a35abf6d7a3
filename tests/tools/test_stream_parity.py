"""Sync/async parity of streamed model calls: the twin recorders in ``tools/_observe.py`` (our LLM tools'
``chat_sync`` / ``chat``, and OpenAI SDK calls made by user code while tracing patches the SDK) must
yield the same pieces and leave the same model-call record, read to the end or dropped early."""

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
RULES = [{"match": "capital of (\\w+)", "reply": "The capital of \\1 is a long scripted answer."}]
MESSAGES = [{"role": "user", "content": "What is the capital of Peru?"}]


@pytest.fixture
def server():
    with ScriptedServer(rules=RULES) as scripted:
        yield scripted


def record(call) -> dict:
    """What a model-call record says, without times."""
    return {"api": call.api, "request": call.request, "response": call.response, "usage": call.usage,
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
