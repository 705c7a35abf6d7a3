"""Cosine similarity of two embedding vectors: 1 = same direction, 0 = unrelated, -1 = opposite."""

import math

from promptflow.core import tool


@tool
def cosine(a: list, b: list) -> float:
    if len(a) != len(b):
        raise ValueError(f"The embeddings have different sizes ({len(a)} and {len(b)}); use one model for both.")
    norms = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    if norms == 0:
        return 0.0
    return sum(x * y for x, y in zip(a, b)) / norms
