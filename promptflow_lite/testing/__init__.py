"""A scripted OpenAI-compatible server for tests, benchmarks and the offline quickstart.

Real HTTP on 127.0.0.1 with deterministic answers (:class:`Rule`), deterministic embeddings,
streaming, latency and fault injection::

    from promptflow_lite.testing import ScriptedServer, Rule

    with ScriptedServer(rules=[Rule(r"capital of (\\w+)", r"I do not know the capital of \\1.")]) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptflow_lite.testing.app import FAULT_KINDS, ScriptedApp
    from promptflow_lite.testing.embeddings import embed
    from promptflow_lite.testing.rules import Rule, ToolCall, load_rules, scripted_answer
    from promptflow_lite.testing.server import ScriptedServer

# name -> module: loaded on first use, so that `testing.offline` (checked by every flow load and
# server) does not bring the server and its rules into processes that never use them
_EXPORTS = {"FAULT_KINDS": "app", "ScriptedApp": "app", "embed": "embeddings", "Rule": "rules", "ToolCall": "rules",
            "load_rules": "rules", "scripted_answer": "rules", "ScriptedServer": "server"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
