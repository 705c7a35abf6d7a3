"""When to retry an LLM request, how long to wait, and what to tell the user when it fails.

Retried: 429 (not ``insufficient_quota``), HTTP >= 500, timeouts, dropped connections,
malformed (non-JSON) bodies, and - at most 3 times in a row - 422 and refused connections.
Waits honour ``Retry-After`` / ``retry-after-ms`` (capped at 60 s), else exponential backoff
with jitter (``PFL_LLM_BACKOFF_SECONDS``, default 0.5 s, doubling, capped at 20 s). Gives up after ``PFL_LLM_MAX_RETRY_SECONDS``
(default 120) of total time or ``PFL_LLM_MAX_RETRIES`` retries (default 10), whichever comes
first. 400/401/403/404 fail at once. promptflow retries up to 100 times with up to 60 s
waits; the time budget keeps a dead endpoint from stalling a run for an hour. Once a request has
been retried for ``PFL_LLM_RETRY_NOTICE_SECONDS`` (default 5 s), its retries are announced on
stderr - attempt, cause, next wait - at most once per endpoint every ``NOTICE_INTERVAL`` seconds
(many lines retry at once when an endpoint struggles).
"""

from __future__ import annotations

import email.utils
import os
import sys
import threading
import time
from typing import Any

from promptflow_lite.errors import LLMError, error_codes
from promptflow_lite.masking import mask_secrets

RETRY_AFTER_CAP = 60.0
LIMITED_TRIES = 3  # consecutive 422 / connection-refused failures tolerated
NOTICE_INTERVAL = 5.0  # seconds between two retry notices about the same endpoint
KEY_REJECTED = frozenset({"AuthenticationError", "PermissionDeniedError"})  # the openai SDK's 401 / 403


class WrappedOpenAIError(LLMError):
    """The endpoint answered with an error that retrying cannot fix."""


class ExceedMaxRetryTimes(LLMError):
    """Retryable errors kept coming until the retry budget ran out."""


class UnsendableRequest(LLMError):
    """The request cannot be encoded (a value JSON cannot carry): it never reached the endpoint."""


class MalformedResponse(Exception):
    """The endpoint answered 2xx with a body that is not the expected JSON."""


def key_rejected(error: dict[str, Any] | None) -> bool:
    """Whether an error dict (of a line or node) says the endpoint refused the credentials (HTTP 401/403)."""
    return not KEY_REJECTED.isdisjoint(error_codes(error))


def max_retries() -> int:
    return int(os.environ.get("PFL_LLM_MAX_RETRIES") or 10)


def max_retry_seconds() -> float:
    return float(os.environ.get("PFL_LLM_MAX_RETRY_SECONDS") or 120)


def status_of(exc: BaseException) -> int | None:
    return getattr(exc, "status_code", None)


def _is_connect_failure(exc: BaseException) -> bool:
    cause = exc.__cause__
    return cause is not None and type(cause).__name__ in ("ConnectError", "ConnectTimeout")


def is_retryable(exc: BaseException) -> bool:
    import openai

    if isinstance(exc, MalformedResponse):
        return True
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    status = status_of(exc)
    if status is None or not isinstance(exc, openai.APIStatusError):
        return False
    if status == 429:
        return _error_code(exc) != "insufficient_quota"
    return status >= 500 or status == 422


def _error_code(exc: BaseException) -> str | None:
    return getattr(exc, "code", None) or getattr(exc, "type", None)


def retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms`` or ``Retry-After``), if any."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return float(millis) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


