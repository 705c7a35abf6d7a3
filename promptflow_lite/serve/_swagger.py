"""The OpenAPI 3 document of a served flow (``GET /swagger.json``), shaped as promptflow's."""

from __future__ import annotations

from typing import Any, Iterable

from promptflow_lite.serve._flow_info import FlowInfo

_TYPES = {"int": "integer", "double": "number", "bool": "boolean", "string": "string", "list": "array",
          "object": "object", "image": "object"}


def build_swagger(info: FlowInfo, hidden_outputs: Iterable[str] = ()) -> dict[str, Any]:
    """``/score`` (request schema from the inputs, response schema from the outputs less ``hidden_outputs``)
    and ``/feedback``; ``info`` carries ``x-flow-name`` and the chat markers; the example is the first
    entry of ``samples.json``. Inputs without a default are ``required``."""
    hidden = set(hidden_outputs)
    meta: dict[str, Any] = {"title": f"Promptflow[{info.name}] API", "version": "1.0.0", "x-flow-name": info.name}
    if info.chat_input:
        meta.update({"x-flow-type": "chat", "x-chat-input": info.chat_input})
    if info.chat_history:
        meta["x-chat-history"] = info.chat_history
    if info.chat_output and info.chat_output not in hidden:
        meta["x-chat-output"] = info.chat_output

    request: dict[str, Any] = {"type": "object"}
    if info.inputs:
        request["properties"] = {name: _input_schema(d) for name, d in info.inputs.items()}
        request["required"] = [name for name, d in info.inputs.items()
                               if not d.has_default and name != info.chat_history]
    response: dict[str, Any] = {"type": "object"}
    shown = {name: o for name, o in info.outputs.items() if name not in hidden}
    if shown:
        response["properties"] = {name: _schema(o.type, o.description) for name, o in shown.items()}
    samples = info.samples
    example = samples[0] if isinstance(samples, list) and samples else {}
    return {
        "openapi": "3.0.0",
        "info": meta,
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearerAuth": []}],
        "paths": {
            "/score": {"post": {
                "summary": f"run promptflow: {info.name} with an given input",
                "requestBody": {"description": "promptflow input data", "required": bool(info.inputs),
                                "content": {"application/json": {"schema": request, "example": example}}},
                "responses": {
                    "200": {"description": "successful operation", "content": {
                        "application/json": {"schema": response},
                        "text/event-stream": {"schema": {"type": "string", "description":
                                                         "server-sent events: data: {output: chunk}"}}}},
                    "400": {"description": "Invalid input"},
                    "default": {"description": "unexpected error"}}}},
            "/feedback": {"post": {
                "summary": "record feedback on a traced request (W3C traceparent header)",
                "parameters": [{"name": "flatten", "in": "query", "required": False, "schema": {"type": "boolean"}}],
                "requestBody": {"description": "feedback data", "required": True,
                                "content": {"application/json": {"schema": {"type": "object",
                                                                            "additionalProperties": {}}}}},
                "responses": {"200": {"description": "successful operation"}}}},
        },
    }


def _input_schema(definition: Any) -> dict[str, Any]:
    schema = _schema(definition.type.value, definition.description)
    if definition.default is not None and definition.default != "":
        schema["default"] = definition.default
    if getattr(definition, "enum", None):
        schema["enum"] = list(definition.enum)
    return schema


def _schema(value_type: str | None, description: str | None) -> dict[str, Any]:
    schema: dict[str, Any] = {}
    json_type = _TYPES.get(value_type or "")
    if json_type:
        schema["type"] = json_type
    if description:
        schema["description"] = description
    if json_type == "object":
        schema["additionalProperties"] = {}
    elif json_type == "array":
        schema["items"] = {"type": "object", "additionalProperties": {}}
    return schema
