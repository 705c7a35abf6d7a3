"""One trace laid out for a viewer: spans in tree order with depth and timing, model calls as chat messages.

    view = trace_view("6b169858b07a9f42")
    for span in view.spans:              # depth-first, children by start time
        span["depth"], span["name"], span["offset"], span["duration"], span["tokens"]
    view.spans[3]["llm"]["messages"]     # [{"role": "system", "content": ...}, ...]
    view.tokens                          # {"prompt": 17, "completion": 1, "total": 18}

``offset`` is seconds from the trace's start (a waterfall's bar starts there, ``duration`` long).
Values under a key naming a credential, and the secrets this process knows, show as ``***`` even if a
writer missed one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from promptflow_lite.tracing._names import COMPLETION, PROMPT, TOTAL
from promptflow_lite.tracing._query import get_trace
from promptflow_lite.masking import REDACTED, is_secret_name, mask_secrets

FLOW, NODE, LLM, EMBEDDING, FUNCTION = "flow", "node", "llm", "embedding", "function"
_PARAMETERS = ("temperature", "top_p", "max_tokens", "max_completion_tokens", "presence_penalty",
               "frequency_penalty", "seed", "n", "stop", "response_format", "tool_choice", "tools", "functions",
               "logit_bias", "user", "stream", "reasoning_effort", "dimensions")
_REQUEST_CONTENT = ("messages", "prompt", "input", "model", "deployment_name")


@dataclass
class TraceView:
    """A trace ready to lay out; see the module docstring."""

    trace_id: str
    spans: list[dict[str, Any]]
    line_run: dict[str, Any] | None = None
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    start_time: float | None = None
    duration: float | None = None
    tokens: dict[str, int] = field(default_factory=dict)
    status: str = "OK"

    @property
    def llm_calls(self) -> list[dict[str, Any]]:
        """The model-call spans, in order."""
        return [span for span in self.spans if span["llm"] is not None]

    def span(self, span_id: str) -> dict[str, Any] | None:
        return next((span for span in self.spans if span["span_id"] == span_id), None)


def trace_view(trace_id: str, *, path: str | Path | None = None) -> TraceView:
    """The trace ``trace_id`` (a unique prefix of 8+ hex digits will do); ``TraceNotFound`` if absent."""
    found = get_trace(trace_id, path=path)
    ordered = list(_depth_first(found["spans"]))
    starts = [span["start_time"] for span, _ in ordered if span["start_time"]]
    ends = [span["end_time"] for span, _ in ordered if span["end_time"]]
    start = min(starts) if starts else None
    spans = [_span(span, depth, start) for span, depth in ordered]
    failed = any(span["status"] == "ERROR" for span in spans if span["depth"] == 0)
    return TraceView(found["trace_id"], spans, found["line_run"], found["evaluations"], start,
                     (max(ends) - start) if start and ends else None, _trace_tokens(spans),
                     "ERROR" if failed else "OK")


def span_kind(span: dict[str, Any]) -> str:
    """``flow``, ``node``, ``llm``, ``embedding`` or ``function`` (a ``@trace`` function or other span)."""
    span_type = (span.get("span_type") or "").lower()
    if span_type == "flow":
        return FLOW
    if span_type in (LLM, EMBEDDING):
        return span_type
    return NODE if (span.get("attributes") or {}).get("node_name") else FUNCTION


def llm_call(span: dict[str, Any]) -> dict[str, Any] | None:
    """A model call as a chat: ``api, model, parameters, messages`` (role + content), ``response``
    (the answer messages, or embedding sizes), ``tokens``, ``latency``, ``finish_reasons``, ``cached``;
    None for a span that is no model call."""
    kind = span_kind(span)
    if kind not in (LLM, EMBEDDING):
        return None
    attributes = span.get("attributes") or {}
    request = span.get("inputs") if isinstance(span.get("inputs"), dict) else {}
    parameters = {key: value for key, value in request.items() if key in _PARAMETERS}
    for key, value in attributes.items():
        if key.startswith("gen_ai.request.") and key != "gen_ai.request.model":
            parameters.setdefault(key.removeprefix("gen_ai.request."), value)
    return {
        "api": attributes.get("gen_ai.operation.name") or ("embeddings" if kind == EMBEDDING else "chat"),
        "model": attributes.get("gen_ai.response.model") or attributes.get("gen_ai.request.model")
        or request.get("model"),
        "parameters": _redacted(parameters),
        "messages": _request_messages(request, attributes),
        "response": _response_messages(span.get("output"), attributes, kind),
        "tokens": _own_tokens(attributes),
        "latency": span.get("duration"),
        "finish_reasons": attributes.get("gen_ai.response.finish_reasons") or [],
        "cached": bool(attributes.get("cached")),
        "attempts": attributes.get("attempts"),
    }


def text_of(content: Any) -> str:
    """A message's content as text (multi-part content: its text parts, other parts named)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text":
                parts.append(str(part.get("text", "")))
            elif isinstance(part, dict):
                parts.append(f"[{part.get('type', 'part')}]")
            else:
                parts.append(str(part))
        return "\n".join(parts)
    return json.dumps(content, ensure_ascii=False, default=str)


# spans ---------------------------------------------------------------------------------------
def _depth_first(roots: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], int]]:
    stack = [(root, 0) for root in reversed(roots)]
    while stack:
        span, depth = stack.pop()
        yield span, depth
        stack += [(child, depth + 1) for child in reversed(span.get("children") or [])]


