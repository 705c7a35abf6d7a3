"""The scripted OpenAI-compatible server, exercised through the real ``openai`` SDK over HTTP."""

from __future__ import annotations

import base64
import json
import math
import os
import signal
import struct
import subprocess
import sys
import threading

import openai
import pytest

from promptflow_lite.errors import UserError
from promptflow_lite.testing import Rule, ScriptedServer

RULES = [
    Rule(r"capital of (?P<country>\w+)", r"The capital of \g<country> is unknown to me.", model=r"^gpt-4o$"),
    Rule(r"capital of (\w+)", r"Ask a bigger model about \1."),
    Rule(r"weather in (\w+)", tool_calls=[{"name": "get_weather", "arguments": {"city": r"\1", "unit": "C"}}]),
    Rule(r"extract (\w+) and (\w+)", json={"first": r"\1", "second": r"\2", "count": 2}),
    Rule(r"forbidden", status=400, error="This prompt is not allowed."),
    Rule(r"flaky (\w+)", r"Recovered \1.", fail_first=2),
]


@pytest.fixture
def server():
    with ScriptedServer(rules=RULES) as running:
        yield running


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)


def ask(client, content: str, **options) -> openai.types.chat.ChatCompletion:
    options.setdefault("model", "gpt-4o")
    return client.chat.completions.create(messages=[{"role": "user", "content": content}], **options)


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b)) / (math.hypot(*a) * math.hypot(*b))


# ---------------------------------------------------------------- answers


def test_chat_answers_from_the_first_matching_rule_with_groups(client):
    big = ask(client, "What is the capital of France?")
    assert big.choices[0].message.content == "The capital of France is unknown to me."
    assert big.choices[0].finish_reason == "stop"
    assert big.object == "chat.completion" and big.model == "gpt-4o"
    assert big.usage.prompt_tokens == 7  # "user: What is the capital of France?"
    assert big.usage.completion_tokens == 8
    assert big.usage.total_tokens == 15

    small = ask(client, "What is the capital of Peru?", model="gpt-4o-mini")
    assert small.choices[0].message.content == "Ask a bigger model about Peru."


