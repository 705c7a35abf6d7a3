"""The openai SDK module: imported on first use or ahead of time in a background thread, with the TLS context
its async clients share.

Importing the SDK takes ~0.25 s of CPU (its API types load as used, :mod:`._sdk_types`), and each HTTP
transport of a client loads the system's certificates again (~25 ms; the client has one, plus one per proxy
in ``HTTP(S)_PROXY``). A batch run starts :func:`warm_up_sdk` as soon as its flow is loaded: the import and
one TLS context are made in a thread while the run writes its files, the certificates load without holding
the GIL, and the first client reuses that context instead of making its own. A missing or broken ``openai``
package is a clear :class:`SdkUnavailable` wherever the SDK is first needed.
"""

from __future__ import annotations

import os
import sys
import threading
from contextvars import ContextVar
from typing import Any

from promptflow_lite._gc import collection_paused
from promptflow_lite.errors import UserError

# Whether loading a flow with LLM nodes imports the SDK then (~0.25 s), so that its first lines do not all wait
# for it. A batch run loads its flow without: its lines may run in worker processes, which import it themselves.
sdk_with_flow: ContextVar[bool] = ContextVar("pfl_sdk_with_flow", default=True)


class SdkUnavailable(UserError):
    """The ``openai`` package cannot be imported, so no model can be called."""


_sdk: Any = None  # the openai module, once its import is complete
_lock = threading.Lock()
_tls: dict[tuple, Any] = {}  # (SSL_CERT_FILE, SSL_CERT_DIR) -> the TLS context made ahead of time
_warming: threading.Thread | None = None


def load_sdk() -> Any:
    """The ``openai`` module, imported on first use with its API types loaded as used and the garbage
    collector paused (the import creates ~10^5 objects that all live on: collecting during it is wasted
    work). A caller waits for an import another thread started; an import that fails raises
    :class:`SdkUnavailable` (and is tried again by the next caller)."""
    if _sdk is None:
        _import_sdk()
    return _sdk


def _import_sdk() -> None:
    global _sdk
    with _lock:
        if _sdk is not None:
            return
        from promptflow_lite.tools._sdk_types import lazy_types

        lazy_types()
        try:
            with collection_paused():
                import openai
        except ImportError as exc:
            raise SdkUnavailable(
                f"The openai package cannot be imported ({type(exc).__name__}: {exc}); LLM nodes and prompty "
                "flows call their models through it.",
                hint="install it in this Python environment: pip install 'openai[aiohttp]>=1.30'") from exc
        _sdk = openai


def warm_up_sdk() -> None:
    """Import the SDK and make its clients' TLS context in a background thread (the caller goes on); the
    first :func:`load_sdk` waits for it. A failure is left for that :func:`load_sdk` to raise again."""
    global _warming
    if _sdk is not None and _tls_key() in _tls:
        return
    _warming = threading.Thread(target=_warm_up, name="pfl-sdk-warm-up", daemon=True)
    _warming.start()


def _warm_up() -> None:
    try:
        openai = load_sdk()
        key = _tls_key()
        if key not in _tls:
            _tls[key] = _new_tls_context(openai)
    except Exception:  # noqa: BLE001 - the lines' own load_sdk() reports it where it is seen
        pass


def shared_tls_context() -> Any:
    """The TLS context :func:`warm_up_sdk` made (waiting for it to finish) for the certificates configured
    now, or None: then each transport makes its own, as the SDK does by default."""
    warming = _warming
    if warming is not None and warming is not threading.current_thread():
        warming.join()
    return _tls.get(_tls_key())


def _tls_key() -> tuple:
    return os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")


def _new_tls_context(openai: Any) -> Any:
    """A TLS context made by the SDK's HTTP library exactly as each of its transports would make one
    (``create_ssl_context()``: system certificates, ``SSL_CERT_FILE``/``SSL_CERT_DIR``); None when the
    library has no such function."""
    client = getattr(openai, "DefaultAioHttpClient", None)
    base = next((c for c in getattr(client, "__mro__", ()) if c.__name__ == "AsyncClient"), None)
    library = sys.modules.get(base.__module__.split(".")[0]) if base is not None else None
    make = getattr(library, "create_ssl_context", None)
    return make() if callable(make) else None
