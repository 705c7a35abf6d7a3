"""OpenAI-shaped bodies: prompt text, completions, stream chunks, embeddings, usage and errors.

Pure functions from request values to JSON-ready dicts, shaped exactly like OpenAI's so the
``openai`` SDK parses them. Token counts are whitespace-split word counts: deterministic, cheap.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any, Iterator

from promptflow_lite.testing._rules import Answer

FINGERPRINT = "fp_scripted"
ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 403: "permission_error",
               404: "invalid_request_error", 429: "requests", 500: "server_error", 503: "server_error"}


def count_tokens(text: str | None) -> int:
    return len(text.split()) if text else 0


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def error_body(status: int, message: str, code: str | None = None, kind: str | None = None) -> dict:
    return {"error": {"message": message, "type": kind or ERROR_TYPES.get(status, "api_error"),
                      "param": None, "code": code}}


# ---------------------------------------------------------------- prompts


def chat_prompt_text(messages: list[dict]) -> str:
    """The messages as ``role: content`` lines; content parts flattened, tool calls as ``name(args)``."""
    lines = []
    for message in messages:
        text = _flatten_content(message.get("content"))
        calls = [f"{call.get('function', {}).get('name')}({call.get('function', {}).get('arguments')})"
                 for call in message.get("tool_calls") or []]
        if message.get("function_call"):
            calls.append(f"{message['function_call'].get('name')}({message['function_call'].get('arguments')})")
        lines.append(f"{message.get('role', 'user')}: " + " ".join(part for part in [text, *calls] if part))
    return "\n".join(lines)


def completion_prompts(prompt: Any) -> list[str]:
    """``prompt`` as a list of strings (a string, strings, or token ids)."""
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, list) and prompt and all(isinstance(item, int) for item in prompt):
        return [" ".join(map(str, prompt))]
    if isinstance(prompt, list):
        return [item if isinstance(item, str) else " ".join(map(str, item)) for item in prompt] or [""]
    return [""]


def _flatten_content(content: Any) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    parts = []
    for part in content:
        if isinstance(part, str):
            parts.append(part)
        elif part.get("type") == "text":
            parts.append(part.get("text", ""))
        else:
            parts.append(f"[{part.get('type', 'part')}]")
    return " ".join(parts)


# ---------------------------------------------------------------- answers


def limit(text: str, max_tokens: int | None, stop: Any) -> tuple[str, str | None]:
    """``text`` cut at the first ``stop`` string and at ``max_tokens`` words; the reason if cut."""
    reason = None
    for marker in [stop] if isinstance(stop, str) else stop or []:
        if marker and marker in text:
            text, reason = text[: text.index(marker)], "stop"
    if max_tokens is not None and count_tokens(text) > max_tokens:
        text, reason = "".join(split_words(text)[:max_tokens]).rstrip(), "length"
    return text, reason


def split_words(text: str) -> list[str]:
    """Stream pieces: each word with its trailing whitespace; ``"".join`` gives ``text`` back."""
    return [piece for piece in re.split(r"(?<=\s)(?=\S)", text) if piece]


def json_for_format(response_format: Any, answer: str) -> str | None:
    """A JSON object string for ``json_object``/``json_schema`` response formats, else ``None``."""
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "json_object":
        return json.dumps({"answer": answer})
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {}
        return json.dumps(_example(schema, answer))
    return None


def _example(schema: dict, answer: str) -> Any:
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object" or "properties" in schema:
        return {name: _example(sub, answer) for name, sub in (schema.get("properties") or {}).items()}
    return {"string": answer, "integer": 0, "number": 0.0, "boolean": False, "array": [], "null": None}.get(
        kind if isinstance(kind, str) else "string", answer)


def answer_tokens(answer: Answer) -> int:
    calls = " ".join(f"{c['function']['name']} {c['function']['arguments']}" for c in answer.tool_calls or [])
    return count_tokens(answer.content) + count_tokens(calls)


def _message(answer: Answer, legacy_functions: bool) -> dict:
    message: dict[str, Any] = {"role": answer.role, "content": answer.content, "refusal": None}
    if answer.tool_calls and legacy_functions:
        message["function_call"] = answer.tool_calls[0]["function"]
    elif answer.tool_calls:
        message["tool_calls"] = answer.tool_calls
    return message


def _finish_reason(answer: Answer, legacy_functions: bool) -> str:
    return "function_call" if legacy_functions and answer.finish_reason == "tool_calls" else answer.finish_reason


# ---------------------------------------------------------------- bodies


def _envelope(kind: str, prefix: str, model: str) -> dict:
    return {"id": f"{prefix}-{uuid.uuid4().hex[:24]}", "object": kind, "created": int(time.time()),
            "model": model, "system_fingerprint": FINGERPRINT}


def chat_completion(model: str, answers: list[Answer], prompt_tokens: int, legacy_functions: bool = False) -> dict:
    body = _envelope("chat.completion", "chatcmpl", model)
    body["choices"] = [{"index": index, "message": _message(answer, legacy_functions), "logprobs": None,
                        "finish_reason": _finish_reason(answer, legacy_functions)}
                       for index, answer in enumerate(answers)]
    body["usage"] = usage(prompt_tokens, sum(answer_tokens(answer) for answer in answers))
    return body


def chat_chunks(model: str, answers: list[Answer], prompt_tokens: int, include_usage: bool,
                legacy_functions: bool = False) -> Iterator[dict]:
    """``chat.completion.chunk`` objects: role first, then word deltas, then the finish reason."""
    head = _envelope("chat.completion.chunk", "chatcmpl", model)

    def chunk(index: int, delta: dict, finish_reason: str | None = None) -> dict:
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return {**head, "choices": [choice], **({"usage": None} if include_usage else {})}

    for index, answer in enumerate(answers):
        yield chunk(index, {"role": answer.role, "content": "" if answer.content is not None else None})
        for piece in split_words(answer.content or ""):
            yield chunk(index, {"content": piece})
        if answer.tool_calls and legacy_functions:
            yield chunk(index, {"function_call": answer.tool_calls[0]["function"]})
        elif answer.tool_calls:
            yield chunk(index, {"tool_calls": [{"index": number, **call}
                                               for number, call in enumerate(answer.tool_calls)]})
        yield chunk(index, {}, _finish_reason(answer, legacy_functions))
    if include_usage:
        yield {**head, "choices": [], "usage": usage(prompt_tokens, sum(answer_tokens(a) for a in answers))}


def text_completion(model: str, texts: list[tuple[str, str]], prompt_tokens: int, completion_tokens: int) -> dict:
    """``texts`` are (text, finish_reason) pairs, one per choice."""
    body = _envelope("text_completion", "cmpl", model)
    body["choices"] = [{"index": index, "text": text, "logprobs": None, "finish_reason": reason}
                       for index, (text, reason) in enumerate(texts)]
    body["usage"] = usage(prompt_tokens, completion_tokens)
    return body


def completion_chunks(model: str, texts: list[tuple[str, str]], prompt_tokens: int, completion_tokens: int,
                      include_usage: bool) -> Iterator[dict]:
    head = _envelope("text_completion", "cmpl", model)
    for index, (text, reason) in enumerate(texts):
        pieces = split_words(text) + [""]
        for number, piece in enumerate(pieces):
            final = number == len(pieces) - 1
            choice = {"index": index, "text": piece, "logprobs": None, "finish_reason": reason if final else None}
            yield {**head, "choices": [choice], **({"usage": None} if include_usage else {})}
    if include_usage:
        yield {**head, "choices": [], "usage": usage(prompt_tokens, completion_tokens)}


def embedding_list(model: str, embeddings: list[Any], prompt_tokens: int) -> dict:
    """``embeddings`` are float lists or base64 strings, in input order."""
    return {"object": "list", "model": model, "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
            "data": [{"object": "embedding", "index": index, "embedding": vector}
                     for index, vector in enumerate(embeddings)]}


def model_list(models: list[str]) -> dict:
    return {"object": "list", "data": [{"id": name, "object": "model", "created": 0, "owned_by": "scripted"}
                                       for name in models]}
