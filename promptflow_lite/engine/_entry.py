"""A flex flow's entry (FLOW_FORMAT §8.1): the Python callable its YAML names, its inputs and init.

``import_entry`` finds ``module:name`` (a file under the working dir, else an installed module); ``create_entry``
instantiates a class entry once, resolving connection and model-configuration init arguments
by name; ``entry_inputs`` derives the inputs from the signature and the YAML.
"""

from __future__ import annotations

import importlib
import inspect
import typing
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any, Callable

from promptflow_lite.errors import FlowLoadError, UserError
from promptflow_lite.flow._flex import VALUE_TYPES, EntryInput
from promptflow_lite.flow._value_type import ValueType


class FlowEntryInitializationError(UserError):
    """Creating the flow's class entry failed (``__init__`` raised or got wrong arguments)."""


class InvalidAggregationFunction(FlowLoadError):
    """``__aggregate__`` does not take exactly one parameter."""


# ---------------------------------------------------------------------------------------------
# importing and creating the entry


def import_entry(entry: str, working_dir: Path, where: str | None = None) -> Any:
    """The object ``module:name`` names: ``module`` is ``a/b.py`` under ``working_dir`` if it exists,
    else an importable module (promptflow imports are served by the compatibility layer)."""
    from promptflow_lite._compat import promptflow_alias
    from promptflow_lite.tools._flow_modules import own_modules
    from promptflow_lite.tools._python_tool import load_module

    module_name, _, attr = entry.partition(":")
    file = working_dir / (module_name.replace(".", "/") + ".py")
    if file.is_file():
        module = load_module(file, working_dir)
    else:
        try:
            with own_modules(working_dir), promptflow_alias():
                module = importlib.import_module(module_name)
        except Exception as exc:
            raise FlowLoadError(f"Failed to load python module for entry '{entry}': ({type(exc).__name__}) {exc}",
                                file=where, hint=f"put the code in {file.name} next to the flow file, or install "
                                                 f"the module '{module_name}'.") from exc
    target = getattr(module, attr, None)
    if target is None:
        names = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        raise FlowLoadError(f"Failed to load python function '{attr}' from '{module_name}': it is not defined.",
                            file=where, hint=f"define {attr} or fix `entry:` (callables found: "
                                             f"{', '.join(names) or 'none'}).")
    if inspect.isclass(target):
        if "__call__" not in {n for klass in target.__mro__[:-1] for n in vars(klass)}:
            raise FlowLoadError(f"Python class entry '{attr}' does not have __call__ method.", file=where,
                                hint=f"define `def __call__(self, ...)` in {attr}.")
    elif not callable(target):
        raise FlowLoadError(f"The entry '{entry}' is a {type(target).__name__}, not a function or class.",
                            file=where, hint="point `entry:` at a function or a class with __call__.")
    return target


def create_entry(target: Any, init: dict[str, Any], declared_init: dict[str, dict[str, Any]],
                 connections: Any, where: str | None = None) -> tuple[Callable[..., Any], Any]:
    """``(callable, instance)``: a function as is, or a class instantiated once with ``init``."""
    if not inspect.isclass(target):
        return target, None
    kwargs = {name: spec["default"] for name, spec in declared_init.items() if spec.get("default", "") != ""}
    kwargs.update(init)
    try:
        kwargs = resolve_init_kwargs(target, kwargs, connections, declared_init)
        instance = target(**kwargs)
    except Exception as exc:
        names = ", ".join(sorted(kwargs)) or "none"
        raise FlowEntryInitializationError(
            f"Failed to initialize flow entry {target.__name__} (init arguments given: {names}): "
            f"({type(exc).__name__}) {exc}", file=where,
            hint="pass init arguments with --init key=value (or --init init.json), `init:` in run.yml, or "
                 "`sample: {init: ...}` in the flow file.") from exc
    check_aggregate(getattr(instance, "__aggregate__", None), where)
    return instance.__call__, instance


def check_aggregate(aggregate: Callable[..., Any] | None, where: str | None = None) -> None:
    """``InvalidAggregationFunction`` unless ``aggregate`` (the bound ``__aggregate__``, if any) takes one argument."""
    if aggregate is not None and len(inspect.signature(aggregate).parameters) != 1:
        raise InvalidAggregationFunction("The __aggregate__ method should have only one parameter.", file=where,
                                         hint="define `def __aggregate__(self, line_results): ...`.")


