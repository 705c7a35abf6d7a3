"""Images as flow values (FLOW_FORMAT §2.8): promptflow's ``Image``, its encodings and files.

An ``Image`` is ``bytes`` with a MIME type (guessed from the bytes when not given) and an
optional source URL; ``str(image)`` is ``Image(<8 hex of sha1>)`` so templates can place it on
a line of its own. ``Multimedia(message_format)`` reads and writes images in one of promptflow's
two message formats: ``basic`` (``{"data:image/png;path": "x.png"}``, ``;base64``, ``;url``) and
``openai-vision`` (``{"type": "image_url", "image_url": {"url": ...}}``, ``{"type": "image_file",
"image_file": {"path": ...}}``, text parts ``{"type": "text", "text": ...}``). ``load`` turns such
dicts, at any depth, into ``Image`` objects; ``persist`` writes images as files and puts the
format's path reference in their place; ``to_base64`` inlines them (serving).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from pathlib import Path
from typing import Any, Callable, Iterator

BASIC, OPENAI_VISION = "basic", "openai-vision"
MESSAGE_FORMATS = (BASIC, OPENAI_VISION)

_DICT_KEY = re.compile(r"^data:image/(.*);(path|base64|url)$")
_DATA_URI = re.compile(r"^data:image/(.*);base64$")
_BASE64 = re.compile(r"^([A-Za-z0-9+/]{4})*(([A-Za-z0-9+/]{2})*(==|[A-Za-z0-9+/]=)?)?$")


class InvalidImageInput(ValueError):
    """A value cannot be read as an image (its message says which form was expected)."""


class InvalidMessageFormat(ValueError):
    """``message_format`` is neither ``basic`` nor ``openai-vision``."""


class PFBytes(bytes):
    """Bytes with a MIME type and an optional source URL (promptflow's ``PFBytes``)."""

    def __new__(cls, value: bytes, *args: Any, **kwargs: Any):
        return super().__new__(cls, value)

    def __init__(self, value: bytes, mime_type: str, source_url: str | None = None):
        super().__init__()
        self._hash = hashlib.sha1(value).hexdigest()[:8]
        self._mime_type = mime_type.lower()
        self._source_url = source_url

    @property
    def source_url(self) -> str | None:
        return self._source_url

    @source_url.setter
    def source_url(self, value: str | None) -> None:
        self._source_url = value

    def to_base64(self, with_type: bool = False) -> str:
        encoded = base64.b64encode(self).decode("utf-8")
        return f"data:{self._mime_type};base64,{encoded}" if with_type else encoded


class Image(PFBytes):
    """An image; without ``mime_type`` the type is guessed from the bytes (``image/*`` if unknown)."""

    def __init__(self, value: bytes, mime_type: str | None = None, source_url: str | None = None):
        super().__init__(value, mime_type or guess_mime_type(value), source_url)

    def __str__(self) -> str:
        return f"Image({self._hash})"

    __repr__ = __str__

    def serialize(self, encoder: Callable[["Image"], Any] | None = None) -> Any:
        """``encoder(self)``, or ``str(self)`` without one (promptflow's contract)."""
        return str(self) if encoder is None else encoder(self)


class Text(str):
    """A text part of an openai-vision message (``{"type": "text", "text": ...}``)."""

    def __new__(cls, value: str, annotations: list | None = None):
        obj = super().__new__(cls, value)
        obj._annotations = annotations
        return obj

    @classmethod
    def deserialize(cls, data: dict) -> "Text":
        text = data.get("text", "")
        if isinstance(text, dict):
            return cls(text.get("value", ""), text.get("annotations", []))
        return cls(text)

    def serialize(self) -> dict:
        if self._annotations is None:
            return {"type": "text", "text": str(self)}
        return {"type": "text", "text": {"value": str(self), "annotations": self._annotations}}


def guess_mime_type(data: bytes) -> str:
    """The image MIME type the bytes start with, else ``image/*``."""
    import filetype  # small, pure python; imported only when an image has no declared type

    mime = filetype.guess_mime(bytes(data[:8192]))
    return mime if mime and mime.startswith("image/") else "image/*"


def extension(image: PFBytes) -> str:
    """``.png`` for ``image/png``; nothing for ``image/*``."""
    subtype = image._mime_type.split("/")[-1]
    return "" if subtype == "*" else f".{subtype}"


def is_image_dict(value: Any) -> bool:
    """``{"data:image/<type>;path|base64|url": ...}`` (the basic format)."""
    return isinstance(value, dict) and len(value) == 1 and isinstance(next(iter(value)), str) \
        and bool(_DICT_KEY.match(next(iter(value))))


def _is_vision_image(value: Any) -> bool:
    if not isinstance(value, dict) or len(value) != 2 or not isinstance(value.get(value.get("type")), dict):
        return False
    kind = value["type"]
    return (kind == "image_url" and "url" in value[kind]) or (kind == "image_file" and "path" in value[kind])


def _is_vision_text(value: Any) -> bool:
    if not isinstance(value, dict) or len(value) != 2 or value.get("type") != "text" or "text" not in value:
        return False
    text = value["text"]
    return isinstance(text, str) or (isinstance(text, dict) and isinstance(text.get("value"), str))


def check_message_format(value: Any) -> str:
    """The message format named by a flow's ``message_format`` (``basic`` when absent)."""
    if not value:
        return BASIC
    if str(value).lower() not in MESSAGE_FORMATS:
        raise InvalidMessageFormat(f"Invalid message format '{value}'. Supported message formats are "
                                   f"{list(MESSAGE_FORMATS)}.")
    return str(value).lower()


class Multimedia:
    """Reading and writing images in one message format (``basic`` or ``openai-vision``)."""

    def __init__(self, message_format: str | None = BASIC):
        self.format = check_message_format(message_format)
        self.vision = self.format == OPENAI_VISION

    # reading -------------------------------------------------------------------------------
    def is_image(self, value: Any) -> bool:
        return _is_vision_image(value) if self.vision else is_image_dict(value)

    def create_image(self, value: Any, base_dir: Path | None = None) -> Image:
        """An ``Image`` input from an image dict of this format, a path, URL or base64 string."""
        if isinstance(value, PFBytes):
            return value
        if isinstance(value, dict):
            if not self.is_image(value):
                raise InvalidImageInput(self._expected_form())
            return self._from_dict(value, base_dir)
        if isinstance(value, str):
            if not value:
                raise InvalidImageInput("The image input should not be empty.")
            return image_from_string(value, base_dir)
        raise InvalidImageInput(f"Unsupported image input type: {type(value)}. The image inputs should be a "
                                "string or a dictionary.")

    def load(self, value: Any, base_dir: Path | None = None) -> Any:
        """``value`` with every image dict of this format (and, for openai-vision, text part)
        inside lists and dicts replaced by ``Image`` (``Text``) objects."""
        if isinstance(value, list):
            return [self.load(item, base_dir) for item in value]
        if isinstance(value, dict):
            if self.is_image(value):
                return self._from_dict(value, base_dir)
            if self.vision and _is_vision_text(value):
                return Text.deserialize(value)
            return {key: self.load(item, base_dir) for key, item in value.items()}
        return value

    def _from_dict(self, value: dict, base_dir: Path | None) -> Image:
        if self.vision:
            kind = value["type"]
            if kind == "image_file":
                return _from_path(value["image_file"]["path"], base_dir, None)
            url = value["image_url"]["url"]
            if _is_base64(url):
                return _from_base64(url, None)
            if _is_url(url):
                return _from_url(url, None)
            raise InvalidImageInput(f"Invalid image url: {url}. Should be a valid url or base64 string.")
        key, data = next(iter(value.items()))
        subtype, kind = _DICT_KEY.match(key).groups()
        mime = f"image/{subtype}"
        if kind == "path":
            return _from_path(data, base_dir, mime)
        if kind == "base64":
            if not isinstance(data, str) or not _is_base64(data):
                raise InvalidImageInput(f"Invalid base64 image: {str(data)[:80]}.")
            return _from_base64(data, mime)
        return _from_url(data, mime)

    def _expected_form(self) -> str:
        if self.vision:
            return ('Invalid image input format. The image input should be a dictionary like: {"type": "image_url", '
                    '"image_url": {"url": <url or data URI>}} or {"type": "image_file", "image_file": {"path": <path>}}.')
        return ("Invalid image input format. The image input should be a dictionary like: "
                "{data:image/<image_type>;[path|base64|url]: <image_data>}.")

    # writing -------------------------------------------------------------------------------
    def reference(self, image: PFBytes, path: str) -> dict:
        """The dict that stands for ``image`` stored at ``path``."""
        if self.vision:
            return {"type": "image_file", "image_file": {"path": path}}
        return {f"data:{image._mime_type};path": path}

    def url_reference(self, image: PFBytes) -> dict:
        if self.vision:
            return {"type": "image_url", "image_url": {"url": image.source_url}}
        return {f"data:{image._mime_type};url": image.source_url}

    def base64_reference(self, image: PFBytes) -> dict:
        if self.vision:
            return {"type": "image_url", "image_url": {"url": image.to_base64(with_type=True)}}
        return {f"data:{image._mime_type};base64": image.to_base64()}

    def persist(self, value: Any, folder: Path, relative_to: Path | None = None) -> Any:
        """``value`` with every image written to ``folder`` (named by its content) and replaced by its
        reference: the path relative to ``relative_to``, or absolute. Images with a source URL stay URLs."""
        def store(image: PFBytes) -> dict:
            if image.source_url:
                return self.url_reference(image)
            file = write_image(image, folder)
            path = os.path.relpath(file, relative_to) if relative_to is not None else str(file.resolve())
            return self.reference(image, Path(path).as_posix())

        return self._replace(value, store)

    def to_base64(self, value: Any) -> Any:
        """``value`` with images inlined as base64 references (what serving answers)."""
        return self._replace(value, self.base64_reference)

    def _replace(self, value: Any, encode: Callable[[PFBytes], Any]) -> Any:
        if isinstance(value, PFBytes):
            return encode(value)
        if isinstance(value, Text):
            return value.serialize()
        if isinstance(value, (list, tuple)):
            return [self._replace(item, encode) for item in value]
        if isinstance(value, dict):
            return {key: self._replace(item, encode) for key, item in value.items()}
        return value


def images_in(value: Any, *, text_parts: bool = False) -> Iterator[Any]:
    """Every image (and, with ``text_parts``, openai-vision ``Text`` part) inside ``value``, at any depth."""
    if isinstance(value, PFBytes) or (text_parts and isinstance(value, Text)):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from images_in(item, text_parts=text_parts)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from images_in(item, text_parts=text_parts)


def has_images(value: Any) -> bool:
    """Whether ``value`` holds an ``Image`` (or vision ``Text``) at any depth: it needs writing as files."""
    return next(images_in(value, text_parts=True), None) is not None


def resolve_image_paths(value: Any, base_dir: Path) -> Any:
    """``value`` with the relative file paths of its image dicts (either format) made absolute
    against ``base_dir``: data files and run outputs name images relative to their own folder."""
    if isinstance(value, list):
        return [resolve_image_paths(item, base_dir) for item in value]
    if not isinstance(value, dict):
        return value
    if is_image_dict(value):
        key, item = next(iter(value.items()))
        return {key: _absolute(item, base_dir)} if key.endswith(";path") and isinstance(item, str) else value
    if _is_vision_image(value):
        path = value["image_file"].get("path") if value["type"] == "image_file" else None
        if isinstance(path, str):
            return {**value, "image_file": {**value["image_file"], "path": _absolute(path, base_dir)}}
        return value
    return {key: resolve_image_paths(item, base_dir) for key, item in value.items()}


def write_image(image: PFBytes, folder: Path) -> Path:
    """Write ``image`` once to ``folder`` as ``<sha1>.<ext>`` (atomically; the same bytes, the same file)."""
    import tempfile

    file = Path(folder) / f"{hashlib.sha1(image).hexdigest()}{extension(image)}"
    if not file.exists():
        file.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=file.parent, prefix=".image-")
        with os.fdopen(handle, "wb") as out:
            out.write(image)
        os.replace(temporary, file)
    return file