def test_prompt_text_is_role_lines_with_content_parts_flattened(server, client):
    server.rules = [Rule(r"system: (.+)\nuser: (.+) \[image_url\]", r"sys=\1 user=\2")]
    answer = client.chat.completions.create(model="gpt-4o", messages=[
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Describe"},
                                     {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
    ])
    assert answer.choices[0].message.content == "sys=Be brief. user=Describe"


def test_unmatched_prompts_get_a_stable_answer_per_prompt_and_model(client):
    first, again = ask(client, "Tell me a joke"), ask(client, "Tell me a joke")
    other_model = ask(client, "Tell me a joke", model="gpt-4o-mini")
    other_prompt = ask(client, "Tell me a story")
    text = first.choices[0].message.content
    assert text.startswith("scripted answer ") and len(text.split()[-1]) == 12
    assert again.choices[0].message.content == text
    assert other_model.choices[0].message.content != text
    assert other_prompt.choices[0].message.content != text


def test_n_returns_that_many_choices_and_limits_cut_the_answer(client):
    answer = ask(client, "capital of Chile", model="m", n=3, seed=7, temperature=0.9)
    assert [choice.index for choice in answer.choices] == [0, 1, 2]
    assert {choice.message.content for choice in answer.choices} == {"Ask a bigger model about Chile."}
    assert answer.usage.completion_tokens == 3 * 6

    cut = ask(client, "capital of Chile", model="m", max_tokens=3)
    assert (cut.choices[0].message.content, cut.choices[0].finish_reason) == ("Ask a bigger", "length")
    stopped = ask(client, "capital of Chile", model="m", stop=[" about"])
    assert stopped.choices[0].message.content == "Ask a bigger model"


def test_tool_call_rule_returns_an_assistant_message_with_tool_calls(client):
    answer = ask(client, "What is the weather in Oslo?", tools=[{"type": "function", "function": {
        "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}])
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.role == "assistant" and choice.message.content is None
    (call,) = choice.message.tool_calls
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Oslo", "unit": "C"}


def test_json_rule_and_json_response_format(client):
    answer = ask(client, "Please extract apples and pears")
    assert json.loads(answer.choices[0].message.content) == {"first": "apples", "second": "pears", "count": 2}

    free = ask(client, "Reply in JSON please", response_format={"type": "json_object"})
    assert isinstance(json.loads(free.choices[0].message.content), dict)


def test_completions_answer_each_prompt(client):
    single = client.completions.create(model="gpt-35-turbo-instruct", prompt="The capital of Japan")
    assert single.object == "text_completion"
    assert single.choices[0].text == "Ask a bigger model about Japan."
    assert single.usage.prompt_tokens == 4

    echoed = client.completions.create(model="m", prompt="capital of Iraq:", echo=True)
    assert echoed.choices[0].text == "capital of Iraq:Ask a bigger model about Iraq."
    assert (echoed.usage.prompt_tokens, echoed.usage.completion_tokens) == (3, 6)

    several = client.completions.create(model="gpt-35-turbo-instruct", prompt=["capital of Mali", "capital of Chad"])
    assert [choice.text for choice in several.choices] == ["Ask a bigger model about Mali.",
                                                           "Ask a bigger model about Chad."]


def test_rules_load_from_a_yaml_file(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("- match: 'hello (?P<name>\\w+)'\n  reply: 'Hi \\g<name>!'\n  latency_ms: 1\n", encoding="utf-8")
    with ScriptedServer(rules=str(rules)) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        assert ask(client, "hello Ada").choices[0].message.content == "Hi Ada!"


def test_bad_rules_are_clear_errors(tmp_path):
    bad = tmp_path / "rules.yaml"
    bad.write_text("- match: '(unclosed'\n  reply: x\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"rules.yaml: Rule 1 is invalid: .*regular expression"):
        ScriptedServer(rules=str(bad))
    with pytest.raises(UserError, match=r"Rule 1 is invalid: respond"):
        ScriptedServer(rules=[{"match": "x", "respond": "typo"}])
    with pytest.raises(UserError, match="Unknown fault kinds"):
        ScriptedServer(fail_kinds=("418",))


# ---------------------------------------------------------------- streaming


def test_streamed_deltas_join_to_the_non_streamed_answer(client):
    whole = ask(client, "What is the capital of Kenya?").choices[0].message.content
    chunks = list(ask(client, "What is the capital of Kenya?", stream=True, stream_options={"include_usage": True}))
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    deltas = [chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices]
    assert len(deltas) > 3 and "".join(deltas) == whole
    assert [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == len(whole.split())


def test_streamed_tool_calls_and_completions(client):
    chunks = list(ask(client, "weather in Rome", stream=True))
    calls = [call for chunk in chunks for call in chunk.choices[0].delta.tool_calls or []]
    assert calls[0].function.name == "get_weather" and json.loads(calls[0].function.arguments)["city"] == "Rome"
    assert chunks[-1].choices[0].finish_reason == "tool_calls"

    pieces = client.completions.create(model="m", prompt="capital of Togo", stream=True)
    assert "".join(chunk.choices[0].text for chunk in pieces) == "Ask a bigger model about Togo."


# ---------------------------------------------------------------- embeddings


def test_embeddings_put_similar_texts_closer_than_unrelated_ones(client):
    texts = ["The cat sat on the mat", "A cat sat on the mat", "Quarterly revenue grew by ten percent"]
    result = client.embeddings.create(model="text-embedding-3-small", input=texts)  # SDK asks for base64
    vectors = [item.embedding for item in result.data]
    assert [len(vector) for vector in vectors] == [64, 64, 64]
    assert all(math.isclose(math.hypot(*vector), 1.0, rel_tol=1e-5) for vector in vectors)
    assert cosine(vectors[0], vectors[1]) > 0.7 > 0.3 > cosine(vectors[0], vectors[2])
    assert result.usage.prompt_tokens == 6 + 6 + 6

    floats = client.embeddings.create(model="e", input="The cat sat on the mat", dimensions=16, encoding_format="float")
    assert len(floats.data[0].embedding) == 16
    again = client.embeddings.create(model="e", input="The cat sat on the mat", dimensions=16, encoding_format="float")
    assert again.data[0].embedding == floats.data[0].embedding


def test_embeddings_base64_is_little_endian_float32(server):
    raw = openai.OpenAI(base_url=server.base_url, api_key="x").embeddings.with_raw_response.create(
        model="e", input="hello world", encoding_format="base64", dimensions=8)
    encoded = json.loads(raw.http_response.text)["data"][0]["embedding"]
    assert len(struct.unpack("<8f", base64.b64decode(encoded))) == 8


# ---------------------------------------------------------------- azure, models, health


def test_azure_deployment_paths(server):
    azure = openai.AzureOpenAI(azure_endpoint=server.url, api_version="2024-02-01", api_key="x", max_retries=0)
    answer = azure.chat.completions.create(model="my-gpt4o", messages=[{"role": "user", "content": "capital of Fiji"}])
    assert answer.model == "my-gpt4o"
    assert answer.choices[0].message.content == "Ask a bigger model about Fiji."
    assert azure.completions.create(model="instruct", prompt="capital of Fiji").model == "instruct"
    assert len(azure.embeddings.create(model="ada", input="hi").data[0].embedding) == 64
    request = server.requests[0]
    assert request["path"] == "/openai/deployments/my-gpt4o/chat/completions"
    assert request["query"] == {"api-version": "2024-02-01"}


def test_models_health_and_bad_requests(server, client):
    assert "gpt-4o" in [model.id for model in client.models.list()]
    import httpx2 as httpx  # the openai SDK's HTTP client

    assert httpx.get(server.url + "/health").json() == {"status": "ok"}
    unknown = httpx.post(server.url + "/v1/nothing", json={})
    assert unknown.status_code == 404 and "error" in unknown.json()
    with pytest.raises(openai.BadRequestError, match="model"):
        client.chat.completions.create(model="", messages=[{"role": "user", "content": "hi"}])
    assert httpx.post(server.url + "/chat/completions", json={"model": "m", "messages": []}).status_code == 400


# ---------------------------------------------------------------- errors and faults


def test_rule_status_is_a_permanent_error(client):
    for _ in range(2):
        with pytest.raises(openai.BadRequestError, match="This prompt is not allowed") as caught:
            ask(client, "something forbidden")
        assert caught.value.status_code == 400


def test_fail_first_fails_each_prompt_that_many_times_then_succeeds(server, client):
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            ask(client, "flaky one")
    assert ask(client, "flaky one").choices[0].message.content == "Recovered one."
    with pytest.raises(openai.InternalServerError):
        ask(client, "flaky two")  # another prompt has its own count
    server.reset()
    with pytest.raises(openai.InternalServerError):
        ask(client, "flaky one")


def test_fail_first_is_what_sdk_retries_recover_from(server):
    patient = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=2)
    assert ask(patient, "flaky three").choices[0].message.content == "Recovered three."
    assert server.stats["statuses"] == {500: 2, 200: 1}


def test_429_carries_retry_after_headers(server, client):
    server.fail_rate, server.fail_kinds, server.retry_after = 1.0, ("429",), 0.25
    with pytest.raises(openai.RateLimitError) as caught:
        ask(client, "hi")
    headers = caught.value.response.headers
    assert headers["retry-after"] == "0.25" and headers["retry-after-ms"] == "250"
    assert caught.value.body["code"] == "rate_limit_exceeded"
    assert server.stats["faults"] == {"429": 1}


def test_500_fault_is_a_json_error(server, client):
    server.fail_rate, server.fail_kinds = 1.0, ("500",)
    with pytest.raises(openai.InternalServerError) as caught:
        ask(client, "hi")
    assert caught.value.body["type"] == "server_error"


def test_drop_closes_the_connection_without_a_response(server, client):
    server.fail_rate, server.fail_kinds = 1.0, ["drop"]
    with pytest.raises(openai.APIConnectionError):
        ask(client, "hi")
    server.fail_rate = 0.0
    assert ask(client, "capital of Cuba").choices[0].message.content == "The capital of Cuba is unknown to me."


def test_malformed_is_a_200_with_a_body_that_is_not_json(server, client):
    server.fail_rate, server.fail_kinds = 1.0, "malformed"
    with pytest.raises(json.JSONDecodeError):
        ask(client, "hi")


def test_timeout_hangs_past_the_client_timeout(server):
    server.fail_rate, server.fail_kinds = 1.0, ("timeout",)
    impatient = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0, timeout=0.3)
    with pytest.raises(openai.APITimeoutError):
        ask(impatient, "hi")
    assert server.stats["faults"] == {"timeout": 1}


def test_fault_injection_is_deterministic_for_a_seed(server, client):
    server.fail_rate, server.fail_kinds = 0.5, ("429", "500")

    def outcomes() -> list[str]:
        seen = []
        for _ in range(20):
            try:
                ask(client, "hi")
                seen.append("ok")
            except openai.APIStatusError as exc:
                seen.append(str(exc.status_code))
        return seen

    first = outcomes()
    assert {"ok", "429", "500"} <= set(first)
    server.reset()
    assert outcomes() == first
    server.seed = 1
    server.reset()
    assert outcomes() != first


def test_api_key_is_required_when_set_and_never_recorded(server):
    server.api_key = "sk-right"
    wrong = openai.OpenAI(base_url=server.base_url, api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        ask(wrong, "hi")
    assert caught.value.body["code"] == "invalid_api_key" and "sk-" not in caught.value.message

    right = openai.OpenAI(base_url=server.base_url, api_key="sk-right", max_retries=0)
    assert ask(right, "capital of Laos").choices[0].message.content == "The capital of Laos is unknown to me."
    azure = openai.AzureOpenAI(azure_endpoint=server.url, api_version="2024-02-01", api_key="sk-right")
    assert azure.chat.completions.create(model="d", messages=[{"role": "user", "content": "hi"}]).choices
    assert server.stats["statuses"] == {401: 1, 200: 2}
    assert "sk-right" not in json.dumps(server.requests) and "sk-wrong" not in json.dumps(server.requests)
    assert server.requests[-1]["headers"]["api-key"] == "<redacted>"


def test_echo_key_puts_the_requests_key_in_every_error_message(server):
    key = "sk-echo-0123456789abcdefXYZ"
    server.api_key, server.echo_key = "sk-right", "full"
    wrong = openai.OpenAI(base_url=server.base_url, api_key=key, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        ask(wrong, "hi")
    assert caught.value.body["message"].endswith(f"API key provided: {key}.") and key in str(caught.value)

    server.echo_key = "elided"  # as OpenAI's 401 shows a key: first 8 characters, stars, last 4
    with pytest.raises(openai.AuthenticationError) as caught:
        ask(wrong, "hi")
    assert caught.value.body["message"].endswith("API key provided: sk-echo-" + "*" * 15 + "fXYZ.")

    server.api_key, server.fail_rate, server.fail_kinds = key, 1.0, "500"  # the right key, echoed by a 500
    azure = openai.AzureOpenAI(azure_endpoint=server.url, api_version="2024-02-01", api_key=key, max_retries=0)
    with pytest.raises(openai.InternalServerError) as caught:
        azure.chat.completions.create(model="d", messages=[{"role": "user", "content": "hi"}])
    assert "Sorry about that" in caught.value.body["message"] and "sk-echo-*" in caught.value.body["message"]
    with pytest.raises(UserError, match="echo_key"):
        server.echo_key = "some"


def test_requests_are_recorded_and_reset(server, client):
    ask(client, "capital of Iran", temperature=0)
    (request,) = server.requests
    assert request["method"] == "POST" and request["path"] == "/v1/chat/completions"
    assert request["body"]["messages"] == [{"role": "user", "content": "capital of Iran"}]
    assert request["body"]["temperature"] == 0
    assert request["headers"]["authorization"] == "<redacted>"
    assert server.stats["requests"] == 1 and server.stats["paths"] == {"/v1/chat/completions": 1}
    server.reset()
    assert server.requests == [] and server.stats["requests"] == 0


# ---------------------------------------------------------------- concurrency


def test_concurrent_requests_overlap_while_the_server_waits(server):
    server.latency = 0.5
    clients = [openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0) for _ in range(20)]
    start = threading.Barrier(len(clients))
    answers: list[str] = []

    def call(one: openai.OpenAI) -> None:
        start.wait()
        answers.append(ask(one, "capital of Nepal").choices[0].message.content)

    threads = [threading.Thread(target=call, args=(one,)) for one in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == ["The capital of Nepal is unknown to me."] * 20
    assert server.stats["max_in_flight"] == 20 and server.stats["in_flight"] == 0


def test_keep_alive_reuses_one_connection(server, client):
    for _ in range(5):
        ask(client, "hi")
    assert len(server.requests) == 5
    assert len({request["client"] for request in server.requests}) == 1


# ---------------------------------------------------------------- CLI


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_cli_serves_until_signalled(tmp_path, stop_signal):
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps([{"match": "ping", "reply": "pong"}]), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "promptflow_lite.cli.main", "testing", "serve", "--port", "0", "--rules", str(rules),
         "--api-key", "k"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("Scripted OpenAI server listening on http://127.0.0.1:")
        client = openai.OpenAI(base_url=line.rsplit(" ", 1)[-1], api_key="k", max_retries=0)
        assert ask(client, "ping").choices[0].message.content == "pong"
    finally:
        process.send_signal(stop_signal)
        _, errors = process.communicate(timeout=10)
    assert process.returncode == 0, errors