def resolve_init_kwargs(cls: type, init: dict[str, Any], connections: Any,
                        declared: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Connection-typed init arguments given by name become connections; model configurations given
    as mappings (maybe naming a connection) become model configuration objects; strings (``--init
    k=v``) for parameters typed int, float, bool, list or dict are converted (promptflow passes
    them on as strings)."""
    from promptflow_lite.connections._model_config import resolve_model_config
    from promptflow_lite.connections._provider import get_connection
    from promptflow_lite.connections._types import Connection
    from promptflow_lite.tools._coercion import parse_value

    resolved = dict(init)
    for name, value, kind, detail in classify_init(cls, init, declared):
        if kind == MODEL_CONFIG:
            resolved[name] = resolve_model_config(value, detail, connections, param=name)
        elif kind == CONNECTION and not isinstance(value, Connection):
            resolved[name] = get_connection(str(value), connections, kind=detail)
        elif kind == CONVERTED:
            resolved[name] = parse_value(value, detail)
    return resolved


MODEL_CONFIG, CONNECTION, CONVERTED = "model_config", "connection", "converted"
_CONVERTED_INIT_TYPES = ("int", "double", "bool", "list", "object")


def classify_init(cls: type, init: dict[str, Any], declared: dict[str, dict[str, Any]] | None = None):
    """``(name, value, kind, detail)`` for each init argument given (not None) that needs resolving:
    ``MODEL_CONFIG`` (detail: the model configuration class), ``CONNECTION`` (the annotated
    connection class, if known) or ``CONVERTED`` (a string for a typed parameter; the value type)."""
    from promptflow_lite.connections._model_config import model_config_class
    from promptflow_lite.tools._coercion import param_types

    hints = _hints(cls.__init__)
    types = param_types(cls.__init__)
    for name, param in inspect.signature(cls.__init__).parameters.items():
        value = init.get(name)
        if value is None:
            continue
        annotation = hints.get(name, param.annotation)
        config_cls = model_config_class(annotation)
        if config_cls is not None:
            yield name, value, MODEL_CONFIG, config_cls
        elif _is_connection_annotation(annotation):
            yield name, value, CONNECTION, _connection_class(annotation)
        elif isinstance(value, str):
            declared_type = ((declared or {}).get(name) or {}).get("type")
            value_type = declared_type or (types[name].value_type if annotation is not param.empty else None)
            if value_type in _CONVERTED_INIT_TYPES:
                yield name, value, CONVERTED, value_type


def _hints(func: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(func)
    except Exception:  # unresolvable string annotations: use them as written
        return {}


def _is_connection_annotation(annotation: Any) -> bool:
    from promptflow_lite.connections._types import Connection

    if isinstance(annotation, type):
        return issubclass(annotation, Connection)
    name = str(annotation).rsplit(".", 1)[-1]
    return name.endswith("Connection")


def _connection_class(annotation: Any) -> type | None:
    from promptflow_lite.connections._types import connection_class

    if isinstance(annotation, type):
        return annotation
    try:
        return connection_class(str(annotation).rsplit(".", 1)[-1])
    except ValueError:
        return None


def entry_name(func: Callable[..., Any]) -> str:
    """The name promptflow's errors use: ``ChatFlow.__call__`` for a class entry, else the function's."""
    return getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or "entry"


# ---------------------------------------------------------------------------------------------
# inputs and outputs


def entry_inputs(func: Callable[..., Any], declared: dict[str, dict[str, Any]]) -> dict[str, EntryInput]:
    """One ``EntryInput`` per named parameter of ``func`` (YAML declarations add types and defaults).
    ``**kwargs`` adds none: as in promptflow, a line's other keys are dropped even then."""
    from promptflow_lite.tools._coercion import param_types

    signature = inspect.signature(func)
    types = param_types(func)
    inputs: dict[str, EntryInput] = {}
    for name, param in signature.parameters.items():
        if param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL) or name == "self":
            continue
        has_default = param.default is not inspect.Parameter.empty
        value_type = types[name].value_type if name in types else "object"
        annotated = param.annotation is not inspect.Parameter.empty
        inputs[name] = EntryInput(type=_value_type(value_type), default=param.default if has_default else None,
                                  required=not has_default,
                                  convert=annotated or not (has_default and param.default is None))
    for name, spec in declared.items():
        current = inputs.get(name)
        value_type = _value_type(spec.get("type") or (current.type.value if current else "object"))
        if spec.get("default") == "" and current is not None:  # promptflow: "" means the code's default
            default, required = current.default, current.required
        else:  # declared without a default: required, whatever the code says (as in promptflow)
            default, required = spec.get("default"), "default" not in spec
        inputs[name] = EntryInput(type=value_type, default=default, required=required,
                                  description=spec.get("description"), convert=True,
                                  is_chat_input=bool(spec.get("is_chat_input")),
                                  is_chat_history=spec.get("is_chat_history"))
    return inputs


