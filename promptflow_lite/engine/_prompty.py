"""``Prompty`` / ``AsyncPrompty``: a ``.prompty`` file as a callable, as promptflow's (FLOW_FORMAT §8.2).

>>> prompty = Prompty.load("joke.prompty", model={"parameters": {"max_tokens": 64}})
>>> prompty(topic="cats")          # the first choice's content (or a dict in JSON mode)
>>> prompty.render(topic="cats")   # the messages that would be sent

The template is rendered with promptflow's jinja settings, chat prompts are parsed into
messages (role markers typed by users are escaped), ``model.parameters`` go to the OpenAI call
verbatim, and the answer is shaped like promptflow's: the first choice's text, the message dict
when the model calls tools, the JSON object (filtered to ``outputs``) when
``response_format`` is ``json_object``, a generator of text when ``stream: true``, or the whole
response with ``model.response: all``. Requests go through :mod:`promptflow_lite.tools._llm`
(pooled clients, retries, response cache, model-call records).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

from promptflow_lite.engine._connections import active_connections
from promptflow_lite.errors import InputError, UserError
from promptflow_lite.flow._value_type import ValueType
from promptflow_lite.flow._prompty_file import PromptyFile, load_prompty_file

CHAT_PARAMETERS_TO_MODEL = ("deployment_name",)  # legacy: model.parameters.deployment_name names the model
CONVERTIBLE = {t.value for t in ValueType} - {"image"}  # input types converted from text (images: see _inputs)
_IMAGE_STRING = re.compile(r"^data:image/(.*);(path|base64|url):\s*(.*)$", re.S)


class InvalidOutputKeyError(UserError):
    """A JSON answer lacks a key declared under ``outputs``."""


class PromptyAnswerError(UserError):
    """The model's answer cannot be shaped as the prompty asks (e.g. JSON mode without JSON)."""


