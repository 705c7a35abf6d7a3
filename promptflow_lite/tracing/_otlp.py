"""Spans over OTLP/HTTP: cheap when the endpoint is down, readable by OpenInference viewers.

:class:`OtlpExporter` wraps OpenTelemetry's ``OTLPSpanExporter`` (configured by the usual
``OTEL_EXPORTER_OTLP_*`` variables). Before the first export it asks the endpoint with an empty
export request that may take at most a second (:data:`PROBE_SECONDS`), in the background from
the start. An endpoint that does not answer - refused, unknown host, or accepting and never
answering - costs no more: its spans are dropped at once, one warning says so, and the
exporter's own retry messages are kept quiet. A later export asks again after
:data:`RETRY_SECONDS` (a server may outlive a collector's restart). An endpoint that answered
gets the configured timeout (``OTEL_EXPORTER_OTLP_TIMEOUT``, 10 s by default).

Each span leaves with its project's resource (:mod:`.projects`) and its attributes in
OpenInference and GenAI terms too (:mod:`.openinference`).
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
import urllib.request
from typing import Any, Sequence
from urllib.parse import urlsplit

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from promptflow_lite.tracing._openinference import exported_attributes
from promptflow_lite.tracing._projects import ProjectResources

_log = logging.getLogger(__name__)
PROBE_SECONDS = 1.0
RETRY_SECONDS = 30.0
# where OTLPSpanExporter logs its retries and failures (kept quiet while we export)
_EXPORTER_LOGGERS = ("opentelemetry.exporter.otlp.proto.http.trace_exporter", "opentelemetry.exporter.otlp.common.http",
                     "opentelemetry.exporter.otlp.proto.http")
_HTTP_STATUS = re.compile(r"code: (\d+), reason: ([^,]+)")


def traces_url() -> str:
    """The OTLP traces endpoint configured in the environment, as the exporter resolves it."""
    explicit = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    return explicit or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip().rstrip("/") + "/v1/traces"


class OtlpExporter(SpanExporter):
    """Sends spans to the configured endpoint; ``resources`` gives each span its project's
    resource; ``stored`` says whether the spans are in the local store too (the warning says
    where they are); ``warn`` False keeps even that warning quiet (another process reports it)."""

    def __init__(self, resources: ProjectResources, stored: bool, warn: bool = True):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        self.resources, self.stored, self.warn = resources, stored, warn
        self._exporter = OTLPSpanExporter()
        self._reachable: bool | None = None  # None: not known yet
        self._probed = threading.Event()
        self._retry_at = 0.0
        self._warned = False
        self._lock = threading.Lock()
        self._reason = ""
        self._start_probe()

    # the endpoint's state ---------------------------------------------------------------------
    def _start_probe(self) -> None:
        self._probed.clear()
        threading.Thread(target=self._probe, name="pfl-otlp-probe", daemon=True).start()

    def _probe(self) -> None:
        """A connection attempt, then an empty export (a valid OTLP request) that gives up after a second."""
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        problem = _connection_problem()
        if problem is not None:  # refused, unknown host: no need to wait for the exporter's retries
            self._settle(False, problem)
            return
        try:
            probe = OTLPSpanExporter(timeout=PROBE_SECONDS)
            with _quiet() as records:
                ok = probe.export([]) is SpanExportResult.SUCCESS
            probe.shutdown()
        except Exception as exc:  # noqa: BLE001 - e.g. a malformed endpoint
            ok, records = False, [str(exc)]
        self._settle(ok, None if ok else _http_problem(records) or f"it did not answer within {PROBE_SECONDS:g} s")

    def _settle(self, ok: bool, reason: str | None) -> None:
        with self._lock:
            self._reachable = ok
            if not ok:
                self._retry_at = time.monotonic() + RETRY_SECONDS
                self._reason = reason or "it did not answer"
            self._probed.set()

    def _usable(self) -> bool:
        """Whether to send now: the endpoint answered, or answers when asked again (waits ≤ a second)."""
        with self._lock:
            if self._reachable is False and self._probed.is_set() and time.monotonic() >= self._retry_at:
                self._reachable = None
                self._start_probe()
        if not self._probed.wait(PROBE_SECONDS + 0.5):  # the probe should have given up by now
            self._settle(False, None)
        return bool(self._reachable)

    # SpanExporter ------------------------------------------------------------------------------
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not spans:
            return SpanExportResult.SUCCESS
        if not self._usable():
            self._dropped()
            return SpanExportResult.FAILURE
        with _quiet() as records:
            result = self._exporter.export([self._view(span) for span in spans])
        if result is not SpanExportResult.SUCCESS:
            self._settle(False, _http_problem(records) or "the export failed")
            self._dropped()
        return result

    def _view(self, span: ReadableSpan) -> ReadableSpan:
        """The span as sent: its project's resource, OpenInference attributes added."""
        attributes = span.attributes or {}
        try:
            exported = exported_attributes(attributes)
        except Exception:  # noqa: BLE001 - an odd value: send the span as it is
            _log.debug("no OpenInference attributes for span %s", span.name, exc_info=True)
            exported = dict(attributes)
        return ReadableSpan(name=span.name, context=span.context, parent=span.parent,
                            resource=self.resources.resource(attributes), attributes=exported,
                            events=span.events, links=span.links, kind=span.kind, status=span.status,
                            start_time=span.start_time, end_time=span.end_time,
                            instrumentation_scope=span.instrumentation_scope)

    def _dropped(self) -> None:
        """Say once that spans are not sent (unless another process says it)."""
        with self._lock:
            if self._warned or not self.warn:
                return
            self._warned = True
        where = "they are in the local store (pfl trace list)" if self.stored else "they are not stored anywhere"
        _log.warning("Traces are not sent to the OTLP endpoint %s: %s; %s.", traces_url(),
                     self._reason or "it did not answer", where)

    def shutdown(self) -> None:
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _connection_problem() -> str | None:
    """Why no connection to the endpoint can be made ("connection refused"), or None when one can
    (or when a proxy would make it: then only the request can tell)."""
    parts = urlsplit(traces_url())
    try:
        host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:  # a malformed port
        return str(exc)
    if not host:
        return "no host in the URL"
    if urllib.request.getproxies().get(parts.scheme) and not urllib.request.proxy_bypass(host):
        return None
    try:
        socket.create_connection((host, port), timeout=PROBE_SECONDS).close()
    except socket.gaierror:
        return f"unknown host {host}"
    except ConnectionRefusedError:
        return "connection refused"
    except OSError as exc:
        return f"no connection ({exc or 'timed out'})"
    return None


def _http_problem(records: list[str]) -> str | None:
    """The HTTP status a request failed with, from the OTLP exporter's messages (None: no answer)."""
    for record in records:
        status = _HTTP_STATUS.search(record)
        if status:
            return f"it answered HTTP {status.group(1)} {status.group(2).strip()}"
    return None


class _Capture(logging.Filter):
    """Holds back the OTLP exporter's log records made in a thread that is inside :func:`_quiet`."""

    def __init__(self) -> None:
        super().__init__()
        self.local = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        records = getattr(self.local, "records", None)
        if records is None:
            return True
        records.append(record.getMessage())
        return False


_capture = _Capture()
for _name in _EXPORTER_LOGGERS:
    logging.getLogger(_name).addFilter(_capture)


class _quiet:
    """``with _quiet() as records:`` - the OTLP exporter's messages of this thread go to ``records``."""

    def __enter__(self) -> list[str]:
        _capture.local.records = []
        return _capture.local.records

    def __exit__(self, *exc: Any) -> None:
        _capture.local.records = None
