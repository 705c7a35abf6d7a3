"""A flow as an HTTP endpoint (promptflow's ``pf flow serve``): ``/score``, ``/swagger.json``, ``/health``,
``/version``, ``/feedback``, with server-sent-event streaming. Needs the ``serve`` extra (FastAPI, uvicorn),
except ``ScoreClient``, a stdlib client for a served flow."""

from __future__ import annotations

from promptflow_lite._lazy import lazy_exports

_EXPORTS = {
    "create_app": "._app", "app_for_flow": "._app", "serve_flow": "._server", "ServerThread": "._server",
    "ScoreClient": "._client", "ScoreError": "._client",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
