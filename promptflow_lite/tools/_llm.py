"""LLM calls - chat, completion, embedding - over the ``openai`` SDK, async first, with sync twins.

``await chat(connection, prompt, ..., **template_variables)`` renders the jinja ``prompt``,
parses it into messages (§2.6), calls the endpoint of ``connection`` (see :mod:`._llm_client`)
with retries (:mod:`._retry`) and returns the answer's content - or the message dict when
``tools``/``functions`` were given, or an async generator of text deltas when ``stream=True``.
``chat_sync`` & co. behave the same for blocking code (worker threads, user tools).

Every HTTP request is recorded with :func:`._observe.model_call`; when a response cache is
active (:mod:`._llm_cache`) a hit answers without any HTTP request.
"""

from __future__ import annotations

import copy
import inspect
import json
import time
import typing
from contextlib import ExitStack, contextmanager
from typing import Any, Callable, Iterator

from promptflow_lite.tools._llm_cache import active_cache, cache_key, current_repeat
from promptflow_lite.tools._llm_client import async_client, sync_client
from promptflow_lite.tools._llm_params import (
    CHAT, COMPLETION, EMBEDDING, ModelRequest, chat_request, completion_request, embedding_request,
)
from promptflow_lite.tools._observe import (
    ModelCall, model_call, record_response, recorded_async_stream, recorded_stream,
)
from promptflow_lite.tools._retry import (
    MalformedResponse, UnsendableRequest, final_error, is_retryable, retry_options,
)


# ---------------------------------------------------------------------------------------------
# one request, end to end


def _record(req: ModelRequest):
    return model_call(req.api, req.record, provider=req.endpoint.provider, endpoint=req.endpoint.display_url,
                      secrets=(req.endpoint.api_key,) if req.endpoint.api_key else ())


def _key(req: ModelRequest) -> str:
    return cache_key(provider=req.endpoint.provider, endpoint=req.endpoint.display_url,
                     api_version=req.endpoint.api_version, api=req.api, params=req.params,
                     repeat=current_repeat.get())


def _cached(req: ModelRequest, call: ModelCall) -> dict | None:
    cache = active_cache()
    if cache is None or req.stream:
        return None
    found = cache.lookup(_key(req))
    if found is None:
        return None
    call.cached = True
    call.replayed_seconds = found[1]
    return found[0]


async def _cached_or_claimed(req: ModelRequest, call: ModelCall, stack: ExitStack) -> dict | None:
    """The cached answer, if any; else, when an identical request is in flight, its answer once it has one;
    else None, and ``req`` is claimed until ``stack`` closes (identical requests wait for it)."""
    data = _cached(req, call)
    cache = active_cache()
    if data is not None or cache is None or req.stream:
        return data
    key = _key(req)
    while not await cache.claim(key):
        data = _cached(req, call)
        if data is not None:
            return data
    stack.callback(cache.release, key)
    return None


def _store(req: ModelRequest, data: dict, started: float) -> None:
    cache = active_cache()
    if cache is not None:
        cache.put(_key(req), data, api=req.api, model=req.model, seconds=time.monotonic() - started)


_PATHS = {CHAT: "/chat/completions", COMPLETION: "/completions", EMBEDDING: "/embeddings"}


def _method(client: Any, req: ModelRequest) -> Callable[..., Any]:
    """What sends ``req``: ``create(stream=True)`` for streams; otherwise the SDK's ``post`` with the
    JSON answer as a dict, which skips building typed request and response models (a quarter of
    the CPU of a call) while keeping the SDK's auth, Azure routing and error types."""
    if req.stream:
        resource = {CHAT: lambda: client.chat.completions, COMPLETION: lambda: client.completions,
                    EMBEDDING: lambda: client.embeddings}[req.api]()
        return lambda: resource.create(**req.params, stream=True)
    body = dict(req.params)
    options: dict[str, Any] = {}
    for key, option in (("extra_headers", "headers"), ("extra_query", "params"), ("timeout", "timeout")):
        if key in body:
            options[option] = body.pop(key)
    body.update(body.pop("extra_body", None) or {})
    return lambda: client.post(_PATHS[req.api], body=body, cast_to=object, options=options)


def _checked(req: ModelRequest, raw: Any) -> Any:
    """The response (a stream object, or the JSON as a dict); bad bodies raise MalformedResponse."""
    if req.stream:
        return raw
    if hasattr(raw, "model_dump"):
        raw = raw.model_dump(mode="json")
    if not isinstance(raw, dict):
        raise MalformedResponse(f"expected JSON, got {str(raw)[:200]!r}")
    if not raw.get("data" if req.api == EMBEDDING else "choices"):
        raise MalformedResponse(f"no answer in the response: {str(raw)[:200]}")
    return raw


