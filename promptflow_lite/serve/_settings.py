"""How a server guards itself: the API key, the line limits and the request limits (``pfl flow serve`` options)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from promptflow_lite.errors import UserError
from promptflow_lite.tools._coercion import MAX_NESTING

API_KEY_ENV = "PFL_SERVE_API_KEY"
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_JSON_DEPTH = MAX_NESTING  # as deep as a flow input may nest anywhere


@dataclass(frozen=True)
class ServeSettings:
    """What a served app enforces; the defaults accept any caller and any amount of concurrent work.

    ``api_key``: every route but ``/health`` needs ``Authorization: Bearer <api_key>``.
    ``max_concurrency``: lines running at once; ``queue_size`` more wait (default: as many),
    at most ``queue_seconds``, beyond that a request gets 503 with ``Retry-After``.
    ``timeout``: seconds a line may run before it is cancelled (504).
    ``max_body_bytes`` (413) and ``max_json_depth`` (400) bound what a request may send.
    """

    api_key: str | None = None
    max_concurrency: int | None = None
    queue_size: int | None = None
    queue_seconds: float = 30.0
    timeout: float | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_json_depth: int = DEFAULT_MAX_JSON_DEPTH

    def __post_init__(self) -> None:
        for name in ("max_concurrency", "timeout", "max_body_bytes", "max_json_depth"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise UserError(f"{name.replace('_', '-')} must be positive, got {value}.")
        if self.queue_size is not None and self.queue_size < 0:
            raise UserError(f"queue-size must be 0 or more, got {self.queue_size}.")
        if self.api_key is not None and not self.api_key.strip():
            raise UserError("The API key is empty.", hint=f"set a non-empty key in {API_KEY_ENV} or --api-key-env.")

    @property
    def waiting_room(self) -> int:
        """How many requests may wait for a line slot."""
        if self.queue_size is not None:
            return self.queue_size
        return self.max_concurrency or 0


def api_key_from_env(variable: str | None = None) -> str | None:
    """The key in environment ``variable`` (``--api-key-env``; a missing variable is an error),
    else in ``PFL_SERVE_API_KEY`` (None when unset)."""
    if variable:
        value = os.environ.get(variable)
        if not value or not value.strip():
            raise UserError(f"--api-key-env {variable}: the environment variable {variable} is not set or empty.",
                            hint=f"export {variable}=<a long random key> before starting the server.")
        return value.strip()
    value = os.environ.get(API_KEY_ENV, "").strip()
    return value or None
