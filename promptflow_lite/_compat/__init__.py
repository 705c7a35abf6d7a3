"""``import promptflow...`` without promptflow: an import alias for flow code (FLOW_FORMAT §9.2).

``promptflow``, ``promptflow.core``, ``promptflow.connections``... are served by alias modules
whose attributes resolve lazily to promptflow_lite objects (table ``NAMESPACES``). While
promptflow_lite loads flow code, ``promptflow_alias()`` puts the alias first, so flows get our
``@tool`` and connection classes even when the real promptflow is installed; afterwards the
real package (if any) is restored for everyone else. When promptflow is not installed the
alias stays as a fallback, so imports made inside tools at run time work too.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import threading
from contextlib import contextmanager
from typing import Any, Iterator

_C = "promptflow_lite._compat.contracts"
_CONN = "promptflow_lite.connections"
_DEC = "promptflow_lite.tools"
_MET = "promptflow_lite.tools"
_TRACE = "promptflow_lite.tracing"
_BUILTIN = "promptflow_lite.tools._builtin"
_VISION = "promptflow_lite.tools._vision"
_MODEL_CONFIG = "promptflow_lite.connections"
_PROMPTY = "promptflow_lite.engine"

_CONNECTIONS = {name: f"{_CONN}:{name}" for name in (
    "Connection", "OpenAIConnection", "AzureOpenAIConnection", "CustomConnection", "CustomStrongTypeConnection",
    "ServerlessConnection", "SerpConnection", "CognitiveSearchConnection", "AzureContentSafetyConnection",
    "FormRecognizerConnection", "AzureAIServicesConnection", "QdrantConnection", "WeaviateConnection")}
_EXCEPTIONS = {name: f"{_C}:{name}" for name in (
    "PromptflowException", "UserErrorException", "SystemErrorException", "ValidationException", "ErrorTarget")}
_TOOL = {"tool": f"{_DEC}:tool", "ToolProvider": f"{_DEC}:ToolProvider"}
_METRIC = {"log_metric": f"{_MET}:log_metric", "log_flow_metric": f"{_MET}:log_flow_metric"}
_UI = {name: f"{_C}:{name}" for name in ("InputSetting", "DynamicList", "FlowContext", "ToolType")}
_FLOWS = {
    "load_flow": "promptflow_lite.engine:load_callable",
    "Flow": "promptflow_lite.engine:Flow",
    "AsyncFlow": "promptflow_lite.engine:AsyncFlow",
    "Prompty": f"{_PROMPTY}:Prompty",
    "AsyncPrompty": f"{_PROMPTY}:AsyncPrompty",
    "ModelConfiguration": f"{_MODEL_CONFIG}:ModelConfiguration",
    "OpenAIModelConfiguration": f"{_MODEL_CONFIG}:OpenAIModelConfiguration",
    "AzureOpenAIModelConfiguration": f"{_MODEL_CONFIG}:AzureOpenAIModelConfiguration",
}
_CLIENT = {"PFClient": "promptflow_lite.runs:Client", "load_flow": _FLOWS["load_flow"],
           "load_run": "promptflow_lite.runs:load_run"}
_ENTITIES = {**_CONNECTIONS, **_UI, "Run": "promptflow_lite.runs._spec:RunRequest"}
_CORE_FLOW = {name: _FLOWS[name] for name in ("Flow", "AsyncFlow", "Prompty", "AsyncPrompty")}
_OPERATION_CONTEXT = {"OperationContext": "promptflow_lite._compat.operation_context:OperationContext"}

NAMESPACES: dict[str, dict[str, str]] = {
    "promptflow": {**_TOOL, **_METRIC, **_CLIENT, "trace": f"{_TRACE}:trace", "start_trace": f"{_TRACE}:start_trace"},
    "promptflow.core": {**_TOOL, **_METRIC, **_FLOWS},
    "promptflow._core": {**_TOOL},
    "promptflow._core.tool": {**_TOOL, **_UI, "GeneratedBy": f"{_C}:GeneratedBy"},
    "promptflow._core.metric_logger": {**_METRIC},
    "promptflow.connections": dict(_CONNECTIONS),
    "promptflow.entities": dict(_ENTITIES),
    "promptflow.client": dict(_CLIENT),
    "promptflow._sdk": {},
    "promptflow._sdk.entities": dict(_ENTITIES),
    "promptflow._sdk.entities._connection": dict(_CONNECTIONS),
    "promptflow._sdk._pf_client": {"PFClient": _CLIENT["PFClient"]},
    "promptflow._sdk._errors": {
        **{name: f"promptflow_lite.runs._errors:{name}" for name in (
            "InvalidRunStatusError", "RunNotFoundError", "RunExistsError")},
        "ConnectionNotFoundError": "promptflow_lite.errors:ConnectionNotFound"},
    "promptflow._sdk._load_functions": {"load_flow": _FLOWS["load_flow"], "load_run": _CLIENT["load_run"]},
    "promptflow.core._flow": dict(_CORE_FLOW),
    "promptflow.core._model_configuration": {name: _FLOWS[name] for name in (
        "ModelConfiguration", "OpenAIModelConfiguration", "AzureOpenAIModelConfiguration")},
    "promptflow._internal": {**_TOOL, "is_tool": "promptflow_lite.tools._decorator:is_tool",
                             "get_logger": f"{_C}:get_logger", **_OPERATION_CONTEXT},
    "promptflow._constants": {"ConnectionType": f"{_C}:ConnectionType"},
    "promptflow._core.operation_context": dict(_OPERATION_CONTEXT),
    "promptflow.contracts": {},
    "promptflow.contracts.multimedia": {"Image": "promptflow_lite.tools:Image",
                                        "PFBytes": "promptflow_lite.tools._multimedia:PFBytes",
                                        "Text": "promptflow_lite.tools._multimedia:Text"},
    "promptflow.contracts.types": {name: f"{_C}:{name}" for name in (
        "PromptTemplate", "FilePath", "AssistantDefinition")} | {"Secret": f"{_CONN}:Secret"},
    "promptflow.contracts.tool": {"ToolType": f"{_C}:ToolType", "InputSetting": f"{_C}:InputSetting",
                                  "ValueType": "promptflow_lite.flow._model:ValueType"},
    "promptflow.tracing": {"trace": f"{_TRACE}:trace", "start_trace": f"{_TRACE}:start_trace",
                           "ThreadPoolExecutorWithContext": f"{_C}:ThreadPoolExecutorWithContext"},
    "promptflow.tracing._operation_context": dict(_OPERATION_CONTEXT),
    "promptflow.exceptions": dict(_EXCEPTIONS),
    "promptflow._utils": {},
    "promptflow._utils.logger_utils": {"get_logger": f"{_C}:get_logger", **{name: f"{_C}:{name}" for name in (
        "logger", "flow_logger", "bulk_logger")}},
    "promptflow.tools": {},
    "promptflow.tools.common": {"parse_chat": f"{_BUILTIN}:parse_chat",
                                "render_jinja_template": f"{_BUILTIN}:render_jinja_template"},
    "promptflow.tools.openai": {"chat": f"{_BUILTIN}:openai_chat", "completion": f"{_BUILTIN}:openai_completion",
                               "OpenAI": f"{_BUILTIN}:OpenAI"},
    "promptflow.tools.aoai": {"chat": f"{_BUILTIN}:aoai_chat", "completion": f"{_BUILTIN}:aoai_completion",
                             "AzureOpenAI": f"{_BUILTIN}:AzureOpenAI"},
    "promptflow.tools.llm": {"llm": f"{_BUILTIN}:llm"},
    "promptflow.tools.openai_gpt4v": {"OpenAI": f"{_VISION}:OpenAI"},
    "promptflow.tools.aoai_gpt4v": {"AzureOpenAI": f"{_VISION}:AzureOpenAI"},
    "promptflow.tools.llm_vision": {"llm_vision": f"{_VISION}:llm_vision"},
    "promptflow.tools.embedding": {"embedding": f"{_BUILTIN}:embedding"},
    "promptflow.tools.exception": {
        "InvalidConnectionType": "promptflow_lite.tools._llm_client:InvalidConnectionType",
        "FunctionCallNotSupportedInStreamMode": "promptflow_lite.tools._llm_params:FunctionCallNotSupportedInStreamMode",
        "ChatAPIInvalidRole": "promptflow_lite.tools._chat:ChatAPIInvalidRole",
        "JinjaTemplateError": "promptflow_lite.tools._template:JinjaTemplateError",
        "LLMError": "promptflow_lite.errors:LLMError",
        "WrappedOpenAIError": "promptflow_lite.tools._retry:WrappedOpenAIError",
        "ExceedMaxRetryTimes": "promptflow_lite.tools._retry:ExceedMaxRetryTimes",
        **{name: f"promptflow_lite._compat.tool_errors:{name}" for name in (
            "ToolValidationError", "ChatAPIInvalidFunctions", "ChatAPIInvalidTools", "ChatAPIFunctionRoleInvalidFormat",
            "ChatAPIToolRoleInvalidFormat", "ListDeploymentsError", "ParseConnectionError",
            "AzureContentSafetyInputValueError", "AzureContentSafetySystemError", "SerpAPIUserError",
            "SerpAPISystemError", "OpenModelLLMUserError", "OpenModelLLMOnlineEndpointError",
            "OpenModelLLMKeyValidationError")},
        "ErrorTarget": f"{_C}:ErrorTarget", "UserErrorException": f"{_C}:UserErrorException",
        "SystemErrorException": f"{_C}:SystemErrorException"},
    "promptflow.tools.template_rendering": {"render_template_jinja2": f"{_BUILTIN}:render_template_jinja2"},
}


class _AliasModuleLoader(importlib.abc.Loader):
    def create_module(self, spec):  # default module object
        return None

    def exec_module(self, module) -> None:
        table = NAMESPACES[module.__name__]

        def __getattr__(name: str) -> Any:
            target = table.get(name)
            if target is None:
                raise AttributeError(
                    f"promptflow_lite's stand-in for module '{module.__name__}' has no attribute '{name}'. "
                    "If your flow needs it, please open an issue.")
            module_name, _, attr = target.partition(":")
            value = getattr(importlib.import_module(module_name), attr)
            setattr(module, name, value)
            return value

        module.__getattr__ = __getattr__
        module.__all__ = list(table)
        module.__path__ = []
        module.__promptflow_lite_alias__ = True


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname in NAMESPACES:
            return importlib.machinery.ModuleSpec(fullname, _AliasModuleLoader(), is_package=True)
        return None


_finder = _AliasFinder()
_STARTUP_FINDER = "PromptflowLiteStartup"  # the class name of the .pth file's finder (promptflow_lite._build)
_lock = threading.RLock()
_depth = 0
_saved: dict[str, Any] = {}


def _is_promptflow(name: str) -> bool:
    return name == "promptflow" or name.startswith("promptflow.")


def _promptflow_modules() -> list[str]:
    """Names of the loaded ``promptflow`` modules. ``list(sys.modules)`` copies the keys in one step, so other
    threads importing meanwhile (sub-flows loading in tools) cannot change the dict under the walk."""
    return [name for name in list(sys.modules) if _is_promptflow(name)]


_real: list[bool] = []


def real_promptflow_installed() -> bool:
    """True when a genuine ``promptflow`` package is importable in this environment."""
    if not _real:
        finders = [f for f in sys.meta_path if f is not _finder and type(f).__name__ != _STARTUP_FINDER]
        _real.append(any(getattr(f, "find_spec", None) and f.find_spec("promptflow", None) for f in finders))
    return _real[0]


def find_spec_at_startup(fullname: str, path: Any = None, target: Any = None):
    """Asked by the start-up finder of ``promptflow_lite-promptflow.pth`` (see ``promptflow_lite._build``)
    for a ``promptflow`` module no other finder provides: from now on the alias serves it."""
    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != _STARTUP_FINDER]
    install_fallback()
    return _finder.find_spec(fullname, path, target)


def install_fallback() -> None:
    """Serve ``promptflow.*`` from the alias whenever no real promptflow provides it."""
    if _finder not in sys.meta_path:
        sys.meta_path.append(_finder)


@contextmanager
def promptflow_alias() -> Iterator[None]:
    """While active, ``import promptflow...`` yields promptflow_lite's alias modules."""
    global _depth
    with _lock:
        if _depth == 0:
            install_fallback()
            sys.meta_path.remove(_finder)
            sys.meta_path.insert(0, _finder)
            _saved.clear()
            for name in _promptflow_modules():
                module = sys.modules.get(name)
                if module is not None and not getattr(module, "__promptflow_lite_alias__", False):
                    _saved[name] = sys.modules.pop(name)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                sys.meta_path.remove(_finder)
                sys.meta_path.append(_finder)
                if _saved or real_promptflow_installed():  # give the real promptflow back
                    for name in _promptflow_modules():
                        sys.modules.pop(name, None)
                    sys.modules.update(_saved)
                    _saved.clear()