def _span(span: dict[str, Any], depth: int, trace_start: float | None) -> dict[str, Any]:
    attributes = _redacted({k: v for k, v in (span.get("attributes") or {}).items() if k not in ("inputs", "output")})
    shown = {**span, "attributes": attributes, "inputs": _redacted(span.get("inputs")),
             "output": _redacted(span.get("output"))}
    shown.pop("children", None)
    shown.update({
        "depth": depth, "kind": span_kind(span), "children_count": len(span.get("children") or []),
        "offset": (span["start_time"] - trace_start) if span.get("start_time") and trace_start else 0.0,
        "tokens": _cumulative_tokens(attributes), "model": attributes.get("gen_ai.request.model"),
        "error": _error(span)})
    shown["llm"] = llm_call(shown)
    return shown


def _error(span: dict[str, Any]) -> dict[str, Any] | None:
    if span.get("status") != "ERROR":
        return None
    for event in span.get("events") or []:
        if event.get("name") == "exception":
            attributes = event.get("attributes") or {}
            return {"type": attributes.get("exception.type"), "message": attributes.get("exception.message")
                    or span.get("status_message"), "stacktrace": attributes.get("exception.stacktrace")}
    return {"type": None, "message": span.get("status_message"), "stacktrace": None}


def _cumulative_tokens(attributes: dict[str, Any]) -> dict[str, int]:
    counts = {"prompt": attributes.get(PROMPT), "completion": attributes.get(COMPLETION),
              "total": attributes.get(TOTAL)}
    return {key: int(value) for key, value in counts.items() if isinstance(value, (int, float))}


def _own_tokens(attributes: dict[str, Any]) -> dict[str, int]:
    """A model call's own usage (GenAI or promptflow attribute names), with ``estimated`` when flagged."""
    counts = {}
    for key, names in (("prompt", ("gen_ai.usage.input_tokens", "llm.usage.prompt_tokens")),
                       ("completion", ("gen_ai.usage.output_tokens", "llm.usage.completion_tokens")),
                       ("total", ("llm.usage.total_tokens",))):
        value = next((attributes[name] for name in names if isinstance(attributes.get(name), (int, float))), None)
        if value is not None:
            counts[key] = int(value)
    if "total" not in counts and ("prompt" in counts or "completion" in counts):
        counts["total"] = counts.get("prompt", 0) + counts.get("completion", 0)
    return counts or _cumulative_tokens(attributes)


def _trace_tokens(spans: list[dict[str, Any]]) -> dict[str, int]:
    """Tokens of the trace: its model calls added up, else what its roots counted."""
    totals = {"prompt": 0, "completion": 0, "total": 0}
    calls = [span["llm"]["tokens"] for span in spans if span["llm"] is not None]
    sources = calls if any(calls) else [span["tokens"] for span in spans if span["depth"] == 0]
    for counts in sources:
        for key in totals:
            totals[key] += counts.get(key, 0)
    return totals


# messages ------------------------------------------------------------------------------------
def _request_messages(request: dict[str, Any], attributes: dict[str, Any]) -> list[dict[str, Any]]:
    messages = request.get("messages")
    if isinstance(messages, list):
        return [_message(m) for m in messages]
    if request.get("prompt") is not None:  # the completions API
        return [{"role": "prompt", "content": text_of(request["prompt"])}]
    if request.get("input") is not None:  # embeddings
        items = request["input"] if isinstance(request["input"], list) else [request["input"]]
        return [{"role": "input", "content": text_of(item)} for item in items]
    return []


def _response_messages(output: Any, attributes: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    if kind == EMBEDDING:
        data = output.get("data") if isinstance(output, dict) else None
        if isinstance(data, list):
            sizes = [len(item.get("embedding") or []) for item in data if isinstance(item, dict)]
            return [{"role": "embedding", "content": f"{len(sizes)} vector(s) of {sizes[0] if sizes else 0} numbers"}]
        return []
    if isinstance(output, dict) and isinstance(output.get("choices"), list):
        answers = []
        for choice in output["choices"]:
            if isinstance(choice, dict) and isinstance(choice.get("message"), dict):
                answers.append(_message(choice["message"]))
            elif isinstance(choice, dict) and "text" in choice:
                answers.append({"role": "assistant", "content": text_of(choice.get("text"))})
        return answers
    generated = attributes.get("llm.generated_message")
    if isinstance(generated, str):
        try:
            generated = json.loads(generated)
        except ValueError:
            pass
    if isinstance(generated, dict):
        return [_message(generated)]
    if isinstance(output, str):  # a streamed answer, stored as its text
        return [{"role": "assistant", "content": output}]
    return []


def _message(message: Any) -> dict[str, Any]:
    if not isinstance(message, dict):
        return {"role": "user", "content": text_of(message)}
    shown = {"role": str(message.get("role") or "user"), "content": text_of(message.get("content"))}
    for key in ("name", "tool_calls", "function_call", "tool_call_id"):
        if message.get(key):
            shown[key] = _redacted(message[key])
    return shown


def _redacted(value: Any) -> Any:
    """``value`` with every entry whose key names a credential replaced by ``***`` and known secrets masked
    (the writers did so already; a viewer makes sure)."""
    if isinstance(value, dict):
        return {k: (REDACTED if isinstance(k, str) and is_secret_name(k) and v not in (None, "")
                    else _redacted(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    return mask_secrets(value) if isinstance(value, str) else value
