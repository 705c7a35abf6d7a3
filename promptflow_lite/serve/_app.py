"""``create_app(source)``: a flow as an ASGI (FastAPI) app, loaded once, serving requests concurrently.

Every request runs ``await flow.arun(...)`` on the server's event loop (sync tools go to the
engine's thread pool), so one process overlaps many slow model calls without a thread per
request or a lock. Routes are plain Starlette endpoints: no per-request validation layer
between the socket and the flow.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from promptflow_lite._version import __version__
from promptflow_lite.serve._flow_info import FlowInfo
from promptflow_lite.serve._requests import (
    BadRequest,
    NotAcceptable,
    accepted_types,
    check_acceptable,
    read_inputs,
    request_id,
)
from promptflow_lite.serve._responses import (
    OutputSelection,
    encode,
    error_body,
    error_status,
    exception_body,
    is_stream,
    joined,
    sse_events,
)
from promptflow_lite.tracing._setup import continue_trace, tracing_enabled

INCLUDED_FIELDS_ENV = "PROMPTFLOW_RESPONSE_INCLUDED_FIELDS"
_JSON = "application/json"
_log = logging.getLogger(__name__)


def create_app(source: str | Path, *, variant: str | None = None, environment_variables: dict[str, Any] | None = None,
               init: dict[str, Any] | None = None, connections: Any = None, tracing: bool = True):
    """Load the flow at ``source`` once and return a FastAPI app serving it (FLOW_FORMAT §7.2).

    ``connections`` is a provider or ``{name: Connection}``; by default the local store and
    ``PROMPTFLOW_CONNECTIONS``, with promptflow serving's ``<CONN_NAME>_<KEY>`` environment
    overrides. ``tracing`` switches tracing on while the app runs (unless ``PFL_TRACING=off``);
    a W3C ``traceparent`` header makes a request's spans part of the caller's trace.
    """
    from promptflow_lite.engine._load import load_flow

    flow = load_flow(source, variant=variant, environment_variables=environment_variables, init=init,
                     connections=serving_connections() if connections is None else connections)
    return app_for_flow(flow, tracing=tracing)


def app_for_flow(flow: Any, *, tracing: bool = True):
    """The app serving an already loaded ``flow``."""
    from fastapi import FastAPI

    endpoint = FlowEndpoint(flow)
    app = FastAPI(title=f"Promptflow[{endpoint.info.name}] API", version=__version__, docs_url=None,
                  redoc_url=None, openapi_url=None, lifespan=_lifespan(endpoint.info.name, tracing),
                  **_without_fastapi_telemetry(FastAPI))
    app.state.flow, app.state.endpoint = flow, endpoint
    app.add_route("/score", endpoint.score, methods=["POST"])
    app.add_route("/feedback", endpoint.feedback, methods=["POST"])
    app.add_route("/swagger.json", endpoint.swagger, methods=["GET"])
    app.add_route("/health", endpoint.health, methods=["GET"])
    app.add_route("/version", endpoint.version, methods=["GET"])
    return app


def _without_fastapi_telemetry(fastapi_class: type) -> dict[str, Any]:
    """Newer FastAPI versions trace requests themselves; our spans are the flow's (and cost less)."""
    import inspect

    if "telemetry" not in inspect.signature(fastapi_class).parameters:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False, "operation_spans": False,
                          "auto_configure": False}}


def serving_connections():
    """The local store and ``PROMPTFLOW_CONNECTIONS`` with ``<CONN_NAME>_<KEY>`` env overrides
    (answered by the scripted server in ``pfl --scripted-llm`` offline mode)."""
    from promptflow_lite.connections._provider import default_provider
    from promptflow_lite.testing._offline import ScriptedConnections, scripted_rules

    provider = default_provider(env_overrides=True)
    rules = scripted_rules()
    return ScriptedConnections(rules, provider) if rules else provider