def _finish(req: ModelRequest, call: ModelCall, data: dict) -> Any:
    if req.api == EMBEDDING:  # the vectors as floats, for traces as for the caller
        data = {**data, "data": [{**item, "embedding": _vector(item.get("embedding"))} for item in data["data"]]}
    record_response(call, data)
    if req.raw:
        return copy.deepcopy(data)
    if req.api == EMBEDDING:
        return data["data"][0]["embedding"]
    choice = data["choices"][0]
    if req.api == COMPLETION:
        return choice.get("text")
    message = choice.get("message") or {}
    return _sdk_message(message) if req.returns_message else message.get("content")


def _vector(embedding: Any) -> Any:
    """A base64 embedding decoded as the openai SDK decodes it (little-endian float32); a list as it is."""
    if not isinstance(embedding, str):
        return embedding
    import array
    import base64

    return array.array("f", base64.b64decode(embedding)).tolist()


def _sdk_message(message: dict) -> dict:
    """The message as promptflow returns it: the SDK model's ``model_dump()`` (every field, None when absent)."""
    from openai.types.chat import ChatCompletionMessage

    return ChatCompletionMessage.model_validate(message).model_dump()


def _where(req: ModelRequest) -> str:
    return f"{req.endpoint.provider} endpoint {req.endpoint.display_url}"


def _failure(req: ModelRequest, exc: BaseException, call: ModelCall, started: float):
    return final_error(exc, where=_where(req), model=req.model, connection=req.endpoint.connection_label,
                       attempts=call.attempts, started=started)


@contextmanager
def _sending(req: ModelRequest) -> Iterator[None]:
    """One attempt: a body that is not JSON is a malformed response (retried); a request that cannot be
    encoded (NaN/Infinity, a lone surrogate) or that the HTTP client refuses (credentials in the URL) never
    left the process, so retrying cannot help."""
    try:
        yield
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedResponse(str(exc)) from exc
    except ValueError as exc:
        if isinstance(exc, UnicodeEncodeError) or "JSON" in str(exc):
            hint = ("a value in the prompt or the node's inputs cannot be sent as JSON (NaN or Infinity, text with a "
                    "lone surrogate); fix the data or the node inputs.")
        else:
            hint = f"check the endpoint URL and the key of {req.endpoint.connection_label}."
        raise UnsendableRequest(f"LLM request to {_where(req)} (model '{req.model}') cannot be sent: "
                                f"{str(exc).rstrip('.')}.", hint=hint) from None


def _begin(req: ModelRequest, stack: ExitStack) -> tuple[ModelCall, dict | None]:
    """Open the call's record (kept open by ``stack``) and look the request up in the cache (the
    blocking path does not wait for an identical request in flight: see :func:`_cached_or_claimed`)."""
    call = stack.enter_context(_record(req))
    return call, _cached(req, call)


@contextmanager
def _failures(req: ModelRequest, call: ModelCall) -> Iterator[float]:
    """What is left after the retries becomes one error naming the endpoint, model and attempts;
    gives the time the sending began."""
    import openai
    from tenacity import RetryError

    started = time.monotonic()
    try:
        yield started
    except RetryError as exc:
        last = exc.last_attempt.exception()
        raise _failure(req, last, call, started) from last
    except openai.OpenAIError as exc:
        raise _failure(req, exc, call, started) from exc


def _answer(req: ModelRequest, call: ModelCall, result: Any, stack: ExitStack, recorder: Callable[..., Any],
            started: float) -> Any:
    """A stream keeps the record open until it is read (``recorder``); an answer is cached (with how long
    it took since ``started``) and shaped."""
    if req.stream:
        return recorder(result, call, stack.pop_all(), texts=True, close=result.close)
    _store(req, result, started)
    return _finish(req, call, result)


def _retried(exc: Exception) -> Exception:
    """A first attempt's failure: returned when retrying may help, else raised as it is."""
    if not is_retryable(exc):
        raise exc
    return exc


def _replay(first: Iterator[Exception]) -> None:
    """Retrying starts with the first attempt's failure (``first`` yields it once; raised here, in
    tenacity's first attempt), so that its waits, limits and notices count it; the later attempts send."""
    for failed in first:
        raise failed


# A request is sent once; only when that fails in a way worth retrying does tenacity take over (its
# machinery costs ~50 µs a request, ~5 % of a call's CPU). The two ways to send differ only where one
# awaits: tests/tools/test_async_parity.py keeps them alike.

async def invoke_async(req: ModelRequest) -> Any:
    """Send ``req`` (or answer it from the cache) and shape the result."""
    from tenacity import AsyncRetrying

    with ExitStack() as stack:
        call = stack.enter_context(_record(req))
        data = await _cached_or_claimed(req, call, stack)
        if data is not None:
            return _finish(req, call, data)
        create = _method(async_client(req.endpoint), req)
        with _failures(req, call) as started:
            try:
                with _sending(req):
                    call.attempts += 1
                    result = _checked(req, await create())
                failed = None
            except Exception as exc:
                failed = _retried(exc)
            if failed is not None:
                first = iter((failed,))
                async for attempt in AsyncRetrying(**retry_options(_where(req), req.model, started)):
                    with attempt, _sending(req):
                        _replay(first)
                        call.attempts += 1
                        result = _checked(req, await create())
        return _answer(req, call, result, stack, recorded_async_stream, started)


