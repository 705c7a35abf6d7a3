"""Value conversion: flow inputs by declared type, literal node inputs by the tool's annotations.

Follows promptflow's ``ValueType.parse`` (FLOW_FORMAT §1.3, §1.6) with two documented
improvements: ``int`` accepts integral strings like ``"3.0"`` and ``bool`` accepts ``0``/``1``.
"""

from __future__ import annotations

import enum
import inspect
import json
import typing
from typing import Any, Callable

from promptflow_lite.connections._types import Connection
from promptflow_lite.flow._value_type import ValueType

_TRUE, _FALSE = ("true",), ("false",)


class ConversionError(ValueError):
    """A value does not match its declared type."""


MAX_NESTING = 100  # lists/dicts inside each other: deeper values would overflow the stack of JSON, jinja...


class UnusableValue(ConversionError):
    """A value no flow can take: text with a lone surrogate (not Unicode, so it cannot be sent, stored or
    printed as UTF-8), or lists/dicts nested deeper than ``MAX_NESTING``."""


def check_value(value: Any) -> None:
    """Raise :class:`UnusableValue` when a string in ``value`` (nested in lists and dicts too) is not valid
    Unicode - a lone surrogate from a broken ``\\uXXXX`` escape, or a byte that was not UTF-8 - or when
    ``value`` nests more than ``MAX_NESTING`` levels."""
    pending = [(value, 0)]
    while pending:  # not recursive: a deeply nested value must not overflow the stack here either
        item, depth = pending.pop()
        if isinstance(item, str):
            if not item.isascii():
                _check_encodable(item)
        elif isinstance(item, (dict, list, tuple)):
            if depth >= MAX_NESTING:
                raise UnusableValue(f"it nests lists/objects more than {MAX_NESTING} levels deep")
            children = [*item, *item.values()] if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)


def _check_encodable(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UnusableValue(f"its text holds a lone surrogate {text[exc.start]!r} at character {exc.start} (a "
                            "broken \\uXXXX escape, or bytes that are not UTF-8), which is not Unicode") from None


def load_json(text: str | bytes) -> Any:
    """``json.loads(text)``, except that an integer literal longer than Python converts (over 4,300
    digits) reads as its digits (a string), so it fails only the input that takes it (an ``int`` input:
    "not of type int") instead of the whole file or request. Raises ``ValueError`` as ``json.loads``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except ValueError:  # "Exceeds the limit (4300 digits) for integer string conversion"
        return json.loads(text, parse_int=_int_or_digits)


def _int_or_digits(digits: str) -> int | str:
    try:
        return int(digits)
    except ValueError:
        return digits


def parse_value(value: Any, value_type: str) -> Any:
    """Convert ``value`` to ``value_type`` (``int``, ``double``, ``bool``, ``string``, ``list``, ``object``...)."""
    if value is None:
        return None
    try:
        if value_type == "int":
            if isinstance(value, str):
                number = float(value.strip())
                if not number.is_integer():
                    raise ValueError(value)
                return int(number)
            return int(value)
        if value_type == "double":
            return float(value)
        if value_type == "bool":
            return _parse_bool(value)
        if value_type == "string":
            return value if isinstance(value, str) else str(value)
        if value_type == "list":
            parsed = json.loads(value) if isinstance(value, str) else value
            if not isinstance(parsed, list):
                raise ValueError(value)
            return parsed
        if value_type == "object":
            if isinstance(value, str):
                try:
                    return json.loads(value)
                except ValueError:
                    return value
            return value
        if value_type == "image":
            from promptflow_lite.tools._multimedia import to_image

            return to_image(value)
    except (ValueError, TypeError, ArithmeticError, RecursionError) as exc:  # e.g. int(1e400), deep JSON
        why = f" ({exc})" if isinstance(exc, (ArithmeticError, RecursionError)) else ""
        raise ConversionError(f"value {_short(value)} is not of type {value_type}{why}") from exc
    return value


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(value)


def _short(value: Any) -> str:
    text = repr(value[:100] if isinstance(value, str) else value)  # a huge string is not copied whole
    return text if len(text) <= 80 else text[:77] + "..."


# ---------------------------------------------------------------------------------------------
# tool parameters


class ParamType:
    """What a tool parameter expects, derived from its annotation (or default)."""

    def __init__(self, value_type: str, connection_classes: tuple[type, ...] = (), annotation: Any = None):
        self.value_type = value_type
        self.connection_classes = connection_classes
        self.annotation = annotation

    @property
    def is_connection(self) -> bool:
        return bool(self.connection_classes)


def param_types(func: Callable[..., Any]) -> dict[str, ParamType]:
    """The expected type of each named parameter of ``func``."""
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # unresolvable string annotations: fall back to the raw ones
        hints = {}
    result = {}
    for name, param in inspect.signature(func).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD) or name == "self":
            continue
        annotation = hints.get(name, param.annotation)
        result[name] = _param_type(annotation, param.default)
    return result


def _param_type(annotation: Any, default: Any) -> ParamType:
    if annotation is inspect.Parameter.empty:
        return ParamType(ValueType.from_value(default).value if default is not inspect.Parameter.empty else "object")
    if isinstance(annotation, str):
        return ParamType(_type_of_name(annotation), annotation=annotation)
    candidates = _union_members(annotation)
    connections = tuple(c for c in candidates if isinstance(c, type) and issubclass(c, Connection))
    if connections:
        return ParamType("connection", connections, annotation)
    first = candidates[0] if candidates else annotation
    return ParamType(_type_of_annotation(first), annotation=annotation)


def _union_members(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Union or (origin is not None and getattr(origin, "__name__", "") == "UnionType"):
        return [a for a in typing.get_args(annotation) if a is not type(None)]
    import types

    if isinstance(annotation, types.UnionType):
        return [a for a in annotation.__args__ if a is not type(None)]
    return [annotation]


def _type_of_annotation(annotation: Any) -> str:
    origin = typing.get_origin(annotation) or annotation
    if origin is bool:
        return "bool"
    if origin is int:
        return "int"
    if origin is float:
        return "double"
    if origin is str:
        return "string"
    if origin in (list, tuple, typing.List):
        return "list"
    if origin in (dict, typing.Dict):
        return "object"
    if isinstance(origin, type) and issubclass(origin, enum.Enum):
        return "string"
    name = getattr(origin, "__name__", "")
    return {"Image": "image", "PromptTemplate": "prompt_template", "FilePath": "file_path",
            "Secret": "string", "AssistantDefinition": "assistant_definition"}.get(name, "object")


def _type_of_name(name: str) -> str:
    inner = name.replace("Optional[", "").rstrip("]").split("|")[0].strip()
    base = inner.split("[")[0].lower()
    return {"bool": "bool", "int": "int", "float": "double", "str": "string", "list": "list", "dict": "object",
            "image": "image", "prompttemplate": "prompt_template", "secret": "string"}.get(base, "object")


def convert_literal(value: Any, expected: ParamType | None) -> Any:
    """A literal node input converted for its parameter; unknown parameters pass unchanged."""
    if expected is None or expected.is_connection:
        return value
    if expected.value_type in ("prompt_template", "file_path", "assistant_definition", "image"):
        return value  # images are read by the flow's message format (engine.nodes)
    return parse_value(value, expected.value_type)
