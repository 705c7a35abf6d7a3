"""Bearer-key authentication for every route but ``/health`` (an ASGI wrapper, compared in constant time)."""

from __future__ import annotations

import hmac
import ipaddress
import logging
from typing import Any, Callable

from promptflow_lite.serve._errors import Unauthorized
from promptflow_lite.serve._responses import encode, exception_body

OPEN_PATHS = frozenset({"/health"})
_log = logging.getLogger(__name__)


class BearerAuth:
    """Answers 401 (promptflow's error body) unless ``Authorization: Bearer <api_key>`` is sent.

    ``page(scope)`` may give an HTML page to answer a browser's navigation with, still as 401:
    the page asks for the key and sends it itself (it holds no flow data). ``refused(scope)`` is
    told of every refusal (the metrics count them).
    """

    def __init__(self, app: Any, api_key: str, page: Callable[[dict], bytes | None] | None = None,
                 refused: Callable[[dict], None] | None = None):
        self.app, self._key, self._page, self._refused = app, api_key.encode(), page, refused

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or self._authorized(scope):
            await self.app(scope, receive, send)
            return
        if self._refused:
            self._refused(scope)
        headers = [(b"www-authenticate", b'Bearer realm="promptflow_lite"'), (b"cache-control", b"no-store")]
        page = self._page(scope) if self._page else None
        if page is not None:
            body, kind = page, b"text/html; charset=utf-8"
        else:
            error = Unauthorized("Missing or wrong API key.",
                                 hint="send the header 'Authorization: Bearer <key>' with the server's key.")
            body, kind = encode(exception_body(error)), b"application/json"
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode()), *headers]})
        await send({"type": "http.response.body", "body": body})

    def _authorized(self, scope: dict) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.partition(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self._key)
        return False


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, api_key: str | None) -> str | None:
    """A loud warning when the server listens beyond this machine without a key, else None."""
    if api_key or is_loopback(host):
        return None
    return ("WARNING: serving on {host} WITHOUT AN API KEY: anyone who can reach this machine can run the flow "
            "(and spend its LLM tokens). Set PFL_SERVE_API_KEY or --api-key-env VAR, or listen on 127.0.0.1."
            ).format(host=host)
