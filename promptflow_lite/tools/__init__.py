"""What a node *does*: ``@tool``, python tool files, jinja prompts, LLM calls (with retries and a
response cache) and the records of model calls that tracing and token counts listen to."""

from __future__ import annotations

from promptflow_lite._lazy import lazy_exports

_EXPORTS = {
    "tool": "._decorator", "ToolProvider": "._decorator",
    "log_metric": "._metrics", "log_flow_metric": "._metrics",
    "Image": "._multimedia",
    "chat": "._llm", "completion": "._llm", "embedding": "._llm",
    "chat_sync": "._llm", "completion_sync": "._llm", "embedding_sync": "._llm",
    "LLMCache": "._llm_cache", "use_cache": "._llm_cache",
    "ModelCall": "._observe", "model_call": "._observe", "add_listener": "._observe", "remove_listener": "._observe",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
