"""A span per LLM / embedding request, with OpenTelemetry GenAI attributes and promptflow's.

Registered as a :class:`~promptflow_lite.tools._observe.ModelCallListener`: ``on_start`` opens an
SDK span under the running node (or ``@trace`` function), ``on_end`` records the response,
token usage and errors and closes it. A streamed call ends when its stream is consumed, so
its span covers the whole stream; when its server sent no token counts, the estimated ones
(:mod:`~promptflow_lite.tools._token_estimate`) are marked ``llm.usage.estimated``. Requests
never carry credentials (the tools keep them in the client), and every rendered value goes
through :mod:`._serialize`.
"""

from __future__ import annotations

import time
import traceback
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlsplit

from promptflow_lite.masking import register_secrets
from promptflow_lite.tracing._context import ROOT_ATTRIBUTE, parent_context, parent_is_ours
from promptflow_lite.tracing._serialize import to_json, to_text
from promptflow_lite.tracing._names import cumulative_attributes

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

# api → (span_type, gen_ai.operation.name, promptflow's function name)
_APIS = {
    "chat": ("LLM", "chat", "openai.resources.chat.completions.Completions.create"),
    "completion": ("LLM", "text_completion", "openai.resources.completions.Completions.create"),
    "embedding": ("Embedding", "embeddings", "openai.resources.embeddings.Embeddings.create"),
}
# request parameter → GenAI attribute
_REQUEST_PARAMS = {
    "temperature": "gen_ai.request.temperature", "top_p": "gen_ai.request.top_p",
    "max_tokens": "gen_ai.request.max_tokens", "max_completion_tokens": "gen_ai.request.max_tokens",
    "presence_penalty": "gen_ai.request.presence_penalty", "frequency_penalty": "gen_ai.request.frequency_penalty",
    "seed": "gen_ai.request.seed", "n": "gen_ai.request.choice.count",
}


class ModelCallSpans:
    """Turns :class:`~promptflow_lite.tools._observe.ModelCall` records into spans."""

    def __init__(self, tracer: Callable[[], Tracer]):
        self.tracer = tracer  # made on first use

    def on_start(self, call: Any) -> None:
        from opentelemetry.trace import SpanKind

        register_secrets(call.secrets)  # e.g. a server echoing the key in an error message
        model = str(call.request.get("model") or "")
        span_type, operation, function = _APIS.get(call.api, ("LLM", call.api, call.api))
        attributes = {"framework": "promptflow", "span_type": span_type, "function": function,
                      "gen_ai.operation.name": operation, "gen_ai.request.model": model,
                      "inputs": to_json(call.request)}
        if not parent_is_ours():
            attributes[ROOT_ATTRIBUTE] = True
        attributes.update(_provider_attributes(call.provider, call.endpoint))
        attributes.update(_request_attributes(call.request))
        name = f"{operation} {model}".strip()
        call.span = self.tracer().start_span(name, context=parent_context(), kind=SpanKind.CLIENT,
                                           attributes=attributes, start_time=_ns(call.start_time))

    def on_end(self, call: Any) -> None:
        from opentelemetry.trace import Status, StatusCode

        span = call.span
        if span is None:
            return
        attributes: dict[str, Any] = {"cached": bool(call.cached)}
        if call.attempts:
            attributes["attempts"] = call.attempts
        if call.response is not None:
            attributes.update(_response_attributes(call.api, call.response))
        attributes.update(_usage_attributes(call.usage, call.usage_estimated))
        error = call.error
        if error is not None:
            cause = error
            while cause.__cause__ is not None and cause.__cause__ is not cause:
                cause = cause.__cause__
            attributes["error.type"] = type(cause).__name__  # GenAI convention: the underlying error
        span.set_attributes(attributes)
        if error is not None:
            cancelled = isinstance(error, (KeyboardInterrupt,)) or type(error).__name__ == "CancelledError"
            message = "Execution cancelled." if cancelled else f"{type(error).__name__}: {to_text(error)}"
            span.add_event("exception", {
                "exception.type": type(error).__name__, "exception.message": to_text(error),
                "exception.stacktrace": to_text("".join(traceback.format_exception(error))),
                "exception.escaped": "True"})
            span.set_status(Status(StatusCode.ERROR, message))
        else:
            span.set_status(Status(StatusCode.OK))
        span.end(end_time=_ns(call.end_time or time.time()))


