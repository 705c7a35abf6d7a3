"""A small client for a served flow (stdlib only): JSON answers and server-sent events.

    client = ScoreClient("http://127.0.0.1:8080")
    client.score({"question": "Hi"})                 # → outputs dict (raises ScoreError on 4xx/5xx)
    for event in client.stream({"question": "Hi"}):  # → {"answer": "He"}, {"answer": "llo"}, ...
        ...
"""

from __future__ import annotations

import http.client
import json
from typing import Any, Iterator
from urllib.parse import urlsplit


class ScoreError(Exception):
    """The server answered with an error status; ``status`` and ``body`` (the parsed JSON) say which."""

    def __init__(self, status: int, body: Any):
        self.status, self.body = status, body
        message = body.get("error", {}).get("message") if isinstance(body, dict) else body
        super().__init__(f"HTTP {status}: {message}")


class ScoreClient:
    """Calls ``POST /score`` (and friends) of a flow server at ``url``; one connection per call."""

    def __init__(self, url: str, timeout: float = 60.0):
        parts = urlsplit(url)
        self.host, self.port, self.timeout = parts.hostname or "127.0.0.1", parts.port or 80, timeout

    def request(self, method: str, path: str, body: bytes | str | dict | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
        """Status, headers (lower-case names) and body (parsed JSON when it is JSON, else text)."""
        conn, response = self._open(method, path, body, headers)
        try:
            data = response.read().decode("utf-8")
        finally:
            conn.close()
        try:
            parsed: Any = json.loads(data)
        except ValueError:
            parsed = data
        return response.status, {k.lower(): v for k, v in response.getheaders()}, parsed

    def score(self, inputs: dict[str, Any] | bytes | str, headers: dict[str, str] | None = None) -> Any:
        """The flow's outputs for ``inputs``; raises :class:`ScoreError` on an error status."""
        status, _, body = self.request("POST", "/score", inputs, {"accept": "application/json", **(headers or {})})
        if status != 200:
            raise ScoreError(status, body)
        return body

    def stream(self, inputs: dict[str, Any], headers: dict[str, str] | None = None) -> Iterator[Any]:
        """The server-sent events of ``POST /score`` with ``Accept: text/event-stream``, parsed, as they arrive."""
        conn, response = self._open("POST", "/score", inputs, {"accept": "text/event-stream", **(headers or {})})
        try:
            if response.status != 200:
                raise ScoreError(response.status, json.loads(response.read() or b"null"))
            data: list[str] = []
            for raw in response:
                line = raw.decode("utf-8").rstrip("\r\n")
                if line.startswith("data:"):
                    data.append(line[5:].lstrip())
                elif not line and data:
                    yield json.loads("\n".join(data))
                    data = []
        finally:
            conn.close()

    def _open(self, method: str, path: str, body: Any, headers: dict[str, str] | None):
        if isinstance(body, dict):
            body, headers = json.dumps(body).encode(), {"content-type": "application/json", **(headers or {})}
        elif isinstance(body, str):
            body = body.encode()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        conn.request(method, path, body=body, headers=headers or {})
        return conn, conn.getresponse()
