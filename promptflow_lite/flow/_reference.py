"""``${...}`` references, exactly as promptflow parses them (FLOW_FORMAT §1.5).

A value is a reference only when the *whole* value is a string that starts with ``${`` and
ends with ``}``; anything else is a literal (no interpolation). ``${inputs.x}`` / ``${flow.x}``
name a flow input; ``${node}``, ``${node.output}`` and ``${node.output.a[0]['k']}`` name a
node's output and an optional property path into it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Union

_TOKEN = re.compile(r"(\w+)|(\['.*?'\])|(\[\".*?\"\])|(\[\d+\])")


@dataclass(frozen=True)
class InputRef:
    """A flow input: ``${inputs.name}``."""

    name: str

    def __str__(self) -> str:
        return f"${{inputs.{self.name}}}"


@dataclass(frozen=True)
class NodeRef:
    """A node output, with an optional property path (``a.b``, ``[0]``, ``['k']``)."""

    node: str
    section: str = "output"
    prop: str = ""

    def __str__(self) -> str:
        tail = f".{self.prop}" if self.prop else ""
        return f"${{{self.node}.{self.section}{tail}}}"


Reference = Union[InputRef, NodeRef]


def is_reference(value: Any) -> bool:
    return isinstance(value, str) and len(value) > 2 and value[0] == "$" and value[1] == "{" and value[-1] == "}"


def parse_reference(value: Any) -> Reference | None:
    """The reference a value denotes, or None when the value is a literal."""
    if not is_reference(value):
        return None
    inner = value[2:-1]
    for prefix in ("inputs.", "flow."):
        if inner.startswith(prefix):
            return InputRef(inner[len(prefix):])
    node, _, rest = inner.partition(".")
    section, _, prop = rest.partition(".")
    return NodeRef(node, section or "output", prop)


class PropertyError(LookupError):
    """A property path does not exist in a node's output."""


def property_tokens(prop: str) -> list[str | int]:
    """``"a.b[0]['k']"`` → ``["a", "b", 0, "k"]``; ints index lists, strings key dicts/attributes."""
    tokens: list[str | int] = []
    for word, single, double, index in _TOKEN.findall(prop):
        if word:
            tokens.append(word)
        elif single or double:
            tokens.append((single or double)[2:-2])
        else:
            tokens.append(int(index[1:-1]))
    return tokens


def resolve_property(value: Any, prop: str) -> Any:
    """Follow ``prop`` into ``value``: dict key if a dict, else attribute; ``[N]`` indexes."""
    if not prop:
        return value
    for token in property_tokens(prop):
        try:
            if isinstance(token, int):
                value = value[token]
            elif isinstance(value, dict):
                value = value[token]
            else:
                value = getattr(value, token)
        except (KeyError, IndexError, AttributeError, TypeError) as exc:
            raise PropertyError(token) from exc
    return value
