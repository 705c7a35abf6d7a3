"""Connections: promptflow's connection classes, the local encrypted store, and providers.

``get_connection(name)`` is what flows use; ``ConnectionStore`` is what ``pfl connection`` manages.
Importing this package is cheap: SQLite and ``cryptography`` load only when a store is used.
"""

from __future__ import annotations

from promptflow_lite._lazy import lazy_exports

# public name -> the module that defines it (imported on first use: a flow without connections
# never loads the store, its encryption or the model configurations)
_EXPORTS: dict[str, str] = {
    "CONNECTION_CLASSES": "._types",
    "AzureAIServicesConnection": "._types",
    "AzureContentSafetyConnection": "._types",
    "AzureOpenAIConnection": "._types",
    "CognitiveSearchConnection": "._types",
    "Connection": "._types",
    "CustomConnection": "._types",
    "CustomStrongTypeConnection": "._types",
    "FormRecognizerConnection": "._types",
    "OpenAIConnection": "._types",
    "QdrantConnection": "._types",
    "Secret": "._types",
    "SerpConnection": "._types",
    "ServerlessConnection": "._types",
    "WeaviateConnection": "._types",
    "build_connection": "._types",
    "connection_class": "._types",
    "ConnectionProvider": "._provider",
    "DictConnectionProvider": "._provider",
    "apply_env_overrides": "._provider",
    "default_provider": "._provider",
    "get_connection": "._provider",
    "resolve_connection_references": "._provider",
    "ConnectionStore": "._store",
    "load_connection_file": "._files",
    "AzureOpenAIModelConfiguration": "._model_config",
    "ModelConfiguration": "._model_config",
    "OpenAIModelConfiguration": "._model_config",
}

__all__ = list(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
