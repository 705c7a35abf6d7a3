"""The connections a flow runs with: a provider (``get(name)``) from what a caller passed.

By default the local store and ``PROMPTFLOW_CONNECTIONS``, opened only when a connection is
needed; in offline mode (``pfl --scripted-llm``), every LLM connection points at the scripted server.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator

from promptflow_lite.connections._provider import (
    DictConnectionProvider, StandInProvider, as_provided, default_provider, get_connection,
)

active_connections: ContextVar[Any] = ContextVar("pfl_active_connections", default=None)
"""The connections of the flow running in this context (the engine sets it), so a prompty loaded by
flow code without ``connections=`` finds the same connections as the flow (offline mode, serving)."""


@contextmanager
def connections_in_use(connections: Any) -> Iterator[None]:
    """Within this block, prompties loaded without ``connections=`` use ``connections``."""
    token = active_connections.set(connections)
    try:
        yield
    finally:
        active_connections.reset(token)


def connection_provider(connections: Any):
    """A provider with ``get(name)`` from None (local store + env), a dict, or a provider."""
    if connections is None:
        return _DefaultProvider()
    if isinstance(connections, dict):
        return DictConnectionProvider(connections)
    return connections


class _DefaultProvider(StandInProvider):
    """The local store (+ ``PROMPTFLOW_CONNECTIONS``), opened only if a connection is needed;
    in offline mode (``pfl --scripted-llm``) the scripted server stands in for every endpoint."""

    def __init__(self) -> None:
        self._provider = None
        if os.environ.get("PFL_SCRIPTED_LLM"):  # offline: the server is up before any tool builds a client
            self._get_provider()

    def _get_provider(self):
        if self._provider is None:
            from promptflow_lite.testing._offline import ScriptedConnections, scripted_rules

            self._provider = default_provider()
            if scripted_rules():
                self._provider = ScriptedConnections(scripted_rules(), self._provider)
        return self._provider

    def get(self, name: str, kind: Any = None):
        return get_connection(name, self._get_provider(), kind=kind)

    def names(self) -> list[str]:
        return self._get_provider().names()

    def redirect(self, conn: Any) -> Any:
        return as_provided(conn, self._get_provider())
