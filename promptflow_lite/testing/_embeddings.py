"""Deterministic embeddings with meaning: a hashed bag of lower-cased words, L2-normalised.

Texts sharing words point the same way, so cosine similarity ranks similar texts above
unrelated ones — enough for retrieval and similarity evaluators in tests, with no model.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import struct
from functools import lru_cache

WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


@lru_cache(maxsize=65536)
def _slot(word: str, dimensions: int) -> tuple[int, float]:
    digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
    number = int.from_bytes(digest, "little")
    return number % dimensions, 1.0 if (number >> 63) else -1.0


def embed(text: str, dimensions: int = 64) -> list[float]:
    """The unit vector of ``text`` in ``dimensions`` dimensions (an empty text gets a fixed vector)."""
    vector = [0.0] * dimensions
    for word in words(text) or [""]:
        index, sign = _slot(word, dimensions)
        vector[index] += sign
    norm = math.sqrt(sum(value * value for value in vector)) or 1.0
    return [value / norm for value in vector]


def encode_base64(vector: list[float]) -> str:
    """OpenAI's ``encoding_format="base64"``: little-endian float32 values, base64-encoded."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
