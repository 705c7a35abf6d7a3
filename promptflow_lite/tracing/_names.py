"""Attribute names shared by the span writers and the store's readers (no heavy imports)."""

from __future__ import annotations

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
