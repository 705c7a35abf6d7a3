"""Why a request is refused before or around its line, each with its HTTP status (promptflow's error body)."""

from __future__ import annotations

from promptflow_lite.errors import PflError, UserError


class Unauthorized(UserError):
    """No or a wrong ``Authorization: Bearer`` key (401)."""

    status = 401


class PayloadTooLarge(UserError):
    """The request body is larger than the server accepts (413)."""

    status = 413


class UnsupportedMediaType(UserError):
    """A ``Content-Type`` the endpoint cannot read (415)."""

    status = 415


class ServerBusy(PflError):
    """Every line slot is taken and the queue is full (503, with ``Retry-After``)."""

    status = 503

    def __init__(self, message: str, *, retry_after: int = 1, **kwargs):
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class LineTimedOut(PflError):
    """A line ran longer than ``--timeout`` and was cancelled (504)."""

    status = 504


class ClientGone(Exception):
    """The client disconnected before its answer was ready: its line was cancelled."""


def status_of(exc: BaseException, default: int = 500) -> int:
    """The HTTP status an exception of ours stands for."""
    return getattr(exc, "status", default)
