"""``@tool`` and ``ToolProvider``: how flow code marks the function a python node runs.

``@tool`` only records metadata on the function (it does not wrap it), so calling a tool
costs nothing extra; the executor traces nodes itself. Usable bare (``@tool``) or with
promptflow's keyword arguments (``name``, ``description``, ``type``, ``input_settings``,
``streaming_option_parameter`` and any extra info).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

TOOL_ATTR = "__pfl_tool__"


@dataclass
class ToolInfo:
    """Metadata ``@tool`` attaches to a function."""

    name: str | None = None
    description: str | None = None
    type: str = "python"
    input_settings: dict[str, Any] = field(default_factory=dict)
    streaming_option_parameter: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def tool(
    func: F | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    type: str | None = None,  # noqa: A002 - promptflow's keyword
    input_settings: dict[str, Any] | None = None,
    streaming_option_parameter: str | None = None,
    **kwargs: Any,
) -> Any:
    """Mark ``func`` as a tool; works as ``@tool`` and ``@tool(name=..., ...)``."""

    def mark(f: F) -> F:
        info = ToolInfo(name or f.__name__, description or (f.__doc__ or "").strip() or None, type or "python",
                        dict(input_settings or {}), streaming_option_parameter, kwargs)
        setattr(f, TOOL_ATTR, info)
        f.__original_function = f  # type: ignore[attr-defined] - promptflow exposes it
        return f

    return mark(func) if func is not None else mark


def is_tool(obj: Any) -> bool:
    return callable(obj) and hasattr(obj, TOOL_ATTR)


def tool_info(obj: Any) -> ToolInfo | None:
    return getattr(obj, TOOL_ATTR, None)


class ToolProvider:
    """Base class for a tool with setup: ``__init__`` parameters are shared node inputs.

    The executor creates one instance per node (init arguments are the node's literal inputs
    whose names match ``__init__`` parameters) and calls its single ``@tool`` method per line.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._init_args = args
        self._init_kwargs = kwargs

    @classmethod
    def get_initialize_inputs(cls) -> dict[str, Any]:
        import inspect

        params = list(inspect.signature(cls.__init__).parameters.values())[1:]
        return {p.name: p for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
