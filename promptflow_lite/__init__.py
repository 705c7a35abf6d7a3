"""promptflow_lite: run, evaluate, trace and serve promptflow flows - unchanged, fast, local.

The public API is imported lazily so that ``import promptflow_lite`` stays fast. Each package
(``flow``, ``tools``, ``connections``, ``engine``, ``tracing``, ``runs``, ``evaluate``, ``serve``,
``testing``) has a short public face in its ``__init__``; modules named ``_x`` are private.
"""

from __future__ import annotations

from promptflow_lite._lazy import lazy_exports
from promptflow_lite._version import __version__

# public name -> package that offers it
_EXPORTS: dict[str, str] = {
    "tool": ".tools",
    "ToolProvider": ".tools",
    "log_metric": ".tools",
    "load_flow": ".engine",
    "Flow": ".engine",
    "AsyncFlow": ".engine",
    "LineResult": ".engine",
    "NodeRun": ".engine",
    "Prompty": ".engine",
    "AsyncPrompty": ".engine",
    "FlowDocument": ".flow",
    "init_flow": ".flow",
    "Client": ".runs",
    "PFClient": ".runs",
    "Run": ".runs",
    "load_run": ".runs",
    "evaluate": ".evaluate",
    "mask_secrets": ".masking",
    "OpenAIModelConfiguration": ".connections",
    "AzureOpenAIModelConfiguration": ".connections",
    "Secret": ".connections",
    "Connection": ".connections",
    "OpenAIConnection": ".connections",
    "AzureOpenAIConnection": ".connections",
    "CustomConnection": ".connections",
    "CustomStrongTypeConnection": ".connections",
    "ServerlessConnection": ".connections",
    "PflError": ".errors",
    "UserError": ".errors",
}

__all__ = ["__version__", *_EXPORTS]
__getattr__ = lazy_exports(__name__, _EXPORTS)
