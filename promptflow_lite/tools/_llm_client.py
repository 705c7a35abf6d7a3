"""Which endpoint a connection points at, and pooled ``openai`` clients for it.

Provider comes from the connection class, as in promptflow (§1.6, §3.1):

- ``AzureOpenAIConnection`` → ``AzureOpenAI`` client (``azure_endpoint=api_base``, ``api_version``);
  the model sent is the deployment name. *promptflow_lite extra:* when ``api_type`` is
  ``"openai"`` or ``api_base`` ends with ``/v1``, the connection is called as a plain
  OpenAI-compatible endpoint at ``api_base`` (still with ``model=deployment_name``), so an
  Azure-typed flow runs unchanged against a local server.
- ``OpenAIConnection`` → ``OpenAI`` client (``base_url``, ``organization``).
- ``ServerlessConnection`` → ``OpenAI`` client at ``api_base + "/v1"`` (unless already suffixed).

An endpoint is checked before any call (:func:`check_endpoint`): a URL that is not ``http(s)://host``, a
key holding a line break, or a ``${...}`` placeholder left unresolved in the URL, key or organization is an
immediate error naming the connection and field - the HTTP client would fail each attempt and the retries would
wait minutes. Clients are created once per (event loop, endpoint, key, version, timeout) and reused by every
line; the SDK's own retries are off (``max_retries=0``) because :mod:`._retry` retries.
Timeout per HTTP attempt: env ``PFL_LLM_TIMEOUT`` (seconds, default 60).
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

from promptflow_lite.connections._types import AzureOpenAIConnection, OpenAIConnection, ServerlessConnection
from promptflow_lite.errors import UserError
from promptflow_lite.masking import register_secret, register_url
from promptflow_lite.tools._observe import RECORDED
from promptflow_lite.tools._sdk import load_sdk, shared_tls_context

AZURE, OPENAI = "AzureOpenAI", "OpenAI"


class InvalidConnectionType(UserError):
    """The connection cannot be used for LLM calls."""


class InvalidEndpoint(UserError):
    """A connection's endpoint URL, key or organization cannot be what the user meant (not a URL, an
    unresolved ``${...}`` placeholder)."""


@dataclass(frozen=True)
class Endpoint:
    """Where and how to call: ``provider`` is the client kind (``AzureOpenAI`` or ``OpenAI``)."""

    provider: str
    url: str | None  # azure_endpoint for Azure, base_url for OpenAI (None: the SDK default)
    api_key: str = field(repr=False)
    api_version: str | None = None
    organization: str | None = None
    connection_name: str = ""
    flavour: str = OPENAI  # which promptflow tool semantics apply: the connection's kind

    def __post_init__(self) -> None:
        register_secret(self.api_key)  # an endpoint may echo it in an error
        register_url(self.url)  # every message names the endpoint: never with the credentials a URL may hold

    @property
    def display_url(self) -> str:
        return self.url or "https://api.openai.com/v1"

    @property
    def connection_label(self) -> str:
        return f"connection '{self.connection_name}'" if self.connection_name else "the connection"


def timeout_seconds() -> float:
    return float(os.environ.get("PFL_LLM_TIMEOUT") or 60)


def resolve_endpoint(connection: Any) -> Endpoint:
    """The checked :class:`Endpoint` of an LLM connection; other connection types are a clear error."""
    endpoint = _endpoint(connection)
    check_endpoint(endpoint)
    return endpoint


_PLACEHOLDER = re.compile(r"\$\{[^}]*\}?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_endpoint(endpoint: Endpoint) -> None:
    """Raise :class:`InvalidEndpoint` for an unresolved ``${...}`` in the URL, key or organization, or
    a URL that is not ``http(s)://host...``."""
    url_field = "base_url" if endpoint.flavour == OPENAI else "api_base"
    for field_name, value, secret in ((url_field, endpoint.url, False), ("api_key", endpoint.api_key, True),
                                      ("organization", endpoint.organization, False)):
        found = _PLACEHOLDER.search(value) if isinstance(value, str) else None
        if found:
            shown = found.group(0) if secret else value
            variable = found.group(0).strip("${}").split(":", 1)[-1] or "VAR"
            raise InvalidEndpoint(
                f"{_label(endpoint)}: {field_name} holds '{shown}', a reference that was never "
                "resolved.", hint=f"write it as the whole value ${{env:{variable}}} (lower-case 'env') and set "
                                  f"{variable}, or store the value itself{_update(endpoint, field_name)}.")
    if isinstance(endpoint.api_key, str) and _CONTROL.search(endpoint.api_key):
        raise InvalidEndpoint(
            f"{_label(endpoint)}: api_key holds a line break or another control character, which an HTTP header "
            "cannot carry (a key read from a file with its newline?).",
            hint=f"store the key without it{_update(endpoint, 'api_key')}.")
    if endpoint.url is not None and not _is_http_url(endpoint.url):
        raise InvalidEndpoint(
            f"{_label(endpoint)}: {url_field} '{endpoint.url[:200]}' is not an http(s) URL.",
            hint="give the endpoint's full URL, e.g. https://<resource>.openai.azure.com/ (Azure OpenAI) or "
                 f"http://localhost:8000/v1 (an OpenAI-compatible server){_update(endpoint, url_field)}.")