def _provider_attributes(provider: str, endpoint: str) -> dict[str, Any]:
    azure = provider.lower().startswith("azure")
    attributes: dict[str, Any] = {"gen_ai.system": "az.ai.openai" if azure else "openai",
                                  "gen_ai.provider.name": "azure.ai.openai" if azure else "openai"}
    if endpoint:
        parts = urlsplit(endpoint)
        if parts.hostname:
            attributes["server.address"] = parts.hostname
            port = parts.port or (443 if parts.scheme == "https" else 80)
            attributes["server.port"] = port
    return attributes


def _request_attributes(request: dict[str, Any]) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    for key, attribute in _REQUEST_PARAMS.items():
        value = request.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            attributes[attribute] = value
    stop = request.get("stop")
    if stop:
        attributes["gen_ai.request.stop_sequences"] = [stop] if isinstance(stop, str) else [str(s) for s in stop]
    if request.get("stream"):
        attributes["gen_ai.request.stream"] = True
    if "encoding_format" in request:
        attributes["gen_ai.request.encoding_formats"] = [str(request["encoding_format"])]
    return attributes


def _response_attributes(api: str, response: Any) -> dict[str, Any]:
    if not isinstance(response, dict):  # a consumed stream: its joined text
        return {"output": to_json(response), "llm.generated_message": to_json(response), "output_type": "iterated"}
    attributes: dict[str, Any] = {}
    if response.get("id"):
        attributes["gen_ai.response.id"] = str(response["id"])
    if response.get("model"):
        attributes["gen_ai.response.model"] = attributes["llm.response.model"] = str(response["model"])
    choices = response.get("choices") or []
    reasons = [str(c.get("finish_reason")) for c in choices if isinstance(c, dict) and c.get("finish_reason")]
    if reasons:
        attributes["gen_ai.response.finish_reasons"] = reasons
    if choices and isinstance(choices[0], dict):
        first = choices[0]
        generated = first.get("message") if api == "chat" else first.get("text")
        if generated is not None:
            attributes["llm.generated_message"] = to_json(generated)
    if api == "embedding":
        response = _without_vectors(response)
    attributes["output"] = to_json(response)
    return attributes


def _without_vectors(response: dict[str, Any]) -> dict[str, Any]:
    """Embedding responses keep their shape; each vector becomes ``"<1536 floats>"``."""
    data = []
    for item in response.get("data") or []:
        if isinstance(item, dict) and isinstance(item.get("embedding"), list):
            item = {**item, "embedding": f"<{len(item['embedding'])} floats>"}
        data.append(item)
    return {**response, "data": data}


def _usage_attributes(usage: dict[str, Any] | None, estimated: bool = False) -> dict[str, Any]:
    """Token counts; ``llm.usage.estimated`` marks counts estimated for a stream the server sent none with."""
    if not usage:
        return {}
    attributes: dict[str, Any] = {"llm.usage.estimated": True} if estimated else {}
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        if isinstance(usage.get(key), (int, float)):
            attributes[f"llm.usage.{key}"] = int(usage[key])
    if "prompt_tokens" in usage:
        attributes["gen_ai.usage.input_tokens"] = int(usage["prompt_tokens"])
    if "completion_tokens" in usage:
        attributes["gen_ai.usage.output_tokens"] = int(usage["completion_tokens"])
    attributes.update(cumulative_attributes(usage))
    return attributes


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)
