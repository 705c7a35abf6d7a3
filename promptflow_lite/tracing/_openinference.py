"""Our spans in the words other trace viewers read: OpenInference and OpenTelemetry GenAI content.

The local store keeps promptflow's attribute names (``span_type``, ``inputs``, ``output``,
``llm.usage.*``). Spans sent over OTLP also get, from those, what Arize Phoenix and other
OpenInference readers show - ``openinference.span.kind``, ``input.value`` / ``output.value``,
``llm.input_messages.N.message.*`` / ``llm.output_messages...``, ``llm.model_name``,
``llm.invocation_parameters``, ``llm.token_count.*`` - and the GenAI semantic conventions'
``gen_ai.input.messages`` / ``gen_ai.output.messages``; their ``output`` becomes ``output.value``
(:func:`exported_attributes`). Kinds: a line is a CHAIN; a python
node a TOOL; an llm node (which wraps its LLM span) a CHAIN; a prompt node a PROMPT; a
``@trace`` function a CHAIN unless its ``span_type`` says otherwise. The values come from the
stored attributes, which are already cut and free of secrets (:mod:`.serialize`).
"""

from __future__ import annotations

from typing import Any, Mapping

from promptflow_lite.tracing._serialize import dumps
from promptflow_lite.tracing._store import parse_json

KIND = "openinference.span.kind"
_SPAN_KINDS = {"Flow": "CHAIN", "Function": "CHAIN", "LLM": "LLM", "Embedding": "EMBEDDING", "Retrieval": "RETRIEVER",
               "Tool": "TOOL", "Agent": "AGENT", "Reranker": "RERANKER", "Evaluator": "EVALUATOR"}
_NODE_KINDS = {"llm": "CHAIN", "prompt": "PROMPT"}  # other node types (python, package tools) are TOOLs
_PROMPT_KEYS = ("messages", "prompt", "input", "tools", "functions")  # not invocation parameters
_TOKENS = (("prompt_tokens", "prompt"), ("completion_tokens", "completion"), ("total_tokens", "total"))
JSON, TEXT = "application/json", "text/plain"


def exported_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """The attributes a span with promptflow's ``attributes`` is sent with: those, OpenInference's
    and GenAI's. Promptflow's ``output`` gives way to ``output.value``: a viewer that nests dotted
    names (Phoenix does) cannot hold both ``output`` and ``output.value``, and loses the output."""
    extra = openinference_attributes(attributes)
    exported = {**attributes, **extra}
    if "output.value" in extra:
        exported.pop("output", None)
    return exported


def openinference_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """The OpenInference (and GenAI content) attributes of a span with promptflow's ``attributes``."""
    span_type = attributes.get("span_type")
    if span_type in ("LLM", "Embedding"):
        request = parse_json(attributes.get("inputs"))
        request = request if isinstance(request, dict) else {}
        model = attributes.get("gen_ai.response.model") or attributes.get("gen_ai.request.model") or request.get("model")
        common = {**_value("input", attributes.get("inputs")), **_tokens(attributes)}
        if span_type == "Embedding":
            return {KIND: "EMBEDDING", "embedding.model_name": str(model or ""), **common,
                    **_embedding_texts(request.get("input"))}
        return {KIND: "LLM", **common, **_llm(attributes, request, model)}
    node_type = attributes.get("node_type")
    kind = _NODE_KINDS.get(node_type, "TOOL") if node_type else _SPAN_KINDS.get(span_type, "CHAIN")
    result = {KIND: kind, **_value("input", attributes.get("inputs")), **_value("output", attributes.get("output"))}
    if kind == "TOOL":
        result["tool.name"] = str(attributes.get("node_name") or attributes.get("function") or "")
    return result


def _llm(attributes: Mapping[str, Any], request: dict[str, Any], model: Any) -> dict[str, Any]:
    azure = str(attributes.get("gen_ai.provider.name", "")).startswith("azure")
    result: dict[str, Any] = {"llm.model_name": str(model or ""), "llm.provider": "azure" if azure else "openai",
                              "llm.system": "openai", **_value("output", attributes.get("output"))}
    parameters = {k: v for k, v in request.items() if k not in _PROMPT_KEYS}
    result["llm.invocation_parameters"] = dumps(parameters)
    messages = [m for m in request.get("messages") or () if isinstance(m, dict)]
    for index, message in enumerate(messages):
        result.update(_message(f"llm.input_messages.{index}", message))
    prompts = request.get("prompt")
    for index, prompt in enumerate([prompts] if isinstance(prompts, str) else prompts or ()):
        result[f"llm.prompts.{index}.prompt.text"] = str(prompt)
    for index, tool in enumerate(request.get("tools") or ()):
        result[f"llm.tools.{index}.tool.json_schema"] = dumps(tool)
    answers = _answers(parse_json(attributes.get("output")), "messages" in request)
    for index, answer in enumerate(answers):
        if "message" in answer:
            result.update(_message(f"llm.output_messages.{index}", answer["message"]))
        else:
            result[f"llm.choices.{index}.completion.text"] = answer["text"]
    if messages:
        result["gen_ai.input.messages"] = dumps([_genai_message(m) for m in messages])
    if answers:
        result["gen_ai.output.messages"] = dumps([_genai_answer(a) for a in answers])
    return result


