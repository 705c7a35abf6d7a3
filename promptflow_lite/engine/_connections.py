"""The connections a flow runs with: a provider (``get(name)``) from what a caller passed.

By default the local store and ``PROMPTFLOW_CONNECTIONS``, opened only when a connection is
needed; in offline mode (``pfl --scripted-llm``), every LLM connection points at the scripted server.
"""

from __future__ import annotations

import os
from typing import Any

from promptflow_lite.connections._provider import (
    DictConnectionProvider, StandInProvider, as_provided, default_provider, get_connection,
)


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