def _is_http_url(url: str) -> bool:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url.strip())
        return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. a malformed IPv6 host or port
        return False


def _label(endpoint: Endpoint) -> str:
    return f"Connection '{endpoint.connection_name}'" if endpoint.connection_name else "The model configuration"


def _update(endpoint: Endpoint, field_name: str) -> str:
    if not endpoint.connection_name:
        return ""
    return f": `pfl connection update -n {endpoint.connection_name} --set {field_name}=...`"


def _endpoint(connection: Any) -> Endpoint:
    name = getattr(connection, "name", None) or ""
    if isinstance(connection, AzureOpenAIConnection):
        api_base = connection.api_base
        if not api_base:
            raise InvalidConnectionType(f"Azure OpenAI connection '{name}' has no api_base.",
                                        hint="set api_base to https://<resource>.openai.azure.com/ or your endpoint.")
        key = _api_key(connection, name)
        if str(connection.api_type or "").lower() == "openai" or api_base.rstrip("/").endswith("/v1"):
            return Endpoint(OPENAI, api_base.rstrip("/"), key, None, None, name, AZURE)
        return Endpoint(AZURE, api_base, key, connection.api_version, None, name, AZURE)
    if isinstance(connection, OpenAIConnection):
        return Endpoint(OPENAI, connection.base_url or None, _api_key(connection, name), None,
                        connection.organization or None, name, OPENAI)
    if isinstance(connection, ServerlessConnection):
        base = (connection.api_base or "").rstrip("/")
        if not base:
            raise InvalidConnectionType(f"Serverless connection '{name}' has no api_base.",
                                        hint="set api_base to the endpoint URL.")
        if not base.endswith("/v1"):
            base += "/v1"
        return Endpoint(OPENAI, base, _api_key(connection, name), None, None, name, "Serverless")
    raise InvalidConnectionType(
        f"Not Support connection type '{type(connection).__name__}' for LLM calls. Connection type should be in "
        "[AzureOpenAIConnection, OpenAIConnection, ServerlessConnection].",
        hint="point the node at an open_ai, azure_open_ai or serverless connection.")


def _api_key(connection: Any, name: str) -> str:
    key = connection.api_key
    if key:
        return str(key)
    if getattr(connection, "auth_mode", "key") == "meid_token":
        raise InvalidConnectionType(
            f"Connection '{name}' uses auth_mode meid_token (Microsoft Entra ID), which promptflow_lite does not "
            "support.", hint="set an api_key on the connection.")
    raise InvalidConnectionType(f"Connection '{name}' has no api_key.",
                                hint="set api_key (any non-empty value for servers without authentication).")