def _answers(output: Any, chat: bool) -> list[dict[str, Any]]:
    """The choices of a response dict - ``{"message": ...}`` or ``{"text": ...}`` plus
    ``finish_reason`` - or the one answer of a consumed stream (its text)."""
    if isinstance(output, str):
        return [{"message": {"role": "assistant", "content": output}} if chat else {"text": output}]
    if not isinstance(output, dict):
        return []
    answers = []
    for choice in output.get("choices") or ():
        if isinstance(choice, dict) and isinstance(choice.get("message"), dict):
            answers.append({"message": choice["message"], "finish_reason": choice.get("finish_reason")})
        elif isinstance(choice, dict) and "text" in choice:
            answers.append({"text": str(choice["text"]), "finish_reason": choice.get("finish_reason")})
    return answers


def _message(prefix: str, message: Mapping[str, Any]) -> dict[str, Any]:
    """One chat message as OpenInference's flattened ``<prefix>.message.*`` attributes."""
    result: dict[str, Any] = {f"{prefix}.message.role": str(message.get("role") or "")}
    content = message.get("content")
    if isinstance(content, str):
        result[f"{prefix}.message.content"] = content
    elif isinstance(content, list):
        for index, part in enumerate(p for p in content if isinstance(p, dict)):
            item = f"{prefix}.message.contents.{index}.message_content"
            if part.get("type") == "text":
                result[f"{item}.type"], result[f"{item}.text"] = "text", str(part.get("text", ""))
            elif part.get("type") == "image_url":
                result[f"{item}.type"], result[f"{item}.image.image.url"] = "image", _image_url(part)
    for key in ("name", "tool_call_id"):
        if message.get(key):
            result[f"{prefix}.message.{key}"] = str(message[key])
    for index, (call, function) in enumerate(_tool_calls(message)):
        item = f"{prefix}.message.tool_calls.{index}.tool_call"
        result.update({f"{item}.id": str(call.get("id") or ""), f"{item}.function.name": str(function.get("name", "")),
                       f"{item}.function.arguments": str(function.get("arguments", ""))})
    call = message.get("function_call")
    if isinstance(call, dict):
        result[f"{prefix}.message.function_call_name"] = str(call.get("name", ""))
        result[f"{prefix}.message.function_call_arguments_json"] = str(call.get("arguments", ""))
    return result


def _genai_message(message: Mapping[str, Any]) -> dict[str, Any]:
    """One chat message in the GenAI conventions' form: ``{"role", "parts": [...]}``."""
    role, content, parts = str(message.get("role") or ""), message.get("content"), []
    if role == "tool":
        parts.append({"type": "tool_call_response", "id": message.get("tool_call_id"), "response": content})
    elif isinstance(content, str):
        parts.append({"type": "text", "content": content})
    elif isinstance(content, list):
        for part in (p for p in content if isinstance(p, dict)):
            if part.get("type") == "text":
                parts.append({"type": "text", "content": str(part.get("text", ""))})
            elif part.get("type") == "image_url":
                parts.append({"type": "file_data", "modality": "image", "uri": _image_url(part)})
    for call, function in _tool_calls(message):
        parts.append({"type": "tool_call", "id": call.get("id"), "name": function.get("name"),
                      "arguments": parse_json(function.get("arguments"))})
    return {"role": role, "parts": parts}


def _genai_answer(answer: Mapping[str, Any]) -> dict[str, Any]:
    message = answer.get("message") or {"role": "assistant", "content": answer.get("text", "")}
    result = _genai_message(message)
    if answer.get("finish_reason"):
        result["finish_reason"] = str(answer["finish_reason"])
    return result


def _tool_calls(message: Mapping[str, Any]) -> list[tuple[dict, dict]]:
    """``(tool call, its function)`` pairs of a message."""
    calls = message.get("tool_calls")
    return [(call, call["function"] if isinstance(call.get("function"), dict) else {})
            for call in calls if isinstance(call, dict)] if isinstance(calls, list) else []


def _embedding_texts(inputs: Any) -> dict[str, Any]:
    texts = [inputs] if isinstance(inputs, str) else inputs if isinstance(inputs, list) else []
    return {f"embedding.embeddings.{index}.embedding.text": text
            for index, text in enumerate(texts) if isinstance(text, str)}


def _tokens(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """``llm.usage.*`` as ``llm.token_count.*`` (``llm.token_count.estimated`` for estimates)."""
    result = {f"llm.token_count.{name}": attributes[f"llm.usage.{key}"] for key, name in _TOKENS
              if isinstance(attributes.get(f"llm.usage.{key}"), int)}
    if result and attributes.get("llm.usage.estimated"):
        result["llm.token_count.estimated"] = True
    return result


def _value(prefix: str, text: Any) -> dict[str, Any]:
    """``input``/``output`` ``.value`` and ``.mime_type`` of a JSON text attribute: a string
    value is shown as plain text, anything else as JSON."""
    if not isinstance(text, str):
        return {}
    parsed = parse_json(text)
    if isinstance(parsed, str):
        return {f"{prefix}.value": parsed, f"{prefix}.mime_type": TEXT}
    return {f"{prefix}.value": text, f"{prefix}.mime_type": JSON}


def _image_url(part: Mapping[str, Any]) -> str:
    url = part.get("image_url")
    return str(url.get("url", "") if isinstance(url, dict) else url or "")