class _Limited:
    """Stop after LIMITED_TRIES consecutive 422s or refused connections."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, state: Any) -> bool:
        exc = state.outcome.exception()
        self.count = self.count + 1 if (status_of(exc) == 422 or _is_connect_failure(exc)) else 0
        return self.count >= LIMITED_TRIES


def _wait(state: Any) -> float:
    from tenacity import wait_exponential_jitter

    asked = retry_after(state.outcome.exception())
    if asked is not None:
        return min(asked, RETRY_AFTER_CAP)
    start = float(os.environ.get("PFL_LLM_BACKOFF_SECONDS") or 0.5)
    return wait_exponential_jitter(multiplier=start, max=20, jitter=start)(state)


def retry_options(where: str = "the endpoint", model: str = "", started: float | None = None) -> dict[str, Any]:
    """Keyword arguments for ``tenacity.Retrying`` / ``AsyncRetrying`` (fresh per request); ``where``
    and ``model`` name the request in retry notices; ``started`` (``time.monotonic()``) is when its first
    attempt began, if before the retrying did (see :func:`~._llm.invoke_async`): the time budget counts from it."""
    from tenacity import retry_if_exception, stop_after_attempt, stop_any

    return {
        "retry": retry_if_exception(is_retryable),
        "wait": _wait,
        "stop": stop_any(stop_after_attempt(max_retries() + 1), _OutOfTime(max_retry_seconds(), started), _Limited()),
        "before_sleep": _RetryNotice(where, model, started),
        "reraise": False,
    }


def _seconds_since_start(state: Any, started: float | None) -> float:
    return time.monotonic() - started if started is not None else (state.seconds_since_start or 0.0)


class _OutOfTime:
    """tenacity's ``stop_before_delay``, counted from ``started`` when given: stop when the next attempt
    would begin ``seconds`` or more after the first."""

    def __init__(self, seconds: float, started: float | None):
        self.seconds, self.started = seconds, started

    def __call__(self, state: Any) -> bool:
        return _seconds_since_start(state, self.started) + state.upcoming_sleep >= self.seconds


def notice_after_seconds() -> float:
    return float(os.environ.get("PFL_LLM_RETRY_NOTICE_SECONDS") or 5)


class _RetryNotice:
    """tenacity's ``before_sleep``: say on stderr that a request has been retrying for a while."""

    _last: dict[str, float] = {}  # endpoint -> when it was last announced (shared: many lines retry at once)
    _lock = threading.Lock()

    def __init__(self, where: str, model: str, started: float | None = None):
        self.where, self.model, self.started = where, model, started

    def __call__(self, state: Any) -> None:
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        if _seconds_since_start(state, self.started) + wait < notice_after_seconds():
            return
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(self.where, -NOTICE_INTERVAL) < NOTICE_INTERVAL:
                return
            self._last[self.where] = now
        model = f" (model '{self.model}')" if self.model else ""
        print(f"LLM request to {self.where}{model}: attempt {state.attempt_number} failed "
              f"({describe(state.outcome.exception())}); retrying in {wait:.1f} s.", file=sys.stderr, flush=True)


def describe(exc: BaseException) -> str:
    """What the server answered, in one line."""
    status = status_of(exc)
    if status is None:
        if isinstance(exc, MalformedResponse):
            return f"malformed response: {_short(exc)}"
        return f"{type(exc).__name__}: {_short(exc)}"
    return f"HTTP {status} ({type(exc).__name__}): {_server_message(exc)}"


def _server_message(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        if inner.get("message"):
            return _short(inner["message"])
    return _short(getattr(exc, "message", None) or exc)


def _short(value: Any, limit: int = 500) -> str:
    """The server's text, secrets masked (some echo the key), then cut."""
    text = mask_secrets(str(value))
    return text if len(text) <= limit else text[:limit] + "..."


def final_error(exc: BaseException, *, where: str, model: str, connection: str, attempts: int,
                started: float) -> LLMError:
    """The user-facing error for a request that failed for good."""
    error = _final_error(exc, where=where, model=model, connection=connection, attempts=attempts, started=started)
    error.inner = exc  # error dicts name the SDK's error class too (AuthenticationError...)
    return error


def _final_error(exc: BaseException, *, where: str, model: str, connection: str, attempts: int,
                 started: float) -> LLMError:
    status = status_of(exc)
    answer = describe(exc)
    if is_retryable(exc):
        elapsed = time.monotonic() - started
        hint = ("the endpoint kept failing; try again later, lower the concurrency, or raise "
                "PFL_LLM_MAX_RETRY_SECONDS / PFL_LLM_MAX_RETRIES.")
        if _is_connect_failure(exc):
            hint = f"check the endpoint URL of {connection} and that the server is running."
        return ExceedMaxRetryTimes(
            f"LLM request to {where} (model '{model}') gave up after {attempts} attempts over {elapsed:.1f} s: "
            f"last error {answer}", hint=hint)
    hints = {
        401: f"check the api_key of {connection}.",
        403: f"check that the api_key of {connection} may use model '{model}' (and any network rules).",
        404: f"check the deployment_name/model '{model}' and the endpoint URL of {connection}.",
        429: "the account has no quota left; check the plan and billing of the account.",
    }
    hint = hints.get(status or 0)
    if hint is None and status is not None and 400 <= status < 500:
        hint = "check the request parameters (node inputs) named in the server's message."
    if hint is None:
        hint = f"check the endpoint URL of {connection} and that the server is reachable."
    return WrappedOpenAIError(f"LLM request to {where} (model '{model}') failed: {answer}", hint=hint)
