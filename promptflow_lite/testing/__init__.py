"""A scripted OpenAI-compatible server for tests, benchmarks and the offline quickstart.

Real HTTP on 127.0.0.1 with deterministic answers (:class:`Rule`), deterministic embeddings,
streaming, latency and fault injection::

    from promptflow_lite.testing import ScriptedServer, Rule

    with ScriptedServer(rules=[Rule(r"capital of (\\w+)", r"I do not know the capital of \\1.")]) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x")
"""

from __future__ import annotations

from promptflow_lite.testing._app import FAULT_KINDS, ScriptedApp
from promptflow_lite.testing._embeddings import embed
from promptflow_lite.testing._rules import Rule, ToolCall, load_rules, scripted_answer
from promptflow_lite.testing._server import ScriptedServer

__all__ = ["FAULT_KINDS", "Rule", "ScriptedApp", "ScriptedServer", "ToolCall", "embed", "load_rules",
           "scripted_answer"]
