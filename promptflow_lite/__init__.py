"""promptflow_lite: run, evaluate, trace and serve promptflow flows - unchanged, fast, local.

The public API is imported lazily so that ``import promptflow_lite`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from promptflow_lite._version import __version__

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "tool": "promptflow_lite.tools.decorator",
    "ToolProvider": "promptflow_lite.tools.decorator",
    "log_metric": "promptflow_lite.tools.metrics",
    "load_flow": "promptflow_lite.engine.flow",
    "Flow": "promptflow_lite.engine.flow",
    "LineResult": "promptflow_lite.engine.results",
    "NodeRun": "promptflow_lite.engine.results",
    "Client": "promptflow_lite.runs.client",
    "PFClient": "promptflow_lite.runs.client",
    "Run": "promptflow_lite.runs.client",
    "load_run": "promptflow_lite.runs.client",
    "evaluate": "promptflow_lite.evaluate",
    "Prompty": "promptflow_lite.flow.prompty",
    "FlowDocument": "promptflow_lite.flow.document",
    "init_flow": "promptflow_lite.flow.templates",
    "AsyncPrompty": "promptflow_lite.flow.prompty",
    "OpenAIModelConfiguration": "promptflow_lite.connections.model_config",
    "AzureOpenAIModelConfiguration": "promptflow_lite.connections.model_config",
    "mask_secrets": "promptflow_lite.masking",
    "PflError": "promptflow_lite.errors",
    "UserError": "promptflow_lite.errors",
    "Secret": "promptflow_lite.connections.types",
    "Connection": "promptflow_lite.connections.types",
    "OpenAIConnection": "promptflow_lite.connections.types",
    "AzureOpenAIConnection": "promptflow_lite.connections.types",
    "CustomConnection": "promptflow_lite.connections.types",
    "CustomStrongTypeConnection": "promptflow_lite.connections.types",
    "ServerlessConnection": "promptflow_lite.connections.types",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'promptflow_lite' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