def to_image(value: Any, base_dir: Path | None = None) -> Image:
    """An ``Image`` from a basic-format dict, a data URI, an ``http(s)`` URL or a file path."""
    return Multimedia(BASIC).create_image(value, base_dir)


def image_from_string(value: str, base_dir: Path | None = None) -> Image:
    """A base64 string (with or without ``data:`` prefix), a URL, else a file path."""
    if _is_base64(value):
        return _from_base64(value, None)
    if _is_url(value):
        return _from_url(value, None)
    return _from_path(value, base_dir, None)


def _is_base64(value: str) -> bool:
    parts = value.split(",")
    if len(parts) == 2:
        return bool(_DATA_URI.match(parts[0]) and _BASE64.match(parts[1]))
    return len(parts) == 1 and bool(_BASE64.match(value))


def _is_url(value: str) -> bool:
    from urllib.parse import urlparse

    try:
        parsed = urlparse(value)
    except ValueError:
        return False
    return bool(parsed.scheme and parsed.netloc)


def _absolute(path: str, base_dir: Path) -> str:
    return path if Path(path).is_absolute() else str((Path(base_dir) / path).resolve())


def _from_base64(value: str, mime: str | None) -> Image:
    return Image(base64.b64decode(value.split(",")[-1]), mime)


def _from_path(path: Any, base_dir: Path | None, mime: str | None) -> Image:
    file = Path(path)
    if not file.is_absolute() and base_dir is not None:
        file = Path(base_dir) / file
    return Image(file.read_bytes(), mime)


def _from_url(url: str, mime: str | None) -> Image:
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - the user's own URL
        if response.status != 200:
            raise InvalidImageInput(f"Failed to fetch image from URL: {url}. Error code: {response.status}.")
        return Image(response.read(), mime, source_url=url)
