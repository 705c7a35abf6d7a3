"""Flows as HTTP endpoints (promptflow's ``pf flow serve``): ``/score`` (JSON or server-sent events),
``/swagger.json``, ``/feedback``, ``/health``, ``/version``, ``/metrics`` and a try-it page ``/``; an
API key and limits (:class:`ServeSettings`); several flows under ``/flows/<name>/``; ``build_flow``
for ``pfl flow build``. Needs the ``serve`` extra (Starlette, uvicorn, prometheus-client)."""

from promptflow_lite.serve.app import app_for_flow, app_for_flows, create_app
from promptflow_lite.serve.settings import ServeSettings, api_key_from_env
from promptflow_lite.serve.server import ServerThread, serve_flow

__all__ = ["create_app", "app_for_flow", "app_for_flows", "serve_flow", "ServerThread", "ServeSettings",
           "api_key_from_env"]
