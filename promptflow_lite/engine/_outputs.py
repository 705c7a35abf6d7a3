"""A line's outputs made final: generators joined into text (unless the caller streams), then checked to
be storable as JSON - for DAG and flex flows alike."""

from __future__ import annotations

import dataclasses
import inspect
import json
from typing import Any

from promptflow_lite.engine._threads import run_in_thread
from promptflow_lite.errors import UserError


class OutputNotSerializable(UserError):
    """A flow output cannot be stored as JSON."""


def is_stream(value: Any) -> bool:
    """A sync generator or iterator (not a string, bytes or container)."""
    return inspect.isgenerator(value) or (
        hasattr(value, "__next__") and hasattr(value, "__iter__")
        and not isinstance(value, (str, bytes, dict, list, tuple)))


async def join_generators(value: Any) -> Any:
    """Generators joined into strings: the value itself, the values of a dict, or the fields of a
    dataclass. Sync ones are consumed in the thread pool (a user's generator may block)."""
    if inspect.isasyncgen(value):
        return "".join([str(piece) async for piece in value])
    if is_stream(value):
        return await run_in_thread(_join, stream=value)
    if isinstance(value, dict):
        return {k: await join_generators(v) if is_stream(v) or inspect.isasyncgen(v) else v
                for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if is_stream(item) or inspect.isasyncgen(item):
                setattr(value, f.name, await join_generators(item))
    return value


def _join(stream: Any) -> str:
    return "".join(str(piece) for piece in stream)


def ensure_serializable(outputs: dict[str, Any]) -> None:
    """Raise ``OutputNotSerializable`` unless JSON can hold ``outputs`` (images as their text)."""
    from promptflow_lite.tools._multimedia import PFBytes

    def default(value: Any) -> Any:
        if isinstance(value, PFBytes):
            return str(value)
        if inspect.isasyncgen(value):
            return "<async generator>"
        raise TypeError(type(value).__name__)

    try:
        json.dumps(outputs, default=default)
    except (TypeError, ValueError) as exc:
        raise OutputNotSerializable(f"The flow output is not JSON serializable ({exc}).",
                                    hint="return plain values (str, number, list, dict) from the nodes that feed "
                                         "the flow outputs.") from None
