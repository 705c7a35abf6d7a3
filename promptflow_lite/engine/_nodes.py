"""Turning each node of a flow into something the scheduler can call (FLOW_FORMAT §1.6).

``prepare_node`` is done once per loaded flow: tool files are imported, ToolProvider
instances created, literal inputs converted, connections resolved, templates read. What is
left per line is cheap: fill in references and call ``PreparedNode.invoke``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

from promptflow_lite.engine._dispatch import SyncDispatch
from promptflow_lite.errors import ToolLoadError, UserError
from promptflow_lite.flow._model import FlowSpec, Node
from promptflow_lite.flow._reference import InputRef, NodeRef, Reference
from promptflow_lite.tools._coercion import ConversionError, ParamType, convert_literal, param_types
from promptflow_lite.tools._decorator import tool_info
from promptflow_lite.tools._multimedia import Multimedia

SYNC, ASYNC, ASYNC_GEN, INLINE = "sync", "async", "async_gen", "inline"


class NodeInputError(UserError):
    """A node input cannot be used (wrong literal type, unknown connection, reserved name...)."""


@dataclass
class PreparedNode:
    """A node ready to run: its callable, converted literals and references."""

    name: str
    spec: Node
    func: Callable[..., Any]
    mode: str  # SYNC (thread pool), INLINE (cheap, on the loop), ASYNC, ASYNC_GEN
    literals: dict[str, Any] = field(default_factory=dict)
    refs: dict[str, Reference] = field(default_factory=dict)
    with_default: frozenset[str] = frozenset()  # params that keep their default when fed by a bypassed node
    deps: frozenset[str] = frozenset()
    stream_param: str | None = None
    escape_inputs: tuple[str, ...] = ()  # template inputs fed straight from flow inputs (role-marker escaping)
    dispatch: SyncDispatch | None = None  # for SYNC tools: thread pool or inline, learned per node

    def __post_init__(self) -> None:
        if self.mode == SYNC and self.dispatch is None:
            self.dispatch = SyncDispatch(self.func)

    def invoke(self, kwargs: dict[str, Any]) -> Awaitable[Any]:
        """Call the tool with ``kwargs``: async tools on the loop, sync ones as ``dispatch`` decides."""
        mode = self.mode
        if mode == ASYNC:
            return self.func(**kwargs)
        if mode == ASYNC_GEN or mode == INLINE:
            return _ready(self.func(**kwargs))
        return self.dispatch.call(kwargs)

    @property
    def aggregation(self) -> bool:
        return self.spec.aggregation

    @property
    def activate(self):
        return self.spec.activate


def prepare_node(node: Node, spec: FlowSpec, run_dir: Path, connections: Any,
                 media: Multimedia | None = None) -> PreparedNode:
    """Resolve ``node``'s tool; errors name the node and the fix. ``media`` reads the images of
    literal inputs (those of tool parameters; ``**kwargs`` inputs pass unchanged, as in promptflow)."""
    try:
        if node.type == "python":
            func, mode, literals = _python_tool(node, run_dir, connections)
        elif node.type == "prompt":
            func, mode, literals = _prompt_tool(node, run_dir)
        elif node.type == "llm":
            func, mode, literals = _llm_tool(node, run_dir, connections)
        elif node.type == "custom_llm":
            func, mode, literals = _custom_llm_tool(node, run_dir, connections)
        else:
            raise ToolLoadError(f"Unknown node type '{node.type}'.", hint="use python, llm, prompt or custom_llm.")
        if node.type in ("python", "custom_llm"):
            literals = _literal_images(literals, func, media or Multimedia())
    except UserError as exc:
        exc.locate(node=node.name)
        raise
    refs = node.input_refs()
    with_default = _params_with_default(func)
    escape = ()
    if node.type in ("llm", "prompt", "custom_llm"):
        escape = tuple(k for k, r in refs.items() if isinstance(r, InputRef))
    return PreparedNode(
        name=node.name, spec=node, func=func, mode=mode, literals=literals, refs=refs,
        with_default=frozenset(with_default), deps=frozenset(node.node_dependencies()),
        stream_param=_stream_param(node, func), escape_inputs=escape,
    )


async def _ready(value: Any) -> Any:
    return value


def _mode(func: Callable[..., Any]) -> str:
    target = inspect.unwrap(func)
    if inspect.isasyncgenfunction(target):
        return ASYNC_GEN
    if inspect.iscoroutinefunction(target) or inspect.iscoroutinefunction(getattr(target, "__call__", None)):
        return ASYNC
    return SYNC


def _params_with_default(func: Callable[..., Any]) -> set[str]:
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return set()
    return {p.name for p in params if p.default is not inspect.Parameter.empty}


def _stream_param(node: Node, func: Callable[..., Any]) -> str | None:
    if node.type == "llm":
        return "stream"
    info = tool_info(func) or tool_info(getattr(func, "__func__", None))
    return info.streaming_option_parameter if info else None


# ---------------------------------------------------------------------------------------------
# literal inputs


def convert_literals(node: Node, inputs: dict[str, Any], types: dict[str, ParamType], connections: Any) -> dict[str, Any]:
    """Literal node inputs converted for their parameters (§1.6); references are left out."""
    from promptflow_lite.flow._reference import parse_reference

    converted = {}
    for key, value in inputs.items():
        if parse_reference(value) is not None:
            continue
        if value is None or value == "":
            continue  # dropped, so the tool's default applies
        expected = types.get(key)
        if expected is not None and expected.is_connection:
            converted[key] = resolve_connection(node, key, value, expected, connections)
            continue
        try:
            converted[key] = convert_literal(value, expected)
        except ConversionError:
            raise NodeInputError(f"Input '{key}' of value {value!r} is not of type {expected.value_type}.",
                                 node=node.name, hint=f"give '{key}' a valid {expected.value_type}.") from None
    return converted


def _literal_images(literals: dict[str, Any], func: Callable[..., Any], media: Multimedia) -> dict[str, Any]:
    """Image parameters read as images; image dicts inside other declared parameters too (§2.8)."""
    types = param_types(func)
    for key, value in literals.items():
        expected = types.get(key)
        if expected is None or expected.is_connection:
            continue
        try:
            literals[key] = media.create_image(value) if expected.value_type == "image" else media.load(value)
        except (OSError, ValueError) as exc:
            raise NodeInputError(f"Failed to load image for input '{key}': ({type(exc).__name__}) {exc}",
                                 hint="image paths are relative to the flow folder.") from None
    return literals


def resolve_connection(node: Node, key: str, name: Any, expected: ParamType | None, connections: Any):
    """The connection object named by a literal input, checked against the declared classes."""
    from promptflow_lite.connections._provider import get_connection
    from promptflow_lite.connections._types import CustomConnection, CustomStrongTypeConnection

    allowed = expected.connection_classes if expected is not None else ()
    conn = get_connection(str(name), connections, kind=connection_kind(node, allowed))
    if not allowed:
        return conn
    if isinstance(conn, allowed):
        return conn
    strong = [c for c in allowed if issubclass(c, CustomStrongTypeConnection)]
    if strong and isinstance(conn, CustomConnection):
        return conn._convert_to_custom_strong_type(strong[0])
    names = ", ".join(c.__name__ for c in allowed)
    raise NodeInputError(f"Input '{key}' names connection '{name}' of type {type(conn).__name__}, "
                         f"but the tool expects {names}.", node=node.name,
                         hint=f"use a connection of type {names}.")


def connection_kind(node: Node, allowed: tuple[type, ...] = ()) -> type | None:
    """The connection class a node's shape asks for, among ``allowed`` (a tool's annotation) if given:
    ``provider: AzureOpenAI`` or a ``deployment_name`` input → Azure OpenAI, ``provider: OpenAI`` or a
    ``model`` input → OpenAI. Offline mode stands in for a missing connection with one of this class."""
    from promptflow_lite.connections._types import (
        AzureOpenAIConnection, Connection, OpenAIConnection, ServerlessConnection)

    by_provider = {"azureopenai": AzureOpenAIConnection, "openai": OpenAIConnection,
                   "serverless": ServerlessConnection}
    shaped = by_provider.get(str(node.provider or "").replace("_", "").lower())
    if shaped is None and node.inputs.get("deployment_name"):
        shaped = AzureOpenAIConnection
    elif shaped is None and node.inputs.get("model"):
        shaped = OpenAIConnection
    concrete = [c for c in allowed if c is not Connection]
    if not concrete or (shaped is not None and issubclass(shaped, tuple(concrete))):
        return shaped
    return concrete[0]


# ---------------------------------------------------------------------------------------------
# node kinds


def _source_file(node: Node, run_dir: Path) -> Path:
    path = node.source.path if node.source else None
    if not path:
        raise ToolLoadError("The node's source has no path.", hint="add `source: {type: code, path: <file>}`.")
    file = run_dir / path
    if not file.is_file():
        raise ToolLoadError(f"Source file '{path}' does not exist.", file=str(file),
                            hint="create the file or fix source.path.")
    return file


def _python_tool(node: Node, run_dir: Path, connections: Any):
    if node.source is not None and node.source.type == "package":
        return _package_tool(node, connections)
    from promptflow_lite.tools._python_tool import find_tool, load_module

    file = _source_file(node, run_dir)
    func, provider = find_tool(load_module(file, run_dir), file)
    if provider is None:
        return func, _mode(func), convert_literals(node, node.inputs, param_types(func), connections)
    return _provider_tool(node, func, provider, connections)


def _provider_tool(node: Node, method: Callable, provider: type, connections: Any, extra_init: dict | None = None):
    """Instantiate a ToolProvider (init args are the node's literal inputs named like ``__init__``'s)."""
    init_params = {name: p for name, p in inspect.signature(provider.__init__).parameters.items()
                   if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    init_inputs = {k: v for k, v in node.inputs.items() if k in init_params}
    from promptflow_lite.flow._reference import parse_reference

    refs = [k for k, v in init_inputs.items() if parse_reference(v) is not None]
    if refs:
        raise NodeInputError(f"Init input(s) {', '.join(refs)} of {provider.__name__} must be literals, not references.",
                             hint="set them to fixed values in the flow.")
    init_args = convert_literals(node, init_inputs, param_types(provider.__init__), connections)
    init_args.update(extra_init or {})
    missing = [n for n, p in init_params.items() if p.default is inspect.Parameter.empty and n not in init_args]
    if missing:
        raise NodeInputError(f"Missing required init input(s) of {provider.__name__}: {', '.join(missing)}.",
                             hint="add them as node inputs.")
    try:
        instance = provider(**init_args)
    except Exception as exc:
        raise ToolLoadError(f"Creating {provider.__name__} failed: ({type(exc).__name__}) {exc}") from exc
    func = getattr(instance, method.__name__)
    call_inputs = {k: v for k, v in node.inputs.items() if k not in init_params}
    return func, _mode(func), convert_literals(node, call_inputs, param_types(func), connections)


def _package_tool(node: Node, connections: Any):
    from promptflow_lite.tools._package import find_package_tool

    tool_id = node.source.tool if node.source else None
    found = find_package_tool(tool_id or "")
    if found.provider is not None:
        return _provider_tool(node, found.func, found.provider, connections)
    func = found.func
    return func, _mode(func), convert_literals(node, node.inputs, param_types(found.signature_of), connections)


def _prompt_tool(node: Node, run_dir: Path):
    from promptflow_lite.tools._template import clashing_variables, make_prompt_renderer

    file = _source_file(node, run_dir)
    if "template" in node.inputs:
        raise NodeInputError("A prompt node input cannot be named 'template' (it is reserved).",
                             hint="rename the input and the variable in the template.")
    template = file.read_text(encoding="utf-8")
    clashing_variables(template, ["template"], node.name, "the reserved parameters of prompt tool")
    literals = {k: v for k, v in node.inputs.items() if not _is_ref(v) and v is not None}
    return make_prompt_renderer(template), INLINE, literals


def _llm_tool(node: Node, run_dir: Path, connections: Any):
    from promptflow_lite.tools._sdk import load_sdk, sdk_with_flow
    from promptflow_lite.tools._llm_node import make_llm_caller

    if sdk_with_flow.get():
        load_sdk()  # the SDK loads with the flow, not inside its first lines (~0.5 s they would all wait)

    file = _source_file(node, run_dir)
    if file.suffix == ".prompty":
        from promptflow_lite.engine._prompty_node import prompty_llm_caller

        func, types = prompty_llm_caller(file, connections, connection=node.connection, api=node.api, node=node.name,
                                         kind=connection_kind(node))
        return func, ASYNC, convert_literals(node, node.inputs, types, connections)
    from promptflow_lite.connections._provider import get_connection

    conn = get_connection(node.connection, connections, kind=connection_kind(node))
    func, types = make_llm_caller(conn, node.api or "chat", file.read_text(encoding="utf-8"), node=node.name)
    return func, ASYNC, convert_literals(node, node.inputs, types, connections)


def _custom_llm_tool(node: Node, run_dir: Path, connections: Any):
    from promptflow_lite.tools._package import bind_prompt_template
    from promptflow_lite.tools._template import clashing_variables

    func, mode, literals = _package_tool(node, connections)
    template = _source_file(node, run_dir).read_text(encoding="utf-8")
    tool_inputs = [name for name, p in inspect.signature(func).parameters.items()
                   if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    clashing_variables(template, tool_inputs, node.name, "the inputs of custom llm tool")
    func = bind_prompt_template(func, template)
    return func, mode, literals


def _is_ref(value: Any) -> bool:
    from promptflow_lite.flow._reference import is_reference

    return is_reference(value)


__all__ = ["PreparedNode", "prepare_node", "NodeInputError", "SYNC", "ASYNC", "ASYNC_GEN", "INLINE",
           "NodeRef", "InputRef"]
