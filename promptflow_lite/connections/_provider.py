"""Where the executor gets connections: a small provider protocol and its implementations.

A provider has ``get(name)`` and ``names()``. ``DictConnectionProvider`` takes promptflow's
execution-time dict (``{"name": {"type": "OpenAIConnection", "value": {...}, "secret_keys": [...]}}``)
or plain ``{name: Connection}``; ``default_provider()`` reads the ``PROMPTFLOW_CONNECTIONS`` JSON
file if that variable is set, then the local store. ``${env:VAR}`` values resolve when a
connection is fetched.
"""

from __future__ import annotations

import importlib
import json
import os
import re
from pathlib import Path
from typing import Any, Iterable, Mapping, Protocol, runtime_checkable

from promptflow_lite.connections._errors import connection_not_found
from promptflow_lite.connections._types import (
    CONNECTION_CLASSES, Connection, CustomConnection, connection_class)
from promptflow_lite.connections._values import apply_env_overrides, resolve_env_references
from promptflow_lite.errors import ConnectionNotFound, UserError
from promptflow_lite.masking import register_named

__all__ = ["ConnectionProvider", "StandInProvider", "DictConnectionProvider", "ChainedConnectionProvider",
           "ResolvedConnections", "default_provider", "get_connection", "as_provided", "apply_env_overrides",
           "resolve_connection_references"]

CONNECTIONS_FILE_ENV = "PROMPTFLOW_CONNECTIONS"
_REFERENCE = re.compile(r"^\$\{([^.]+)\.([^.]+)}$")


@runtime_checkable
class ConnectionProvider(Protocol):
    def get(self, name: str) -> Connection: ...

    def names(self) -> list[str]: ...


class StandInProvider:
    """A provider that answers every model endpoint itself (offline mode: ``promptflow_lite.testing._offline``).

    ``get(name, kind)`` stands in for a connection that does not exist with one of class ``kind``, the
    class the caller will use it as (an Azure-style node gets an ``AzureOpenAIConnection``);
    ``redirect(conn)`` points a connection built from inline settings (a prompty's
    ``model.configuration``) at the same endpoint.
    """

    def get(self, name: str, kind: type[Connection] | None = None) -> Connection:
        raise NotImplementedError

    def names(self) -> list[str]:
        raise NotImplementedError

    def redirect(self, conn: Connection) -> Connection:
        return conn


class DictConnectionProvider:
    """Connections given in memory: promptflow's execution dict format or ``{name: Connection}``.

    Entries are built on first use, so a broken entry only fails the flows that use it.
    """

    def __init__(self, mapping: Mapping[str, Any] | None, *, source: str = "the given connections"):
        self._entries = dict(mapping or {})
        self._built: dict[str, Connection] = {}
        self.source = source

    def get(self, name: str) -> Connection:
        if isinstance(name, Connection):
            return name
        if name not in self._entries:
            raise connection_not_found(str(name), self.names(), self.source)
        if name not in self._built:
            self._built[name] = _entry_to_connection(name, self._entries[name], self.source)
        return resolve_env_references(self._built[name])

    def names(self) -> list[str]:
        return sorted(self._entries)

    def list(self) -> list[Connection]:
        return [self.get(name) for name in self.names()]


class ChainedConnectionProvider:
    """The first provider that knows a name wins; ``env_overrides`` applies serving's env overrides."""

    def __init__(self, providers: Iterable[Any], *, env_overrides: bool = False):
        self.providers = list(providers)
        self.env_overrides = env_overrides

    def get(self, name: str) -> Connection:
        if isinstance(name, Connection):
            return name
        for provider in self.providers:
            if name in provider.names():
                conn = provider.get(name)
                return apply_env_overrides(conn) if self.env_overrides else conn
        where = " or ".join(_describe(p) for p in self.providers) or "any provider"
        raise connection_not_found(name, self.names(), where)

    def names(self) -> list[str]:
        return sorted({name for provider in self.providers for name in provider.names()})


class ResolvedConnections(StandInProvider):
    """The connections a flow resolved: ``known`` ones (by name) first, else ``inner``'s (stand-ins and
    redirects included); each one handed out is kept by name in ``resolved``. A run's driver records what
    its flow used this way, and another process (a Ray worker) gets exactly those as ``known``."""

    def __init__(self, inner: Any, known: Mapping[str, Connection] | None = None):
        self.inner = inner
        self.known = dict(known or {})
        self.resolved: dict[str, Connection] = {}

    def get(self, name: str, kind: type[Connection] | None = None) -> Connection:
        conn = self.known.get(name) if isinstance(name, str) else None
        if conn is None:
            conn = get_connection(name, self.inner, kind=kind)
        if isinstance(name, str) and isinstance(conn, Connection):
            self.resolved[name] = conn
        return conn

    def names(self) -> list[str]:
        return sorted({*self.known, *self.inner.names()})

    def redirect(self, conn: Connection) -> Connection:
        return as_provided(conn, self.inner)


