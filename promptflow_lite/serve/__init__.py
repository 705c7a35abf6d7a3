"""A flow as an HTTP endpoint (promptflow's ``pf flow serve``): ``/score``, ``/swagger.json``, ``/health``,
``/version``, ``/feedback``, with server-sent-event streaming. Needs the ``serve`` extra (Starlette, uvicorn, prometheus-client)."""

from promptflow_lite.serve.app import app_for_flow, app_for_flows, create_app
from promptflow_lite.serve.settings import ServeSettings, api_key_from_env
from promptflow_lite.serve.server import ServerThread, serve_flow

__all__ = ["create_app", "app_for_flow", "app_for_flows", "serve_flow", "ServerThread", "ServeSettings", "api_key_from_env"]
