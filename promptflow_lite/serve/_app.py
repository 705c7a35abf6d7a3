"""``create_app(source)``: one or several flows as an ASGI (Starlette) app, loaded once, serving requests concurrently.

Every request runs ``await flow.arun(...)`` on the server's event loop (sync tools go to the
engine's thread pool), so one process overlaps many slow model calls without a thread per
request. One flow answers on promptflow's paths (``/score``, ``/swagger.json``, ``/feedback``);
several answer on ``/flows/<name>/...``. ``/health``, ``/version``, ``/metrics`` and the
try-it page ``/`` are the server's.
"""

from __future__ import annotations

import json
import os
import re
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Sequence

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from promptflow_lite._version import __version__
from promptflow_lite.errors import UserError
from promptflow_lite.serve._endpoint import JSON, FlowEndpoint
from promptflow_lite.serve._limits import LineGate
from promptflow_lite.serve._responses import encode
from promptflow_lite.serve._settings import ServeSettings
from promptflow_lite.tracing._setup import tracing_enabled



def create_app(source: str | Path | Sequence[str | Path], *, variant: str | None = None,
               environment_variables: dict[str, Any] | None = None, init: dict[str, Any] | None = None,
               connections: Any = None, tracing: bool = True, trace_store: bool = False,
               settings: ServeSettings | None = None):
    """Load the flow(s) at ``source`` (a path, or a list of paths) once and return the app serving them.

    ``connections`` is a provider or ``{name: Connection}``; by default the local store and
    ``PROMPTFLOW_CONNECTIONS``, with promptflow serving's ``<CONN_NAME>_<KEY>`` environment
    overrides. ``tracing`` traces requests while the app runs (unless ``PFL_TRACING=off``): over
    OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, and into the local trace store only with
    ``trace_store=True`` (as promptflow's server, a served flow keeps no local trace store by
    default: its writer process and spans in flight would double the server's memory). A W3C
    ``traceparent`` header makes a request's spans part of the caller's trace.
    ``settings``: API key and limits (:class:`ServeSettings`).
    """
    from promptflow_lite.engine._load import load_flow

    _probe_platform_while_small()
    sources = [source] if isinstance(source, (str, Path)) else list(source)
    provider = serving_connections() if connections is None else connections
    flows = [load_flow(s, variant=variant, environment_variables=environment_variables, init=init,
                       connections=provider) for s in sources]
    return app_for_flows(flows, tracing=tracing, trace_store=trace_store, settings=settings)


def app_for_flow(flow: Any, *, tracing: bool = True, trace_store: bool = False,
                 settings: ServeSettings | None = None):
    """The app serving an already loaded ``flow``."""
    return app_for_flows([flow], tracing=tracing, trace_store=trace_store, settings=settings)


