"""Offline mode: every LLM connection answers from a scripted server (``pfl --scripted-llm RULES``).

Useful to try a flow, a batch run or an evaluation without keys or network (the README's
quickstart does this) and for CI smoke tests. The server starts once per process on
127.0.0.1; connections keep their names and types but point at it, connection names that do
not exist yet are answered by a connection of the class the node needs (Azure OpenAI for a node
with a ``deployment_name``...; a custom one holds ``api_key``, ``api_base`` and ``base_url``), prompties'
inline model configurations are redirected too, and so are clients a tool builds itself (the SDK's variables).
"""

from __future__ import annotations

import copy
import os
import sys
import threading
from typing import Any

from promptflow_lite.connections._provider import StandInProvider

ENV = "PFL_SCRIPTED_LLM"
# The key sent offline; traces blank it as a secret, so it must not be a word answers contain.
KEY = "sk-pfl-offline-scripted-key"
_server = None
_lock = threading.Lock()


def scripted_rules() -> str | None:
    """The rules file named by ``PFL_SCRIPTED_LLM`` (set by ``pfl --scripted-llm``), if any."""
    return os.environ.get(ENV) or None


def _shared_server(rules: str):
    global _server
    with _lock:
        if _server is None:
            from promptflow_lite.testing._server import ScriptedServer

            _server = ScriptedServer(rules=rules).start()
            _point_sdk_defaults_at(_server)
            print(f"Offline mode: LLM connections answer from the scripted server at {_server.base_url} "
                  f"(rules: {rules}).", file=sys.stderr)
    return _server


def _point_sdk_defaults_at(server: Any) -> None:
    """Clients a tool builds itself (``OpenAI(api_key=...)`` without a base URL) reach ``server`` too: the
    openai SDK reads these variables when the code does not say. Offline never calls a real endpoint."""
    os.environ.update({"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": KEY,
                       "AZURE_OPENAI_ENDPOINT": server.url, "AZURE_OPENAI_API_KEY": KEY})
    os.environ.setdefault("OPENAI_API_VERSION", "2024-02-01")


class ScriptedConnections(StandInProvider):
    """A connection provider whose model endpoints all point at the scripted server.

    A name that is not stored is answered by a connection of the class the caller needs
    (``kind``: an Azure-style node gets an ``AzureOpenAIConnection``; default ``OpenAIConnection``).
    """

    def __init__(self, rules: str, inner: Any):
        self._server = _shared_server(rules)
        self._inner = inner

    def get(self, name: str, kind: Any = None):
        from promptflow_lite.connections._values import unset_env_kept
        from promptflow_lite.errors import ConnectionNotFound

        try:
            with unset_env_kept():  # e.g. api_key: ${env:OPENAI_API_KEY} needs no key offline
                conn = self._inner.get(name)
        except ConnectionNotFound:
            return stand_in(name, kind, self._server)
        return redirect(conn, self._server)

    def names(self) -> list[str]:
        return self._inner.names()

    def redirect(self, conn: Any) -> Any:
        return redirect(conn, self._server)


def stand_in(name: str, kind: Any, server: Any) -> Any:
    """A connection of class ``kind`` (default ``OpenAIConnection``) named ``name``, calling the scripted ``server``."""
    from promptflow_lite.connections._types import Connection, CustomConnection, OpenAIConnection

    if not (isinstance(kind, type) and issubclass(kind, Connection)) or kind is Connection:
        kind = OpenAIConnection
    if kind is CustomConnection:  # what tools building their own client read from one
        return CustomConnection(name=name, secrets={"api_key": KEY},
                                configs={"api_base": server.url, "base_url": server.base_url})
    return redirect(kind(name=name), server)


def redirect(conn: Any, server: Any) -> Any:
    """A copy of ``conn`` whose model endpoint is the scripted ``server``."""
    conn = copy.deepcopy(conn)
    if "base_url" in conn.configs:
        conn.configs["base_url"] = server.base_url
    if "api_base" in conn.configs:
        conn.configs["api_base"] = server.url
    for key in conn.secrets:
        conn.secrets[key] = KEY
    return conn
