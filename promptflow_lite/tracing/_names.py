"""Attribute names shared by the span writers and the store's readers (no heavy imports)."""

from __future__ import annotations

import os
from typing import Any, Mapping

PROMPT = "__computed__.cumulative_token_count.prompt"
COMPLETION = "__computed__.cumulative_token_count.completion"
TOTAL = "__computed__.cumulative_token_count.total"
CUMULATIVE = (PROMPT, COMPLETION, TOTAL)
LINE_STATUS = "line_run.status"  # the engine's status of a line (Completed, Failed...)
NODE_STATUS = "node_run.status"
_USAGE_KEYS = (("prompt_tokens", PROMPT), ("completion_tokens", COMPLETION), ("total_tokens", TOTAL))


def cumulative_attributes(usage: Mapping[str, Any] | None) -> dict[str, int]:
    """``{prompt_tokens, completion_tokens, total_tokens}`` as cumulative span attributes."""
    if not usage:
        return {}
    counts = {attr: int(usage[key]) for key, attr in _USAGE_KEYS if isinstance(usage.get(key), (int, float))}
    if TOTAL not in counts and (PROMPT in counts or COMPLETION in counts):
        counts[TOTAL] = counts.get(PROMPT, 0) + counts.get(COMPLETION, 0)
    return counts


# projects (see .projects): kept here so that tracing starts without the OpenTelemetry SDK
COLLECTION = "collection"  # span and resource attribute
PROJECT_NAME = "openinference.project.name"  # Phoenix's project: a resource attribute
SERVICE_NAME = "service.name"
DEFAULT_PROJECT = "promptflow_lite"


def user_named(resource_attributes: Mapping[str, Any]) -> set[str]:
    """Which of the project-naming resource attributes the user set (environment or code)."""
    named = {key for key in (PROJECT_NAME, SERVICE_NAME) if key in resource_attributes}
    if os.environ.get("OTEL_SERVICE_NAME", "").strip():
        named.add(SERVICE_NAME)
    for pair in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
        key = pair.partition("=")[0].strip()
        if key in (PROJECT_NAME, SERVICE_NAME):
            named.add(key)
    return named
