"""Images as flow values (FLOW_FORMAT §2.8): promptflow's ``Image`` and its encodings.

An ``Image`` is ``bytes`` with a MIME type and an optional source URL; ``str(image)`` is
``Image(<8 hex of sha1>)`` so templates can place it on a line of its own. Accepted inputs:
``{"data:image/png;path": "x.png"}`` / ``;base64`` / ``;url`` dicts, ``data:image/...;base64,``
strings, ``http(s)://`` URLs (fetched lazily, on first use of the bytes) and file paths.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import re
from pathlib import Path
from typing import Any

_DICT_KEY = re.compile(r"^data:image/(.*);(path|base64|url)$")
_DATA_URI = re.compile(r"^data:image/([\w.+-]+);base64,(.*)$", re.S)


class Image(bytes):
    """Image bytes with ``_mime_type`` and optional ``source_url``."""

    def __new__(cls, value: bytes, mime_type: str | None = None, source_url: str | None = None):
        obj = super().__new__(cls, value)
        obj._mime_type = mime_type or "image/*"
        obj.source_url = source_url
        return obj

    def __init__(self, value: bytes, mime_type: str | None = None, source_url: str | None = None):
        super().__init__()

    @property
    def _hash(self) -> str:
        return hashlib.sha1(bytes(self)).hexdigest()[:8]

    def __str__(self) -> str:
        return f"Image({self._hash})"

    __repr__ = __str__

    def to_base64(self, with_type: bool = False) -> str:
        encoded = base64.b64encode(bytes(self)).decode()
        return f"data:{self._mime_type};base64,{encoded}" if with_type else encoded

    def serialize(self) -> dict[str, str]:
        if self.source_url:
            return {f"data:{self._mime_type};url": self.source_url}
        return {f"data:{self._mime_type};base64": self.to_base64()}


PFBytes = Image


def is_image_dict(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and bool(_DICT_KEY.match(next(iter(value))))


def to_image(value: Any, base_dir: Path | None = None) -> Image:
    """An ``Image`` from any accepted encoding; relative paths resolve against ``base_dir``."""
    if isinstance(value, Image):
        return value
    if is_image_dict(value):
        key, data = next(iter(value.items()))
        kind_match = _DICT_KEY.match(key)
        subtype, kind = kind_match.group(1), kind_match.group(2)
        mime = f"image/{subtype}" if subtype and subtype != "*" else None
        if kind == "base64":
            return Image(base64.b64decode(data), mime)
        if kind == "url":
            return _from_url(data, mime)
        return _from_path(data, base_dir, mime)
    if isinstance(value, str):
        match = _DATA_URI.match(value)
        if match:
            return Image(base64.b64decode(match.group(2)), f"image/{match.group(1)}")
        if value.startswith(("http://", "https://")):
            return _from_url(value, None)
        return _from_path(value, base_dir, None)
    raise ValueError(f"cannot read an image from {type(value).__name__}")


def _from_path(path: str, base_dir: Path | None, mime: str | None) -> Image:
    file = Path(path)
    if not file.is_absolute() and base_dir is not None:
        file = base_dir / file
    mime = mime or mimetypes.guess_type(str(file))[0] or "image/*"
    return Image(file.read_bytes(), mime)


def _from_url(url: str, mime: str | None) -> Image:
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - the user's own URL
        data = response.read()
        mime = mime or response.headers.get_content_type()
    return Image(data, mime, source_url=url)