def invoke_sync(req: ModelRequest) -> Any:
    """Blocking twin of :func:`invoke_async`."""
    from tenacity import Retrying

    with ExitStack() as stack:
        call, data = _begin(req, stack)
        if data is not None:
            return _finish(req, call, data)
        create = _method(sync_client(req.endpoint), req)
        with _failures(req, call) as started:
            try:
                with _sending(req):
                    call.attempts += 1
                    result = _checked(req, create())
                failed = None
            except Exception as exc:
                failed = _retried(exc)
            if failed is not None:
                first = iter((failed,))
                for attempt in Retrying(**retry_options(_where(req), req.model, started)):
                    with attempt, _sending(req):
                        _replay(first)
                        call.attempts += 1
                        result = _checked(req, create())
        return _answer(req, call, result, stack, recorded_stream, started)


# ---------------------------------------------------------------------------------------------
# public functions: one "prepare" each, made into an async function and a sync twin


def twins(prepare: Callable[..., ModelRequest], name: str) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """``(sync, async)`` callables with ``prepare``'s signature that send the request it builds.

    The signature and evaluated annotations are copied (not ``__wrapped__``), so executors see
    the real parameters and ``inspect.iscoroutinefunction`` tells the twins apart.
    """
    hints = typing.get_type_hints(prepare)
    hints.pop("return", None)
    signature = inspect.signature(prepare, eval_str=True).replace(return_annotation=inspect.Signature.empty)

    def sync_call(*args: Any, **kwargs: Any) -> Any:
        return invoke_sync(prepare(*args, **kwargs))

    async def async_call(*args: Any, **kwargs: Any) -> Any:
        return await invoke_async(prepare(*args, **kwargs))

    for func in (sync_call, async_call):
        func.__name__ = func.__qualname__ = name
        func.__module__, func.__doc__ = prepare.__module__, prepare.__doc__
        func.__signature__ = signature  # type: ignore[attr-defined]
        func.__annotations__ = dict(hints)
    return sync_call, async_call


def api_args(local_vars: dict[str, Any]) -> dict[str, Any]:
    """The API arguments among a prepare function's ``locals()`` (all but connection/prompt/kwargs)."""
    return {k: v for k, v in local_vars.items() if k not in ("connection", "prompt", "kwargs", "self")}


def prepare_chat(connection: Any, prompt: str, deployment_name: str = "", model: str = "", temperature: float = 1.0,
                 top_p: float = 1.0, n: int = 1, stream: bool = False, stop: list | None = None,
                 max_tokens: int | None = None, presence_penalty: float | None = None,
                 frequency_penalty: float | None = None, logit_bias: dict | None = None, user: str = "",
                 function_call: Any = None, functions: list | None = None, tools: list | None = None,
                 tool_choice: Any = None, response_format: Any = None, seed: int | None = None,
                 **kwargs: Any) -> ModelRequest:
    """Chat with the model of ``connection``; ``kwargs`` are template variables.

    Azure connections use ``deployment_name``, OpenAI-kind ones ``model`` (each falls back to
    the other when empty). ``kwargs["_inputs_to_escape"]`` names variables fed by flow inputs.
    """
    return chat_request(connection, prompt, api_args(locals()), kwargs)


def prepare_completion(connection: Any, prompt: str, deployment_name: str = "", model: str = "",
                       suffix: str | None = None, max_tokens: int | None = 16, temperature: float = 1.0,
                       top_p: float = 1.0, n: int = 1, stream: bool = False, logprobs: int | None = None,
                       echo: bool = False, stop: list | None = None, presence_penalty: float | None = None,
                       frequency_penalty: float | None = None, best_of: int = 1, logit_bias: dict | None = None,
                       user: str = "", **kwargs: Any) -> ModelRequest:
    """Text completion of the rendered ``prompt``; the answer is ``choices[0].text``."""
    return completion_request(connection, prompt, api_args(locals()), kwargs)


def prepare_embedding(connection: Any, input: str, deployment_name: str = "",  # noqa: A002 - promptflow's name
                      model: str = "text-embedding-ada-002", dimensions: int | None = None) -> ModelRequest:
    """The embedding vector (``list[float]``) of ``input``."""
    return embedding_request(connection, input, deployment_name, model, dimensions)


chat_sync, chat = twins(prepare_chat, "chat")
completion_sync, completion = twins(prepare_completion, "completion")
embedding_sync, embedding = twins(prepare_embedding, "embedding")