def default_provider(*, env_overrides: bool = False, store: Any = None) -> ChainedConnectionProvider:
    """Connections from the ``PROMPTFLOW_CONNECTIONS`` JSON file (if set), then the local store
    (``store``: another provider of it, e.g. one reading it in a child process)."""
    providers: list[Any] = []
    file = os.environ.get(CONNECTIONS_FILE_ENV)
    if file:
        providers.append(load_connections_json(file))
    if store is None:
        from promptflow_lite.connections._store import ConnectionStore

        store = ConnectionStore()
    providers.append(store)
    return ChainedConnectionProvider(providers, env_overrides=env_overrides)


def load_connections_json(path: str | Path) -> DictConnectionProvider:
    """A provider for a JSON file in promptflow's execution format (``connections.json.example``)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"Cannot read the connections file named by {CONNECTIONS_FILE_ENV}: {exc.strerror}.",
                        file=str(path), hint=f"fix or unset {CONNECTIONS_FILE_ENV}.") from None
    except ValueError as exc:
        raise UserError(f"The connections file is not valid JSON: {exc}.", file=str(path),
                        hint=f"fix the file or unset {CONNECTIONS_FILE_ENV}.") from None
    if not isinstance(data, dict):
        raise UserError("The connections file must hold a JSON object of connections by name.", file=str(path))
    return DictConnectionProvider(data, source=f"{CONNECTIONS_FILE_ENV} file {path}")


def get_connection(name: str, provider: Any = None, *, kind: type[Connection] | None = None) -> Connection:
    """The connection ``name`` from ``provider`` (default: ``default_provider()``).

    ``kind`` is the connection class the caller needs: a :class:`StandInProvider` (offline mode)
    stands in for a missing name with one of that class. Not found → ``ConnectionNotFound``
    listing the known names and how to create the connection.
    """
    provider = default_provider() if provider is None else provider
    try:
        if isinstance(provider, StandInProvider):
            return provider.get(name, kind)
        return provider.get(name)
    except ConnectionNotFound:
        raise
    except KeyError:
        raise connection_not_found(name, provider.names(), _describe(provider)) from None


def as_provided(conn: Connection, provider: Any) -> Connection:
    """A connection built from inline settings, as ``provider`` would hand it out (offline: redirected)."""
    return provider.redirect(conn) if isinstance(provider, StandInProvider) else conn


def resolve_connection_references(env_vars: Mapping[str, Any], provider: Any) -> dict[str, str]:
    """Flow ``environment_variables`` as strings, each ``${conn.key}`` replaced by that connection field.

    An unknown connection raises ``ConnectionNotFound``; an unknown key leaves the value as written;
    dict and list values become JSON, None an empty string, anything else ``str()``. Values named
    like secrets (``OPENAI_API_KEY``) are registered for masking.
    """
    resolved: dict[str, str] = {}
    for key, value in env_vars.items():
        match = _REFERENCE.match(value.strip()) if isinstance(value, str) else None
        if match:
            conn = get_connection(match.group(1), provider)
            if match.group(2) in conn:
                value = conn[match.group(2)]
        resolved[str(key)] = _env_text(value)
    register_named(resolved)
    return resolved


def _env_text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return "" if value is None else str(value)


def _describe(provider: Any) -> str:
    if hasattr(provider, "source"):
        return provider.source
    if hasattr(provider, "path"):
        return f"the local store ({provider.path})"
    return type(provider).__name__


# promptflow's execution dict -------------------------------------------------------------------

def _entry_to_connection(name: str, entry: Any, source: str) -> Connection:
    if isinstance(entry, Connection):
        if entry.name is None:
            entry.name = name
        return entry
    if not isinstance(entry, dict):
        raise UserError(f"Connection '{name}' in {source} must be a connection or a mapping, "
                        f"not {type(entry).__name__}.")
    if "value" not in entry:  # the YAML form: {type: open_ai, api_key: ...}
        from promptflow_lite.connections._files import connection_from_dict

        return connection_from_dict({"name": name, **entry}, file=source)
    cls = _entry_class(name, entry, source)
    value = entry.get("value") or {}
    if not isinstance(value, dict):
        raise UserError(f"Connection '{name}' in {source}: `value` must be a mapping of fields.")
    if issubclass(cls, CustomConnection):
        secret_keys = set(entry.get("secret_keys") or [])
        return cls(name=name, configs={k: v for k, v in value.items() if k not in secret_keys},
                   secrets={k: v for k, v in value.items() if k in secret_keys})
    return cls(name=name, **value)


def _entry_class(name: str, entry: dict, source: str) -> type[Connection]:
    type_name = str(entry.get("type") or "")
    try:
        return connection_class(type_name)
    except ValueError:
        pass
    module = entry.get("module")
    if module and type_name:  # a custom strong type defined by the user's module
        try:
            found = getattr(importlib.import_module(module), type_name, None)
        except ImportError:
            found = None
        if isinstance(found, type) and issubclass(found, Connection):
            return found
    supported = ", ".join(sorted(c.__name__ for c in CONNECTION_CLASSES.values()))
    raise UserError(f"Connection '{name}' in {source} has unknown type '{type_name}'.",
                    hint=f"use one of: {supported}; or a connection class defined in `module`.")
