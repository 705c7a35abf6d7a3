"""Values as span attributes: JSON strings, secrets removed, large values cut with a marker.

Span attributes hold ``inputs`` / ``output`` as JSON text (promptflow's format). Rendering is
cheap for the common case (strings and small dicts) and safe for the rest:

- connection objects become ``"<OpenAIConnection name=x>"``; their secret values are registered
  with :mod:`promptflow_lite.masking`, whose ``mask_secrets`` every rendered text goes through
  (known secrets, ``Bearer <token>``... become ``***``);
- dict entries whose key names a credential (``api_key``, ``Authorization``, ``password``...)
  are replaced by ``"***"``;
- strings longer than ``PFL_TRACE_MAX_CHARS`` (default 10 000) and lists longer than 1 000
  items are cut and end with a visible ``[truncated: ...]`` marker, never dropped silently.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
import os
import re
from typing import Any

from promptflow_lite.connections._types import Connection
from promptflow_lite.masking import REDACTED, is_secret_name, mask_secrets, register_connection

MAX_ITEMS = 1000
MAX_DEPTH = 16
_SCALARS = (int, float, bool, type(None))


def max_chars() -> int:
    """Longest string kept whole in a span attribute (env ``PFL_TRACE_MAX_CHARS``)."""
    return _max_chars


def set_max_chars(value: int) -> None:
    global _max_chars
    _max_chars = max(int(value), 100)


_max_chars = 10_000
if os.environ.get("PFL_TRACE_MAX_CHARS", "").isdigit():
    set_max_chars(int(os.environ["PFL_TRACE_MAX_CHARS"]))


def truncation_marker(total: int) -> str:
    return f"… [truncated: {total} chars]"


def to_json(value: Any) -> str:
    """``value`` as JSON text for a span attribute (see module doc).

    One C-encoder pass handles the common case; only text that is long or mentions a
    credential-like name is re-rendered value by value (cutting strings, blanking keys).
    """
    if type(value) is str and len(value) <= _max_chars:
        text = _encode(value)
    else:
        try:
            text = _encode(value)
        except (TypeError, ValueError, RecursionError):  # non-string keys, circular references
            text = None
        if text is None or len(text) > _max_chars or _may_name_secret(text):
            text = _encode(_clean(value, 0))
            if len(text) > _MAX_TOTAL_FACTOR * _max_chars:
                text = _encode(text[:_max_chars] + truncation_marker(len(text)))
    return mask_secrets(text)


def _make_encoder():
    """A reusable C encoder (``json.dumps`` builds one per call; that is most of its cost here)."""
    from json.encoder import c_make_encoder, encode_basestring

    encoder = json.JSONEncoder(ensure_ascii=False, default=lambda value: _render(value))
    if c_make_encoder is None:
        return encoder.encode
    chunks = c_make_encoder(None, encoder.default, encode_basestring, None, ": ", ", ", False, False, True)

    def encode(value: Any) -> str:
        if type(value) is str:
            return encode_basestring(value)
        return "".join(chunks(value, 0))

    return encode


_encode = _make_encoder()


def dumps(value: Any) -> str:
    """JSON text of values already made safe (attribute dicts of rendered strings): no cutting."""
    return _encode(value)


def dumps_any(value: Any) -> str:
    """JSON text of any value, non-JSON leaves rendered as in spans (connections, images...);
    a value the encoder cannot walk (circular, odd keys) is cleaned (and cut) first."""
    try:
        return _encode(value)
    except (TypeError, ValueError, RecursionError):
        return _encode(_clean(value, 0))


_MAX_TOTAL_FACTOR = 20


def _may_name_secret(text: str) -> bool:
    """Whether ``text`` may hold a key that :func:`~promptflow_lite.masking.is_secret_name` matches: a
    quick look for the words, then the JSON keys themselves (a value like "whiskey" is no key)."""
    low = text.lower()
    if not ("key" in low or "authoriz" in low or "passw" in low or "secret" in low or 'token"' in low
            or "credential" in low or ("conn" in low and "str" in low)):
        return False
    return '\\"' in text or any(is_secret_name(key) for key in _JSON_KEY.findall(text))


_JSON_KEY = re.compile(r'"([^"\\]*)": ')  # a key as the encoder writes it (text with an escaped quote: always cleaned)


def to_text(value: Any) -> str:
    """A plain string attribute (log text, error message), cut and scrubbed like JSON values."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > _max_chars:
        text = _cut(text)
    return mask_secrets(text)


def is_connection(value: Any) -> bool:
    return isinstance(value, Connection)


def render_connection(connection: Any) -> str:
    register_connection(connection)
    return f"<{type(connection).__name__} name={connection.name}>"


def _cut(text: str) -> str:
    if len(text) <= _max_chars + 40 and "… [truncated: " in text[_max_chars:]:
        return text  # cut already
    return text[:_max_chars] + truncation_marker(len(text))


def _clean(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return _cut(value) if len(value) > _max_chars else value
    if isinstance(value, _SCALARS):
        return value
    if depth >= MAX_DEPTH:
        return "<nested too deep>"
    if isinstance(value, dict):
        cleaned = {}
        for index, (key, item) in enumerate(value.items()):
            if index == MAX_ITEMS:
                cleaned["…"] = f"[truncated: {len(value)} items]"
                break
            key = key if isinstance(key, str) else str(key)
            if item and is_secret_name(key) and not isinstance(item, (dict, list, tuple)):
                cleaned[key] = REDACTED
            else:
                cleaned[key] = _clean(item, depth + 1)
        return cleaned
    if isinstance(value, (list, tuple)):
        items = [_clean(item, depth + 1) for item in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            items.append(f"… [truncated: {len(value)} items]")
        return items
    return _render(value, depth)


def _render(value: Any, depth: int = 0) -> Any:
    """Non-JSON values: connections, images, generators, dataclasses, pydantic models, others."""
    if is_connection(value):
        return render_connection(value)
    if isinstance(value, (bytes, bytearray)):
        mime = getattr(value, "_mime_type", None)
        return f"<{mime} image, {len(value)} bytes>" if mime else f"<{len(value)} bytes>"
    if inspect.isgenerator(value) or inspect.isasyncgen(value):
        return "<generator>"
    if isinstance(value, enum.Enum):
        return _clean(value.value, depth + 1)
    if isinstance(value, (set, frozenset)):
        return _clean(sorted(value, key=str), depth + 1)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _clean({f.name: getattr(value, f.name) for f in dataclasses.fields(value)}, depth + 1)
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return _clean(dump(), depth + 1)
        except Exception:  # a broken model: fall back to repr
            pass
    if hasattr(value, "keys") and hasattr(value, "__getitem__"):
        try:
            return _clean({k: value[k] for k in value.keys()}, depth + 1)
        except Exception:
            pass
    return to_text(repr(value))