def check_interface(func: Callable[..., Any], name: str, where: str | None, *, init: bool = False) -> None:
    """promptflow's check of an entry's signature (``init``: of a class's ``__init__``): an input must be
    a primitive (str, int, float, bool, list, dict, an Enum), a connection, a promptflow type (Image,
    PromptTemplate...), unannotated or - for init - a model configuration; ``Any``, ``object``,
    ``List[str]``, ``Dict[str, Any]`` and other classes are rejected, as promptflow rejects them."""
    hints = _hints(func)
    for param_name, param in inspect.signature(func).parameters.items():
        if param_name == "self" or param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            continue
        annotation = hints.get(param_name, param.annotation)
        if isinstance(annotation, str):  # an annotation we cannot resolve: not ours to judge
            continue
        if not all(_simple(option, init) for option in _union_options(annotation)):
            raise FlowLoadError(f"Parse interface for tool '{name}' failed: The input '{param_name}' is of a complex "
                                "python type. Please use a dict instead.", file=where,
                                hint="annotate it as str, int, float, bool, list or dict (or leave it unannotated), "
                                     "as promptflow requires.")


def check_entry_interface(target: Any, where: str | None) -> None:
    """``check_interface`` for a function entry, or a class entry's ``__call__`` and ``__init__``."""
    if inspect.isclass(target):
        name = f"{target.__name__}.__call__"
        check_interface(target.__call__, name, where)
        check_interface(target.__init__, name, where, init=True)
    else:
        check_interface(target, entry_name(target), where)


def _union_options(annotation: Any) -> list[Any]:
    """``Optional[X]`` → ``[X]``; ``Union[X, Y]`` → ``[X, Y]``; anything else → ``[annotation]``."""
    import types as _types

    if typing.get_origin(annotation) in (typing.Union, getattr(_types, "UnionType", None)):
        return [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    return [annotation]


def _simple(annotation: Any, init: bool) -> bool:
    from enum import Enum

    from promptflow_lite._compat.contracts import AssistantDefinition, FilePath, PromptTemplate
    from promptflow_lite.connections._model_config import model_config_class
    from promptflow_lite.connections._types import Connection
    from promptflow_lite.tools._multimedia import PFBytes

    if annotation is inspect.Parameter.empty or annotation in (str, int, float, bool, list, dict):
        return True
    if isinstance(annotation, type) and issubclass(annotation, (Enum, Connection, PFBytes, PromptTemplate, FilePath,
                                                                AssistantDefinition)):
        return True
    return init and model_config_class(annotation) is not None


def _value_type(name: str) -> ValueType:
    return ValueType(name) if name in VALUE_TYPES else ValueType.OBJECT


def output_names(func: Callable[..., Any], declared: dict[str, Any]) -> list[str]:
    """Declared ``outputs``, else the fields of a dataclass / TypedDict return annotation, else
    ``["output"]`` for another annotation; [] when nothing says."""
    if declared:
        return list(declared)
    annotation = _hints(func).get("return", inspect.signature(func).return_annotation)
    if annotation is inspect.Signature.empty or annotation is None:
        return []
    if is_dataclass(annotation):
        return [f.name for f in fields(annotation)]
    if isinstance(annotation, type) and issubclass(annotation, dict) and getattr(annotation, "__annotations__", None):
        return list(annotation.__annotations__)
    origin = typing.get_origin(annotation) or annotation
    if origin in (dict, typing.Dict) or annotation in (typing.Any, object):
        return []
    return ["output"]


__all__ = ["FlowEntryInitializationError", "InvalidAggregationFunction", "import_entry", "create_entry",
           "check_aggregate", "resolve_init_kwargs", "classify_init", "MODEL_CONFIG", "CONNECTION", "CONVERTED",
           "entry_inputs", "entry_name", "output_names", "check_interface",
           "check_entry_interface"]
