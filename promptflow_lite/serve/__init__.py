"""A flow as an HTTP endpoint (promptflow's ``pf flow serve``): ``/score``, ``/swagger.json``, ``/health``,
``/version``, ``/feedback``, with server-sent-event streaming. Needs the ``serve`` extra (FastAPI, uvicorn)."""

from promptflow_lite.serve.app import app_for_flow, create_app
from promptflow_lite.serve.server import ServerThread, serve_flow

__all__ = ["create_app", "app_for_flow", "serve_flow", "ServerThread"]