class Prompty:
    """A prompty loaded from a file; call it with keyword inputs to get the model's answer.

    ``model`` overrides the file's ``model`` section (recursively); other keyword arguments
    override top-level keys (``inputs``, ``outputs``, ``sample``...). ``connections`` is a
    provider (``get(name)``), a ``{name: Connection}`` dict, or None for the local store.
    """

    def __init__(self, path: str | Path, model: dict[str, Any] | None = None, *, connections: Any = None,
                 **kwargs: Any):
        self._file = load_prompty_file(path, model=model, **kwargs)
        self._connections = connections
        self._connection = None

    @classmethod
    def load(cls, source: str | Path, **kwargs: Any) -> "Prompty":
        """promptflow's ``Prompty.load(source, model=..., **overrides)``."""
        return cls(source, **kwargs)

    # what the prompty is -------------------------------------------------------------------
    @property
    def file(self) -> PromptyFile:
        return self._file

    @property
    def path(self) -> Path:
        return self._file.path

    @property
    def name(self) -> str:
        return self._file.name

    @property
    def _name(self) -> str:  # promptflow's attribute name
        return self._file.name

    @property
    def _template(self) -> str:
        return self._file.template

    @property
    def _data(self) -> dict[str, Any]:
        return self._file.data

    @property
    def _outputs(self) -> dict[str, Any]:
        return self._file.outputs

    # calling -------------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """The model's answer for keyword ``kwargs`` (see the module docstring for its shape)."""
        from promptflow_lite.tools._llm import invoke_sync

        request, json_mode = self._request(args, kwargs)
        answer = invoke_sync(request)
        if request.stream:
            answer = _sync_text(answer)
        return self._shape(answer, request.stream, json_mode)

    def render(self, *args: Any, **kwargs: Any) -> str:
        """The prompt that would be sent: the rendered text (completion) or ``str(messages)`` (chat)."""
        if args:
            raise UserError("Prompty can only be rendered with keyword arguments.", file=str(self.path))
        return str(self._prompt(self._inputs(kwargs)))

    def estimate_token_count(self, *args: Any, **kwargs: Any) -> int:
        """Prompt tokens plus ``max_tokens`` (tiktoken when installed, else about 4 characters a token)."""
        if args:
            raise UserError("Prompty can only be rendered with keyword arguments.", file=str(self.path))
        prompt = self._prompt(self._inputs(kwargs))
        max_tokens = self._file.parameters.get("max_tokens")
        if max_tokens is not None and not isinstance(max_tokens, int):
            raise UserError("Max_token needs to be integer.", file=str(self.path))
        if max_tokens is not None and max_tokens <= 1:
            raise UserError(f"{max_tokens} is less than the minimum of max_tokens.", file=str(self.path))
        return count_tokens(prompt, self._model_name() or "") + (max_tokens or 0)

    # the request ---------------------------------------------------------------------------
    def connection(self):
        """The connection the prompty calls (resolved once, then reused); unusable ones name the file."""
        if self._connection is None:
            from promptflow_lite.connections._model_config import to_connection
            from promptflow_lite.tools._llm_client import InvalidConnectionType, InvalidEndpoint, resolve_endpoint

            try:
                connection = to_connection(self._file.configuration, _provider(self._connections), str(self.path))
            except UserError as exc:  # e.g. the named connection does not exist
                exc.locate(file=self.path)
                raise
            try:
                resolve_endpoint(connection)
            except InvalidEndpoint as exc:  # its own message names the field and the fix
                exc.locate(file=self.path)
                raise
            except InvalidConnectionType as exc:
                raise UserError(f"The model configuration cannot be used: {exc.message}", file=str(self.path),
                                hint="name a connection under model.configuration.connection, or give azure_endpoint "
                                     "and api_key (or set AZURE_OPENAI_ENDPOINT / AZURE_OPENAI_API_KEY, "
                                     "OPENAI_API_KEY).") from None
            self._connection = connection
        return self._connection

    def _model_name(self) -> str | None:
        from promptflow_lite.connections._model_config import model_name

        name = model_name(self._file.configuration)
        if not name:
            params = self._file.parameters
            name = next((params[k] for k in CHAT_PARAMETERS_TO_MODEL + ("model",) if params.get(k)), None)
        return name

    def _inputs(self, given: dict[str, Any]) -> dict[str, Any]:
        """The file's template inputs for a call (``PromptyFile.resolve_inputs``); strings of the form
        ``data:image/<type>;(path|url|base64):<value>`` become images (paths relative to the file)."""
        return {k: self._image_or_value(v) for k, v in self._file.resolve_inputs(given).items()}

    def _image_or_value(self, value: Any) -> Any:
        match = _IMAGE_STRING.match(value) if isinstance(value, str) else None
        if not match:
            return value
        from promptflow_lite.tools._multimedia import to_image

        subtype, kind, content = match.groups()
        try:
            return to_image({f"data:image/{subtype};{kind}": content}, self.path.parent)
        except (OSError, ValueError) as exc:
            raise InputError(f"Cannot read the image '{value[:80]}': {exc}.", file=str(self.path),
                             hint="paths are relative to the prompty's folder.") from None

    def _prompt(self, inputs: dict[str, Any]) -> Any:
        """The rendered prompt: a string (completion) or the list of chat messages."""
        from promptflow_lite.tools._llm_params import build_messages
        from promptflow_lite.tools._multimedia import images_in
        from promptflow_lite.tools._template import place_images_on_own_lines, render_template

        template = place_images_on_own_lines(self._file.template)
        try:
            if self._file.api == "completion":
                return render_template(template, **inputs)
            variables = {**inputs, "_inputs_to_escape": list(inputs)}  # every prompty input is user text
            return build_messages(template, images=list(images_in(inputs)), **variables)
        except UserError as exc:  # template or role-marker errors
            exc.locate(file=self.path)
            raise

    def _request(self, args: tuple, kwargs: dict[str, Any], *, parameters: dict[str, Any] | None = None,
                 model: str | None = None, connection: Any = None):
        """``(ModelRequest, json_mode)`` for a call with ``kwargs``; ``parameters``, ``model`` and
        ``connection`` override the file's (a DAG node using the prompty sets them)."""
        from promptflow_lite.tools._llm_client import resolve_endpoint
        from promptflow_lite.tools._llm_params import (
            CHAT,
            COMPLETION,
            ModelRequest,
            process_function_call,
            process_tool_choice,
            to_bool,
            validate_functions,
            validate_tools,
        )

        if args:
            raise UserError("Prompty can only be called with keyword arguments.", file=str(self.path),
                            hint="call it as prompty(question=...).")
        inputs = self._inputs({k: v for k, v in kwargs.items() if k != "timeout"})
        prompt = self._prompt(inputs)
        params = {**self._file.parameters, **(parameters or {})}
        for legacy in CHAT_PARAMETERS_TO_MODEL:
            params.pop(legacy, None)
        model = model or self._model_name()
        if not model:
            raise UserError("The prompty names no model.", file=str(self.path),
                            hint="set model.configuration.azure_deployment (Azure) or model.configuration.model.")
        params["model"] = model
        api = COMPLETION if self._file.api == "completion" else CHAT
        params["prompt" if api == COMPLETION else "messages"] = prompt
        if "tools" in params:
            validate_tools(params["tools"])
            params["tool_choice"] = process_tool_choice(params.get("tool_choice"))
        elif "functions" in params:
            validate_functions(params["functions"])
            params["function_call"] = process_function_call(params.get("function_call"))
        stream = to_bool(params.pop("stream", False))
        response_format = params.get("response_format")
        json_mode = isinstance(response_format, dict) and response_format.get("type") == "json_object"
        endpoint = resolve_endpoint(connection if connection is not None else self.connection())
        return ModelRequest(api, endpoint, params, stream=stream, raw=True), json_mode

    # the answer ----------------------------------------------------------------------------
    def _shape(self, answer: Any, stream: bool, json_mode: bool) -> Any:
        """promptflow's ``format_llm_response`` on a response dict (or a stream of text deltas)."""
        if self._file.response == "all":
            return answer if stream else _response_object(answer, self._file.api)
        if stream:
            return self._json(("".join(answer)), json_mode) if json_mode else answer
        choice = answer["choices"][0]
        if self._file.api == "completion":
            return self._json(choice.get("text"), json_mode)
        message = choice.get("message") or {}
        if choice.get("finish_reason") in ("tool_calls", "function_calls"):
            return self._json(_message_dump(answer, message), json_mode)
        return self._json(message.get("content"), json_mode)

    def _json(self, text: Any, json_mode: bool) -> Any:
        if not json_mode:
            return text
        try:
            result = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise PromptyAnswerError(f"The model's answer is not valid JSON ({exc}): {str(text)[:200]!r}.",
                                     file=str(self.path),
                                     hint="ask for JSON in the prompt, or drop response_format: json_object.") from None
        outputs = self._file.outputs
        if not outputs:
            return result
        if not isinstance(result, dict):
            raise InvalidOutputKeyError(f"The JSON answer is not an object, so it has no {list(outputs)}.",
                                        file=str(self.path), hint="ask the model for a JSON object.")
        missing = [key for key in outputs if key not in result]
        if missing:
            raise InvalidOutputKeyError(
                f"Cannot find {missing[0]} in response {list(result)}.", file=str(self.path),
                hint=f"ask the model for the keys {list(outputs)} in the prompt, or change `outputs:`.")
        return {key: result[key] for key in outputs}


