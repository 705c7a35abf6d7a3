"""Connections: promptflow's connection classes, the local encrypted store, and providers.

``get_connection(name)`` is what flows use; ``ConnectionStore`` is what ``pfl connection`` manages.
Importing this package is cheap: SQLite and ``cryptography`` load only when a store is used.
"""

from __future__ import annotations

from promptflow_lite.connections._types import (
    CONNECTION_CLASSES,
    AzureAIServicesConnection,
    AzureContentSafetyConnection,
    AzureOpenAIConnection,
    CognitiveSearchConnection,
    Connection,
    CustomConnection,
    CustomStrongTypeConnection,
    FormRecognizerConnection,
    OpenAIConnection,
    QdrantConnection,
    Secret,
    SerpConnection,
    ServerlessConnection,
    WeaviateConnection,
    build_connection,
    connection_class,
)
from promptflow_lite.connections._provider import (
    ConnectionProvider,
    DictConnectionProvider,
    apply_env_overrides,
    default_provider,
    get_connection,
    resolve_connection_references,
)
from promptflow_lite.connections._store import ConnectionStore
from promptflow_lite.connections._files import load_connection_file
from promptflow_lite.connections._model_config import (
    AzureOpenAIModelConfiguration,
    ModelConfiguration,
    OpenAIModelConfiguration,
)

__all__ = [
    "CONNECTION_CLASSES", "AzureAIServicesConnection", "AzureContentSafetyConnection", "AzureOpenAIConnection",
    "CognitiveSearchConnection", "Connection", "CustomConnection", "CustomStrongTypeConnection",
    "FormRecognizerConnection", "OpenAIConnection", "QdrantConnection", "Secret", "SerpConnection",
    "ServerlessConnection", "WeaviateConnection", "build_connection", "connection_class",
    "ConnectionProvider", "DictConnectionProvider", "apply_env_overrides", "default_provider", "get_connection",
    "resolve_connection_references", "ConnectionStore", "load_connection_file",
    "ModelConfiguration", "OpenAIModelConfiguration", "AzureOpenAIModelConfiguration",
]
