"""The request handlers of one served flow: ``score`` (JSON or server-sent events), ``feedback``, ``swagger``.

A scoring request is checked in order — accepted media types (406), body size (413), content type
(415), JSON and inputs (400) — before it may take a line slot (503 when none is free); its line
is cancelled when it passes ``--timeout`` (504) or when the client disconnects.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from promptflow_lite.serve._errors import ClientGone, status_of
from promptflow_lite.serve._flow_info import FlowInfo
from promptflow_lite.serve._limits import LineGate, check_media_type, read_body
from promptflow_lite.serve._requests import accepted_types, check_acceptable, read_inputs, request_id
from promptflow_lite.serve._responses import (
    OutputSelection, encode, error_body, error_status, exception_body, is_stream, joined, sse_events)
from promptflow_lite.serve._settings import ServeSettings
from promptflow_lite.tools._multimedia import has_images
from promptflow_lite.tracing._setup import continue_trace, tracing_enabled

INCLUDED_FIELDS_ENV = "PROMPTFLOW_RESPONSE_INCLUDED_FIELDS"
CLIENT_CLOSED = 499  # nginx's "client closed request": what the metrics count for a disconnected client
JSON = "application/json"
_log = logging.getLogger(__name__)


class FlowEndpoint:
    """One loaded flow's handlers; everything per flow is computed here, once. ``gate`` and
    ``metrics`` are shared by the flows of a server."""

    def __init__(self, flow: Any, settings: ServeSettings, gate: LineGate, metrics: Any, name: str | None = None):
        from promptflow_lite.serve._swagger import build_swagger

        self.flow, self.settings, self.gate, self.metrics = flow, settings, gate, metrics
        self.info = FlowInfo.of(flow)
        self.name = name or self.info.name
        included = _included_fields()
        self.selection = OutputSelection(self.info.evaluation_only, included)
        hidden = [n for n in self.info.outputs if n not in included] if included is not None \
            else self.info.evaluation_only
        self.swagger_doc = build_swagger(self.info, hidden)
        self._swagger = encode(self.swagger_doc)

    async def score(self, request: Request) -> Response:
        started = time.monotonic()
        rid = request_id(request.headers) or _new_request_id()
        response = await self._score(request, rid, started)
        if not isinstance(response, StreamingResponse):  # a stream counts when it ends
            self.metrics.answered(self.name, response.status_code, time.monotonic() - started)
        return response

    async def _score(self, request: Request, rid: str, started: float) -> Response:
        headers = request.headers
        holding = False
        try:
            stream = check_acceptable(accepted_types(headers.get("accept")))
            body = await read_body(request.receive, headers, self.settings.max_body_bytes)
            check_media_type(headers.get("content-type"), body)
            inputs = read_inputs(body, self.info.inputs, self.info.chat_history, self.settings.max_json_depth)
            await self.gate.acquire()
            holding = True
            line_started = time.monotonic()
            with self.metrics.line(self.name):
                result = await self._run_watched(request, inputs, stream, rid)
                self.metrics.line_ended(self.name, result)
            if not result.ok:
                return _json(error_body(result.error), error_status(result.error), rid)
            outputs = self.selection.apply(result.outputs or {})
            if has_images(outputs):  # images travel inline, as promptflow's serving sends them
                outputs = self.flow.media.to_base64(outputs)
            if stream:
                holding = False  # the stream gives the slot back when it ends
                return StreamingResponse(self._events(outputs, started, line_started), media_type="text/event-stream",
                                         headers={"x-request-id": rid, "cache-control": "no-cache"})
            if any(is_stream(v) for v in outputs.values()):
                outputs = await joined(dict(outputs))
            if result.bare_output:  # a flex entry returned a non-dict: answer the bare value (§7.3)
                return _json(outputs.get("output"), 200, rid)
            return _json(outputs, 200, rid)
        except ClientGone:
            return Response(status_code=CLIENT_CLOSED)
        except Exception as exc:  # ours (with a status) or a bug / an unserializable output: still a JSON answer
            status = status_of(exc)
            if status >= 500 and status not in (503, 504):
                _log.exception("Request %s failed", rid)
            extra = {"retry-after": str(exc.retry_after)} if hasattr(exc, "retry_after") else None
            return _json(exception_body(exc), status, rid, extra)
        finally:
            if holding:
                self.gate.release(line_started)

    async def _run_watched(self, request: Request, inputs: dict[str, Any], stream: bool, rid: str) -> Any:
        """The line's result; the line is cancelled if the client disconnects first (:class:`ClientGone`)."""
        line = asyncio.ensure_future(self._run(inputs, stream, request.headers, rid))
        gone = asyncio.ensure_future(_disconnected(request.receive))
        try:
            await asyncio.wait((line, gone), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not line.done():
                line.cancel()
                await asyncio.gather(line, return_exceptions=True)
            gone.cancel()
        if line.cancelled():
            raise ClientGone()
        return line.result()

    async def _run(self, inputs: dict[str, Any], stream: bool, headers: Any, rid: str):
        attributes = {"served": True, "request_id": rid}
        options = {"stream": stream, "attributes": attributes, "timeout": self.settings.timeout}
        if "traceparent" in headers and tracing_enabled():
            with continue_trace(headers):
                return await self.flow.arun(inputs, **options)
        return await self.flow.arun(inputs, **options)

    async def _events(self, outputs: dict[str, Any], started: float, line_started: float):
        """The event stream, holding the line slot (and counting as in flight) until it ends."""
        deadline = line_started + self.settings.timeout if self.settings.timeout else None
        with self.metrics.line(self.name):
            try:
                async for chunk in sse_events(outputs, deadline):
                    yield chunk
            finally:
                self.gate.release(line_started)
                self.metrics.answered(self.name, 200, time.monotonic() - started)

    async def feedback(self, request: Request) -> Response:
        from promptflow_lite.serve._feedback import record_feedback

        try:
            body = await read_body(request.receive, request.headers, self.settings.max_body_bytes)
        except Exception as exc:
            return _json(exception_body(exc), status_of(exc), request_id(request.headers))
        flatten = request.query_params.get("flatten", "false").lower() == "true"
        record_feedback(body.decode("utf-8", "replace"), request.headers, flatten=flatten)
        return _json({"status": "Feedback received."}, 200, request_id(request.headers))

    async def swagger(self, request: Request) -> Response:
        return Response(self._swagger, media_type=JSON)


async def _disconnected(receive: Any) -> None:
    """Returns once the client has gone (the body is read by then, so only ``http.disconnect`` comes)."""
    while (await receive())["type"] != "http.disconnect":
        pass


_ids = itertools.count(1)
_ID_PREFIX = os.urandom(8).hex()


def _new_request_id() -> str:
    """A unique id for a request that brought none (random per process, then a counter: no syscall)."""
    return f"{_ID_PREFIX}{next(_ids):016x}"


def _json(data: Any, status: int, rid: str | None, headers: dict[str, str] | None = None) -> Response:
    extra = {"x-request-id": rid} if rid else {}
    return Response(encode(data), status_code=status, media_type=JSON, headers={**extra, **(headers or {})} or None)


def _included_fields() -> frozenset[str] | None:
    """``PROMPTFLOW_RESPONSE_INCLUDED_FIELDS``: a JSON list of the outputs to return, if set."""
    raw = os.environ.get(INCLUDED_FIELDS_ENV, "").strip()
    if not raw:
        return None
    from promptflow_lite.errors import UserError

    try:
        fields = json.loads(raw)
    except ValueError:
        fields = None
    if not isinstance(fields, list):
        raise UserError(f"{INCLUDED_FIELDS_ENV} must be a JSON list of output names, got {raw!r}.",
                        hint=f'e.g. {INCLUDED_FIELDS_ENV}=\'["answer"]\', or unset it.')
    return frozenset(str(f) for f in fields)