class AsyncPrompty(Prompty):
    """``await AsyncPrompty.load(path)(**inputs)``: the same answers, without blocking the event loop."""

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return await self.acall(args, kwargs)

    async def acall(self, args: tuple, kwargs: dict[str, Any], **overrides: Any) -> Any:
        """``__call__`` with the overrides of :meth:`_request` (parameters, model, connection)."""
        from promptflow_lite.tools._llm import invoke_async

        request, json_mode = self._request(args, kwargs, **overrides)
        answer = await invoke_async(request)
        if request.stream:
            if json_mode:
                return self._json("".join([piece async for piece in answer]), json_mode)
            return _async_text(answer)
        return self._shape(answer, False, json_mode)


# ---------------------------------------------------------------------------------------------


def _provider(connections: Any) -> Any:
    if connections is None:
        connections = active_connections.get()
    if connections is None:
        from promptflow_lite.connections._provider import default_provider

        return default_provider()
    if isinstance(connections, dict):
        from promptflow_lite.connections._provider import DictConnectionProvider

        return DictConnectionProvider(connections)
    return connections


def _sync_text(deltas: Iterator[str]) -> Iterator[str]:
    """The non-empty text pieces of a stream (promptflow skips empty deltas)."""
    for piece in deltas:
        if piece:
            yield piece


async def _async_text(deltas: AsyncIterator[str]) -> AsyncIterator[str]:
    async for piece in deltas:
        if piece:
            yield piece


def _message_dump(data: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    """The first choice's message as promptflow returns a tool call: the ``openai`` object's
    ``model_dump()``, so every field (``function_call``, ``audio``...) is there, None or not."""
    response = _response_object(data, "chat")
    return message if isinstance(response, dict) else response.model_dump()["choices"][0]["message"]


def _response_object(data: dict[str, Any], api: str) -> Any:
    """The response as the ``openai`` object promptflow returns for ``response: all``."""
    try:
        if api == "completion":
            from openai.types import Completion

            return Completion.model_validate(data)
        from openai.types.chat import ChatCompletion

        return ChatCompletion.model_validate(data)
    except Exception:  # a server's non-standard response: keep the dict
        return data


def count_tokens(prompt: Any, model: str) -> int:
    """Tokens of a rendered prompt (OpenAI's chat accounting with tiktoken, else ~4 characters a token)."""
    texts: list[str] = []
    messages = prompt if isinstance(prompt, list) else [{"content": str(prompt)}]
    for message in messages:
        for value in message.values():
            if isinstance(value, str):
                texts.append(value)
            elif isinstance(value, list):
                texts += [part.get("text", "") for part in value if isinstance(part, dict)]
    try:
        import tiktoken
    except ImportError:
        return sum(max(1, len(text) // 4) for text in texts) + 3 * len(messages) + 3
    try:
        encoding = tiktoken.encoding_for_model(model)
    except KeyError:
        encoding = tiktoken.get_encoding("cl100k_base")
    per_message = 3 if isinstance(prompt, list) else 0
    names = sum(1 for m in messages if "name" in m)
    return sum(len(encoding.encode(t)) for t in texts) + per_message * len(messages) + names + 3


__all__ = ["Prompty", "AsyncPrompty", "InvalidOutputKeyError", "PromptyAnswerError",
           "count_tokens"]