def app_for_flows(flows: Sequence[Any], *, tracing: bool = True, trace_store: bool = False,
                  settings: ServeSettings | None = None):
    """The app serving already loaded ``flows`` (one: promptflow's paths; several: ``/flows/<name>/``)."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware

    from promptflow_lite.serve._metrics import ServeMetrics

    settings = settings or ServeSettings()
    gate = LineGate(settings.max_concurrency, settings.waiting_room, settings.queue_seconds)
    metrics = ServeMetrics()
    endpoints = [FlowEndpoint(flow, settings, gate, metrics) for flow in flows]
    if len(endpoints) > 1:
        _name_uniquely(endpoints)
    server = ServerRoutes(endpoints, metrics)
    middleware = []
    if settings.api_key:
        from promptflow_lite.serve._auth import BearerAuth

        middleware.append(Middleware(BearerAuth, api_key=settings.api_key, page=server.page_for_browser,
                                     refused=server.count_refusal))
        from promptflow_lite.masking import register_secret

        register_secret(settings.api_key)  # never in a span, a log or an answer, whatever a flow does with it
    collection = endpoints[0].info.name if len(endpoints) == 1 else None
    app = Starlette(routes=server.routes(), middleware=middleware, lifespan=_lifespan(collection, tracing, trace_store))
    app.state.flows, app.state.flow, app.state.endpoints = list(flows), flows[0], endpoints
    app.state.settings, app.state.metrics = settings, metrics
    return app


def _probe_platform_while_small() -> None:
    """The openai SDK's first call asks ``platform.platform()`` for its headers, which runs
    ``uname -p`` in a child process - a copy of the whole server for a moment. Ask now, before
    the flow and the SDK are loaded: the answer is cached for the life of the process."""
    import platform

    platform.uname().processor


def serving_connections():
    """``PROMPTFLOW_CONNECTIONS`` and the local store (read in a child process: :mod:`._store_reader`)
    with ``<CONN_NAME>_<KEY>`` env overrides (answered by the scripted server in ``pfl --scripted-llm``
    offline mode)."""
    from promptflow_lite.connections._provider import default_provider
    from promptflow_lite.serve._store_reader import StoreReadAside
    from promptflow_lite.testing._offline import ScriptedConnections, scripted_rules

    provider = default_provider(env_overrides=True, store=StoreReadAside())
    rules = scripted_rules()
    return ScriptedConnections(rules, provider) if rules else provider


def _name_uniquely(endpoints: list[FlowEndpoint]) -> None:
    """URL-safe names for ``/flows/<name>/``; two flows of one name are an error."""
    seen: dict[str, Any] = {}
    for endpoint in endpoints:
        endpoint.name = re.sub(r"[^A-Za-z0-9_.-]+", "-", endpoint.info.name).strip("-.") or "flow"
        if endpoint.name in seen:
            raise UserError(f"Two flows are named '{endpoint.name}': {seen[endpoint.name]} and {endpoint.info.folder}.",
                            hint="serve flows with distinct names (the folder name, or the prompty's name).")
        seen[endpoint.name] = endpoint.info.folder


class ServerRoutes:
    """The routes of a server: each flow's, and the server's own (health, version, metrics, page)."""

    def __init__(self, endpoints: list[FlowEndpoint], metrics: Any):
        self.endpoints, self.metrics = endpoints, metrics
        self.single = len(endpoints) == 1
        self._health = encode({"status": "Healthy", "version": __version__})

    def routes(self) -> list:
        from starlette.routing import Route

        routes = [Route("/health", self.health, methods=["GET"]), Route("/version", self.version, methods=["GET"]),
                  Route("/metrics", self.metrics_text, methods=["GET"]), Route("/", self.page, methods=["GET"])]
        if self.single:
            endpoint = self.endpoints[0]
            return routes + [Route("/score", endpoint.score, methods=["POST"]),
                             Route("/feedback", endpoint.feedback, methods=["POST"]),
                             Route("/swagger.json", endpoint.swagger, methods=["GET"])]
        routes.append(Route("/swagger.json", self.swagger, methods=["GET"]))
        for endpoint in self.endpoints:
            base = f"/flows/{endpoint.name}"
            routes += [Route(f"{base}/score", endpoint.score, methods=["POST"]),
                       Route(f"{base}/feedback", endpoint.feedback, methods=["POST"]),
                       Route(f"{base}/swagger.json", endpoint.swagger, methods=["GET"]),
                       Route(f"{base}/", self.page, methods=["GET"]),
                       Route(base, self.to_page, methods=["GET"])]
        return routes

    async def health(self, request: Request) -> Response:
        return Response(self._health, media_type=JSON)

    async def version(self, request: Request) -> Response:
        build_info = os.environ.get("BUILD_INFO", "")
        try:
            version = json.loads(build_info)["build_number"]
        except (ValueError, TypeError, KeyError):
            version = __version__
        return Response(encode({"status": "Healthy", "build_info": build_info, "version": version}), media_type=JSON)

    async def metrics_text(self, request: Request) -> Response:
        body, content_type = self.metrics.exposition()
        return Response(body, headers={"content-type": content_type})

    async def swagger(self, request: Request) -> Response:
        """Several flows: one OpenAPI document with every flow's paths under ``/flows/<name>/``."""
        paths: dict[str, Any] = {}
        for endpoint in self.endpoints:
            for path, spec in endpoint.swagger_doc["paths"].items():
                paths[f"/flows/{endpoint.name}{path}"] = spec
        first = self.endpoints[0].swagger_doc
        return Response(encode({"openapi": "3.0.0", "info": {
            "title": "promptflow_lite API", "version": "1.0.0", "x-flows": [e.name for e in self.endpoints]},
            "components": first["components"], "security": first["security"], "paths": paths}), media_type=JSON)

    async def page(self, request: Request) -> Response:
        from promptflow_lite.serve._page import page_html

        return Response(page_html(), media_type="text/html; charset=utf-8", headers={"cache-control": "no-store"})

    async def to_page(self, request: Request) -> Response:
        return RedirectResponse(request.url.path + "/")

    def count_refusal(self, scope: dict) -> None:
        """A scoring request refused for its key counts as a 401 of its flow."""
        path = scope["path"]
        for endpoint in self.endpoints:
            if path == ("/score" if self.single else f"/flows/{endpoint.name}/score"):
                self.metrics.answered(endpoint.name, 401, 0.0)

    def page_for_browser(self, scope: dict) -> bytes | None:
        """The try-it page for a browser that navigates to a page without the key (it asks for it)."""
        if scope["method"] != "GET" or not _is_page(scope["path"]):
            return None
        accept = next((v for k, v in scope["headers"] if k == b"accept"), b"")
        if b"text/html" not in accept:
            return None
        from promptflow_lite.serve._page import page_html

        return page_html()


def _is_page(path: str) -> bool:
    return path == "/" or (path.startswith("/flows/") and path.endswith("/") and path.count("/") == 3)


def _lifespan(collection: str | None, tracing: bool, trace_store: bool):
    @asynccontextmanager
    async def lifespan(app):
        from promptflow_lite.tracing._setup import disable_tracing, enable_tracing, flush_tracing

        started = tracing and not tracing_enabled() and enable_tracing(collection, store=trace_store)
        try:
            yield
        finally:
            if "promptflow_lite.tools._llm_client" in sys.modules:  # pooled on this loop: they die with it
                await sys.modules["promptflow_lite.tools._llm_client"].close_async_clients()
            if started:
                flush_tracing(10)
                disable_tracing()

    return lifespan