class FlowEndpoint:
    """The request handlers of one loaded flow; everything per-flow is computed here, once."""

    def __init__(self, flow: Any):
        from promptflow_lite.serve._swagger import build_swagger

        self.flow = flow
        self.info = FlowInfo.of(flow)
        included = _included_fields()
        self.selection = OutputSelection(self.info.evaluation_only, included)
        hidden = [n for n in self.info.outputs if n not in included] if included is not None \
            else self.info.evaluation_only
        self._swagger = encode(build_swagger(self.info, hidden))
        self._health = encode({"status": "Healthy", "version": __version__})

    async def score(self, request: Request) -> Response:
        headers = request.headers
        rid = request_id(headers) or _new_request_id()
        try:
            stream = check_acceptable(accepted_types(headers.get("accept")))
            inputs = read_inputs(await request.body(), self.info.inputs, self.info.chat_history)
            result = await self._run(inputs, stream, headers, rid)
            if not result.ok:
                return _json(error_body(result.error), error_status(result.error), rid)
            outputs = self.selection.apply(result.outputs or {})
            if stream:
                return StreamingResponse(sse_events(outputs), media_type="text/event-stream",
                                         headers={"x-request-id": rid, "cache-control": "no-cache"})
            if any(is_stream(v) for v in outputs.values()):
                outputs = await joined(dict(outputs))
            if result.bare_output:  # a flex entry returned a non-dict: answer the bare value (§7.3)
                return _json(outputs.get("output"), 200, rid)
            return _json(outputs, 200, rid)
        except NotAcceptable as exc:
            return _json(exception_body(exc), 406, rid)
        except BadRequest as exc:
            return _json(exception_body(exc), 400, rid)
        except Exception as exc:  # a bug of ours or an unserializable output: still a JSON answer
            _log.exception("Request %s failed", rid)
            return _json(exception_body(exc), 500, rid)

    async def _run(self, inputs: dict[str, Any], stream: bool, headers: Any, rid: str):
        attributes = {"served": True, "request_id": rid}
        if "traceparent" in headers and tracing_enabled():
            with continue_trace(headers):
                return await self.flow.arun(inputs, stream=stream, attributes=attributes)
        return await self.flow.arun(inputs, stream=stream, attributes=attributes)

    async def feedback(self, request: Request) -> Response:
        from promptflow_lite.serve._feedback import record_feedback

        body = (await request.body()).decode("utf-8", "replace")
        flatten = request.query_params.get("flatten", "false").lower() == "true"
        record_feedback(body, request.headers, flatten=flatten)
        return _json({"status": "Feedback received."}, 200, request_id(request.headers))

    async def swagger(self, request: Request) -> Response:
        return Response(self._swagger, media_type=_JSON)

    async def health(self, request: Request) -> Response:
        return Response(self._health, media_type=_JSON)

    async def version(self, request: Request) -> Response:
        build_info = os.environ.get("BUILD_INFO", "")
        try:
            version = json.loads(build_info)["build_number"]
        except (ValueError, TypeError, KeyError):
            version = __version__
        return _json({"status": "Healthy", "build_info": build_info, "version": version}, 200, None)


_ids = itertools.count(1)
_ID_PREFIX = os.urandom(8).hex()


def _new_request_id() -> str:
    """A unique id for a request that brought none (random per process, then a counter: no syscall)."""
    return f"{_ID_PREFIX}{next(_ids):016x}"


def _json(data: Any, status: int, rid: str | None) -> Response:
    return Response(encode(data), status_code=status, media_type=_JSON,
                    headers={"x-request-id": rid} if rid else None)


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


def _lifespan(collection: str, tracing: bool):
    @asynccontextmanager
    async def lifespan(app):
        from promptflow_lite.tracing._setup import disable_tracing, enable_tracing, flush_tracing

        started = tracing and not tracing_enabled() and enable_tracing(collection)
        try:
            yield
        finally:
            if "promptflow_lite.tools._llm_client" in sys.modules:  # pooled on this loop: they die with it
                await sys.modules["promptflow_lite.tools._llm_client"].close_async_clients()
            if started:
                flush_tracing(10)
                disable_tracing()

    return lifespan
