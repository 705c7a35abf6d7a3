"""From tool arguments to the exact OpenAI request promptflow would send (FLOW_FORMAT §2.5).

Quirks kept: ``stop``, ``logit_bias``, ``response_format`` and ``user`` are sent only when
truthy; ``max_tokens`` only when not None and not ``"inf"`` (cast to int); ``seed`` and the
penalties only when not None; ``tools`` win over the deprecated ``functions``; AzureOpenAI
validates tools and defaults ``tool_choice`` to ``"auto"``, sends ``n`` and turns list
template variables into newline-joined :class:`~._chat.ChatInputList`. promptflow sends
``null``/``{}``/``""`` for unset completion options; they are left out here (same meaning).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable

from promptflow_lite.errors import UserError
from promptflow_lite.tools._chat import Escaper, convert_to_chat_list, parse_chat
from promptflow_lite.tools._llm_client import AZURE, Endpoint, resolve_endpoint
from promptflow_lite.tools._template import render_template, render_with_escapes

CHAT, COMPLETION, EMBEDDING = "chat", "completion", "embedding"


class ChatAPIInvalidFunctions(UserError):
    """``functions`` / ``function_call`` are not valid."""


class ChatAPIInvalidTools(UserError):
    """``tools`` / ``tool_choice`` are not valid."""


class FunctionCallNotSupportedInStreamMode(UserError):
    """Function calling was asked for together with streaming."""


@dataclass
class ModelRequest:
    """One prepared request: ``params`` go to ``create()`` as they are (no credentials)."""

    api: str
    endpoint: Endpoint
    params: dict[str, Any]
    stream: bool = False
    returns_message: bool = False  # chat with tools/functions: the result is the message dict
    raw: bool = False  # the result is the whole response dict (callers that shape it themselves, e.g. Prompty)
    record: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.record = {**self.params, "stream": True} if self.stream else dict(self.params)

    @property
    def model(self) -> str:
        return str(self.params.get("model") or "")


def to_bool(value: Any) -> bool:
    return str(value).lower() == "true"


def build_messages(prompt: str, images: Iterable[Any] | None = None, image_detail: str = "auto",
                   **variables: Any) -> list[dict]:
    """Render a chat prompt and parse it into messages, escaping user-typed role markers."""
    to_escape = variables.pop(Escaper.INPUTS_KEY, None) or []
    escapes = Escaper.build_escape_dict(to_escape, variables)
    text = render_with_escapes(prompt, escapes, **Escaper.escape_kwargs(escapes, to_escape, variables))
    messages = parse_chat(text, images=images, image_detail=image_detail, escape_dict=escapes)
    return Escaper.unescape_messages(messages, escapes)


def model_name(endpoint: Endpoint, deployment_name: str, model: str) -> str:
    """The model to send: the deployment for Azure endpoints, else the model (each falls back to the other)."""
    chosen = (deployment_name or model) if endpoint.flavour == AZURE else (model or deployment_name)
    if not chosen and endpoint.provider == AZURE:
        raise UserError(f"No deployment_name given for Azure OpenAI {endpoint.connection_label}.",
                        hint="set the node input deployment_name to the name of your deployment.")
    return chosen or ""


def chat_request(connection: Any, prompt: str, args: dict[str, Any], variables: dict[str, Any]) -> ModelRequest:
    """The chat request for tool ``args`` (API parameters) and template ``variables``."""
    endpoint = resolve_endpoint(connection)
    azure = endpoint.flavour == AZURE
    messages = build_messages(prompt, **(convert_to_chat_list(variables) if azure else variables))
    stream = to_bool(args.get("stream", False))
    tools, functions = args.get("tools"), args.get("functions")
    if stream and functions is not None:
        raise FunctionCallNotSupportedInStreamMode("Function calling has not been supported by stream mode yet.",
                                                   hint="remove functions or turn streaming off.")
    params: dict[str, Any] = {
        "model": model_name(endpoint, args.get("deployment_name", ""), args.get("model", "")),
        "messages": messages,
        "temperature": float(args.get("temperature", 1.0)),
        "top_p": float(args.get("top_p", 1.0)),
    }
    if azure:
        params["n"] = int(args.get("n", 1))
    if tools:
        if azure:
            validate_tools(tools)
            params["tools"], params["tool_choice"] = tools, process_tool_choice(args.get("tool_choice"))
        else:
            params["tools"] = tools
            if args.get("tool_choice") is not None:
                params["tool_choice"] = args["tool_choice"]
    elif functions:
        validate_functions(functions)
        params["functions"], params["function_call"] = functions, process_function_call(args.get("function_call"))
    _add_common_options(params, args)
    if args.get("response_format"):
        params["response_format"] = args["response_format"]
    if args.get("seed") is not None:
        params["seed"] = args["seed"]
    return ModelRequest(CHAT, endpoint, params, stream, bool(functions or tools))


def completion_request(connection: Any, prompt: str, args: dict[str, Any],
                       variables: dict[str, Any]) -> ModelRequest:
    """The completion request: the rendered prompt is sent as one ``prompt`` string."""
    endpoint = resolve_endpoint(connection)
    variables = {k: v for k, v in variables.items() if k != Escaper.INPUTS_KEY}
    params: dict[str, Any] = {
        "model": model_name(endpoint, args.get("deployment_name", ""), args.get("model", "")),
        "prompt": render_template(prompt, **variables),
        "temperature": float(args.get("temperature", 1.0)),
        "top_p": float(args.get("top_p", 1.0)),
        "n": int(args.get("n", 1)),
        "echo": to_bool(args.get("echo", False)),
        "best_of": int(args.get("best_of", 1)),
    }
    if args.get("suffix"):
        params["suffix"] = args["suffix"]
    if args.get("logprobs"):
        params["logprobs"] = int(args["logprobs"])
    args = {"max_tokens": 16, **args}
    _add_common_options(params, args)
    return ModelRequest(COMPLETION, endpoint, params, to_bool(args.get("stream", False)))


def embedding_request(connection: Any, input: str, deployment_name: str = "", model: str = "",
                      dimensions: int | None = None) -> ModelRequest:
    """The embedding request for one input text."""
    endpoint = resolve_endpoint(connection)
    # base64, as the openai SDK's embeddings.create asks by default (promptflow's tool): float32 values
    params: dict[str, Any] = {"model": model_name(endpoint, deployment_name, model), "input": input,
                              "encoding_format": "base64"}
    if endpoint.flavour == "Serverless":
        params.update(input=[input], encoding_format="float")
    if dimensions is not None:
        params["dimensions"] = int(dimensions)
    return ModelRequest(EMBEDDING, endpoint, params)


def _add_common_options(params: dict[str, Any], args: dict[str, Any]) -> None:
    if args.get("stop"):
        params["stop"] = args["stop"]
    max_tokens = args.get("max_tokens")
    if max_tokens is not None and str(max_tokens).lower() != "inf":
        params["max_tokens"] = int(max_tokens)
    if args.get("logit_bias"):
        params["logit_bias"] = args["logit_bias"]
    for penalty in ("presence_penalty", "frequency_penalty"):
        if args.get(penalty) is not None:
            params[penalty] = float(args[penalty])
    if args.get("user"):
        params["user"] = args["user"]


# ---------------------------------------------------------------------------------------------
# validation of functions / tools (messages as promptflow's)

_FUNCTION_EXAMPLE = json.dumps({
    "name": "function_name",
    "parameters": {"type": "object", "properties": {
        "parameter_name": {"type": "integer", "description": "parameter_description"}}},
    "description": "function_description"})
_TOOL_EXAMPLE = json.dumps({"type": "function", "function": {
    "name": "get_current_weather", "description": "Get the current weather in a given location",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}})


def _validate_function(i: int, function: Any, error: type[UserError], guide: str) -> None:
    def fail(problem: str) -> None:
        raise error(problem, hint=guide)

    if not isinstance(function, dict):
        fail(f"function {i} '{function}' is not a dict.")
    for key in ("name", "parameters"):
        if key not in function:
            fail(f"function {i} '{function}' does not have '{key}' property.")
    parameters = function["parameters"]
    if not isinstance(parameters, dict):
        fail(f"function {i} '{function['name']}' parameters '{parameters}' should be described as a JSON Schema "
             "object.")
    for key in ("type", "properties"):
        if key not in parameters:
            fail(f"function {i} '{function['name']}' parameters '{parameters}' does not have '{key}' property.")
    if parameters["type"] != "object":
        fail(f"function {i} '{function['name']}' parameters 'type' should be 'object'.")
    if not isinstance(parameters["properties"], dict):
        fail(f"function {i} '{function['name']}' parameters 'properties' should be described as a JSON Schema "
             "object.")


def validate_functions(functions: Any) -> None:
    guide = f"Here is a valid function example: {_FUNCTION_EXAMPLE}."
    if not functions:
        raise ChatAPIInvalidFunctions("functions cannot be an empty list.", hint=guide)
    for i, function in enumerate(functions):
        _validate_function(i, function, ChatAPIInvalidFunctions, guide)


def validate_tools(tools: Any) -> None:
    guide = f"Here is a valid tool example: {_TOOL_EXAMPLE}."
    if not tools:
        raise ChatAPIInvalidTools("tools cannot be an empty list.", hint=guide)
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise ChatAPIInvalidTools(f"tool {i} '{tool}' is not a dict.", hint=guide)
        for key in ("type", "function"):
            if key not in tool:
                raise ChatAPIInvalidTools(f"tool {i} '{tool}' does not have '{key}' property.", hint=guide)
        _validate_function(i, tool["function"], ChatAPIInvalidTools, guide)


def process_function_call(function_call: Any) -> Any:
    if function_call is None:
        return "auto"
    if function_call in ("auto", "none"):
        return function_call
    guide = 'Here is a valid example: {"name": "function_name"}.'
    if not isinstance(function_call, dict):
        raise ChatAPIInvalidFunctions(f"function_call parameter '{function_call}' must be a dict, but not "
                                      f"{type(function_call)}.", hint=guide)
    if "name" not in function_call:
        raise ChatAPIInvalidFunctions(f'function_call parameter {json.dumps(function_call)} must contain "name" '
                                      "field.", hint=guide)
    return function_call


def process_tool_choice(tool_choice: Any) -> Any:
    if tool_choice is None:
        return "auto"
    if tool_choice in ("auto", "none", "required"):
        return tool_choice
    guide = 'Here is a valid example: {"type": "function", "function": {"name": "my_function"}}.'
    if not isinstance(tool_choice, dict):
        raise ChatAPIInvalidTools(f"tool_choice parameter '{tool_choice}' must be a dict, but not "
                                  f"{type(tool_choice)}.", hint=guide)
    for key in ("type", "function"):
        if key not in tool_choice:
            raise ChatAPIInvalidTools(f'tool_choice parameter {json.dumps(tool_choice)} must contain "{key}" '
                                      "field.", hint=guide)
    function = tool_choice["function"]
    if not isinstance(function, dict) or "name" not in function:
        raise ChatAPIInvalidTools(f'function parameter "{function}" in tool_choice must be a dict with a "name" '
                                  "field.", hint=guide)
    return tool_choice
