"""Flows as HTTP endpoints (promptflow's ``pf flow serve``): ``/score`` (JSON or server-sent events),
``/swagger.json``, ``/feedback``, ``/health``, ``/version``, ``/metrics`` and a try-it page ``/``; an
API key and limits (:class:`ServeSettings`); several flows under ``/flows/<name>/``; ``build_flow``
for ``pfl flow build``. Needs the ``serve`` extra (Starlette, uvicorn, prometheus-client), except
``ScoreClient``, a stdlib client for a served flow."""

from __future__ import annotations

from promptflow_lite._lazy import lazy_exports

_EXPORTS = {
    "create_app": "._app", "app_for_flow": "._app", "app_for_flows": "._app", "serve_flow": "._server",
    "ServerThread": "._server", "ServeSettings": "._settings", "api_key_from_env": "._settings",
    "ScoreClient": "._client", "ScoreError": "._client",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
