"""Package tools (FLOW_FORMAT §2.5): ``source: {type: package, tool: <id>}``.

Built-in ids (``promptflow.tools.llm.llm``, ``promptflow.tools.embedding.embedding``...) are
served by promptflow_lite itself; any other id is looked up among the tools that installed
packages advertise through the ``package_tools`` entry-point group, exactly like promptflow.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from dataclasses import dataclass
from typing import Any, Callable

from promptflow_lite.errors import ToolLoadError


@dataclass
class PackageTool:
    """A resolved package tool: a function, or a method of a ToolProvider-like class."""

    tool_id: str
    func: Callable[..., Any]
    provider: type | None = None

    @property
    def signature_of(self) -> Callable[..., Any]:
        return self.func


def find_package_tool(tool_id: str) -> PackageTool:
    """The tool for ``tool_id``; unknown ids raise an error listing the available ones."""
    from promptflow_lite.tools._builtin import ASYNC_TWINS, BUILTIN_TOOLS

    if tool_id in BUILTIN_TOOLS:
        func = BUILTIN_TOOLS[tool_id]
        return PackageTool(tool_id, ASYNC_TWINS.get(func, func))
    metas = _entry_point_tools()
    meta = metas.get(tool_id) or _deprecated(tool_id, metas)
    if meta is None:
        known = sorted(set(BUILTIN_TOOLS) | set(metas))
        raise ToolLoadError(f"Package tool '{tool_id}' is not found.",
                            hint="install the package that provides it (it must register a 'package_tools' entry "
                                 f"point) or fix the id. Available: {', '.join(known)}.")
    from promptflow_lite._compat import promptflow_alias

    try:
        with promptflow_alias():  # tool packages written for promptflow import it
            module = importlib.import_module(meta["module"])
    except ImportError as exc:
        raise ToolLoadError(f"Cannot import module '{meta['module']}' of package tool '{tool_id}': {exc}.") from exc
    class_name = meta.get("class_name")
    if class_name:
        cls = getattr(module, class_name)
        return PackageTool(tool_id, getattr(cls, meta["function"]), provider=cls)
    return PackageTool(tool_id, getattr(module, meta["function"]))


@functools.lru_cache(maxsize=1)
def _entry_point_tools() -> dict[str, dict[str, Any]]:
    from importlib.metadata import entry_points

    tools: dict[str, dict[str, Any]] = {}
    for entry in entry_points(group="package_tools"):
        try:
            listed = entry.load()()
        except Exception:  # a broken third-party package must not break every flow
            continue
        if isinstance(listed, dict):
            tools.update(listed)
    return tools


def _deprecated(tool_id: str, metas: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    for meta in metas.values():
        if tool_id in (meta.get("deprecated_tools") or []):
            return meta
    return None


def prompt_template_param(func: Callable[..., Any]) -> str | None:
    """The parameter annotated ``PromptTemplate`` (the template file binds to it)."""
    for name, param in inspect.signature(func).parameters.items():
        annotation = param.annotation
        text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
        if "PromptTemplate" in str(text):
            return name
    return "prompt" if "prompt" in inspect.signature(func).parameters else None


def bind_prompt_template(func: Callable[..., Any], template: str) -> Callable[..., Any]:
    """``func`` with its PromptTemplate parameter fixed to ``template`` (custom_llm nodes)."""
    param = prompt_template_param(func)
    if param is None:
        raise ToolLoadError("The package tool has no PromptTemplate parameter to bind the template file to.",
                            hint="use `type: python` for tools that take no prompt template.")
    bound = functools.partial(func, **{param: template})
    from promptflow_lite.tools._decorator import TOOL_ATTR

    info = getattr(func, TOOL_ATTR, None) or getattr(getattr(func, "__func__", None), TOOL_ATTR, None)
    if info is not None:
        setattr(bound, TOOL_ATTR, info)  # keeps streaming_option_parameter
    return bound