def _client_kwargs(endpoint: Endpoint) -> dict[str, Any]:
    common = {"api_key": endpoint.api_key, "max_retries": 0, "timeout": timeout_seconds()}
    if endpoint.provider == AZURE:
        return {**common, "azure_endpoint": endpoint.url, "api_version": endpoint.api_version}
    return {**common, "base_url": endpoint.url, "organization": endpoint.organization}


def _pool_key(endpoint: Endpoint) -> tuple:
    return (endpoint.provider, endpoint.url, endpoint.api_key, endpoint.api_version, endpoint.organization,
            timeout_seconds())


_sync_clients: dict[tuple, Any] = {}
_async_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple, Any]]" = weakref.WeakKeyDictionary()
_shutdown_hooks: dict[asyncio.AbstractEventLoop, Any] = {}
_lock = threading.Lock()


def sync_client(endpoint: Endpoint) -> Any:
    """The shared blocking client for ``endpoint`` (thread-safe, reused across calls)."""
    key = _pool_key(endpoint)
    with _lock:
        client = _sync_clients.get(key)
        if client is None:
            openai = load_sdk()
            cls = openai.AzureOpenAI if endpoint.provider == AZURE else openai.OpenAI
            client = _sync_clients[key] = _ours(cls(**_client_kwargs(endpoint)))
        return client


def async_client(endpoint: Endpoint) -> Any:
    """The shared async client for ``endpoint`` on the running event loop."""
    loop = asyncio.get_running_loop()
    key = _pool_key(endpoint)
    with _lock:
        pool = _async_clients.setdefault(loop, {})
        if loop not in _shutdown_hooks:
            _shutdown_hooks[loop] = _close_at_loop_shutdown()
        client = pool.get(key)
        if client is None:
            openai = load_sdk()
            cls = openai.AsyncAzureOpenAI if endpoint.provider == AZURE else openai.AsyncOpenAI
            client = pool[key] = _ours(cls(**_client_kwargs(endpoint), **_async_transport(openai)))
        return client


def _ours(client: Any) -> Any:
    """Mark a client whose calls :mod:`._llm` records itself, so that tracing of the SDK skips them."""
    setattr(client, RECORDED, True)
    return client


def _async_transport(openai: Any) -> dict[str, Any]:
    """aiohttp under the SDK when it has it (about a third less CPU per call than httpx), else httpx:
    aiohttp is not installed, or the SDK was imported without it (a server: see ``serve/_lean.py``)."""
    transport = getattr(openai, "DefaultAioHttpClient", None)
    if transport is None or os.environ.get("PFL_LLM_HTTP", "aiohttp") != "aiohttp":
        return {}
    tls = shared_tls_context()  # made ahead of time by a batch run, else each transport makes its own
    try:
        return {"http_client": transport(timeout=timeout_seconds(), **({"verify": tls} if tls is not None else {}))}
    except RuntimeError:  # the SDK's stand-in when its aiohttp transport could not be imported
        return {}


def _close_at_loop_shutdown() -> Any:
    """An async generator parked at its ``yield`` and known to the running loop, so that the loop's
    shutdown (``asyncio.run`` ends, ``loop.shutdown_asyncgens()``) closes this loop's clients even
    when the loop belongs to the caller (``AsyncPrompty``, ``AsyncFlow``, async flex code)."""

    async def hook():
        try:
            yield
        finally:
            _shutdown_hooks.pop(asyncio.get_running_loop(), None)
            await close_async_clients()

    agen = hook()
    try:
        agen.asend(None).send(None)  # runs to ``yield``; the loop's firstiter hook now tracks it
    except StopIteration:
        pass
    return agen


async def close_async_clients() -> None:
    """Close the pooled clients of the running loop (call before the loop ends to free sockets)."""
    with _lock:
        pool = _async_clients.pop(asyncio.get_running_loop(), {})
    for client in pool.values():
        await client.close()
