"""Reading a ``/score`` request: the flow inputs from the body, and what the client accepts (FLOW_FORMAT §7.2).

Framework-free functions, so the rules are easy to test and cheap to run per request.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from promptflow_lite.errors import UserError
from promptflow_lite.tools._coercion import MAX_NESTING, load_json

EVENT_STREAM = "text/event-stream"
_JSON_TYPES = frozenset({"application/json", "application/*", "*/*"})


class BadRequest(UserError):
    """The request cannot be turned into flow inputs (answered with 400)."""

    status = 400


class JsonTooDeep(BadRequest):
    """The JSON body nests deeper than the server accepts (or the parser goes)."""


class JsonPayloadRequiredForMultipleInputFields(BadRequest):
    """A non-JSON body for a flow with several inputs."""


class MissingRequiredFlowInput(BadRequest):
    """The request lacks an input that has no default."""


class NotAcceptable(UserError):
    """The client accepts neither JSON nor server-sent events (answered with 406)."""

    status = 406


def read_inputs(body: bytes, inputs: Mapping[str, Any], chat_history: str | None = None,
                max_depth: int = MAX_NESTING) -> dict[str, Any]:
    """The flow inputs a request ``body`` gives, checked against the flow's ``inputs`` definitions.

    A JSON object gives the inputs by name. A body that is not a JSON object is the value of the
    flow's only input (raw text when it is not JSON at all, as promptflow does); with several
    inputs it is an error. An empty body gives no inputs (defaults apply). A flow that declares no
    inputs gets a JSON object as is (a flex entry taking ``**kwargs``) and ignores any other body.
    Inputs without a default must be present, except the chat history (``[]``). JSON nested
    deeper than ``max_depth`` is refused.
    """
    if not inputs:
        return _object_or_nothing(body, max_depth)
    data = _parse_body(body, inputs, max_depth)
    missing = [name for name, definition in inputs.items()
               if name not in data and not definition.has_default and name != chat_history]
    if missing:
        example = json.dumps({name: "..." for name in missing})
        raise MissingRequiredFlowInput(f"Required flow input(s) {', '.join(repr(m) for m in missing)} missing in the "
                                       "request body.", hint=f"send them in a JSON object, e.g. {example}.")
    if chat_history is not None and chat_history not in data and not inputs[chat_history].has_default:
        data[chat_history] = []
    return data


def _parse_body(body: bytes, inputs: Mapping[str, Any], max_depth: int) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        data = parse_json(body, max_depth)
    except _NotJson:
        data, is_json = body.decode("utf-8", "replace"), False
    else:
        if isinstance(data, dict):
            return data
        is_json = True
    if len(inputs) == 1:
        return {next(iter(inputs)): data}
    what = "JSON but not an object" if is_json else "not JSON"
    raise JsonPayloadRequiredForMultipleInputFields(
        f"The request body is {what}; a flow with several inputs ({', '.join(inputs)}) needs a JSON object.",
        hint="send a JSON object of inputs by name, e.g. " + json.dumps({name: "..." for name in inputs}) + ".")


def _object_or_nothing(body: bytes, max_depth: int) -> dict[str, Any]:
    try:
        data = parse_json(body, max_depth) if body.strip() else None
    except _NotJson:
        return {}
    return data if isinstance(data, dict) else {}


class _NotJson(ValueError):
    """The body is not JSON at all (it may still be raw text for a single input)."""


def parse_json(body: bytes, max_depth: int) -> Any:
    """``body`` as JSON nesting at most ``max_depth`` arrays/objects (:class:`JsonTooDeep` otherwise),
    or ``_NotJson``. Values are checked later, against the flow inputs that take them."""
    try:
        data = load_json(body)
    except RecursionError:
        raise JsonTooDeep("The request body nests JSON arrays/objects too deeply to be read.",
                          hint=f"send flatter JSON (at most {max_depth} levels).") from None
    except ValueError:
        raise _NotJson() from None
    _check_depth(data, max_depth)
    return data


def _check_depth(data: Any, max_depth: int) -> None:
    """Iterative (no recursion to exhaust): any part of the body counts, not only the flow inputs."""
    level, depth = [data], 0
    while level:
        containers = [v for v in level if isinstance(v, (dict, list))]
        if not containers:
            return
        depth += 1
        if depth > max_depth:
            raise JsonTooDeep(f"The request body nests JSON arrays/objects more than {max_depth} levels deep.",
                              hint="send flatter JSON.")
        level = [v for c in containers for v in (c.values() if isinstance(c, dict) else c)]


def accepted_types(accept: str | None) -> frozenset[str]:
    """The media types of an ``Accept`` header, parameters (``;q=``) dropped; none given means ``*/*``."""
    if not accept:
        return frozenset({"*/*"})
    return frozenset(part.split(";", 1)[0].strip().lower() for part in accept.split(",") if part.strip())


def wants_event_stream(types: frozenset[str]) -> bool:
    """True when the client named ``text/event-stream`` explicitly."""
    return EVENT_STREAM in types


def accepts_json(types: frozenset[str]) -> bool:
    return not _JSON_TYPES.isdisjoint(types)


def check_acceptable(types: frozenset[str]) -> bool:
    """Whether to stream (SSE) the answer; raises ``NotAcceptable`` when neither SSE nor JSON is accepted."""
    if wants_event_stream(types):
        return True
    if accepts_json(types):
        return False
    raise NotAcceptable(f"Media type {', '.join(sorted(types))} in the Accept header is not acceptable.",
                        hint=f"accept application/json or {EVENT_STREAM}.")


def request_id(headers: Mapping[str, str]) -> str | None:
    """``x-request-id``, else ``x-ms-client-request-id`` (as promptflow's serving)."""
    return headers.get("x-request-id") or headers.get("x-ms-client-request-id")
