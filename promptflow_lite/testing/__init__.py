"""A scripted OpenAI-compatible server for tests, benchmarks and the offline quickstart.

Real HTTP on 127.0.0.1 with deterministic answers (:class:`Rule`), deterministic embeddings,
streaming, latency and fault injection::

    from promptflow_lite.testing import ScriptedServer, Rule

    with ScriptedServer(rules=[Rule(r"capital of (\\w+)", r"I do not know the capital of \\1.")]) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x")
"""

from __future__ import annotations

from promptflow_lite._lazy import lazy_exports

# loaded on first use, so that `testing._offline` (checked by every flow load and server) does not
# bring the server and its rules into processes that never use them
_EXPORTS = {"FAULT_KINDS": "._app", "ScriptedApp": "._app", "embed": "._embeddings", "Rule": "._rules",
            "ToolCall": "._rules", "load_rules": "._rules", "scripted_answer": "._rules", "ScriptedServer": "._server"}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
