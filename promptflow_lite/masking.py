"""Secret masking: the values this process knows to be secret, and ``mask_secrets(text)``, which hides them.

Secrets are registered where they enter the process: connections fetched from a store, the key
of every LLM endpoint and model configuration, environment variables and ``.env`` entries whose
name says secret (``OPENAI_API_KEY``, ``*_TOKEN``...). ``mask_secrets`` replaces them with ``***``
in any text - whole, or echoed in part as endpoints do (``sk-abc12***...wxyz``, a key's first or
last eight characters) - and hides ``Bearer``/``Basic`` tokens and the value after an ``api-key:``
or ``Authorization:`` name. Everything promptflow_lite prints, stores or returns goes through it
(errors, run records and logs, traces, HTTP answers, the CLI's streams). A text holding no trace
of a known secret costs two substring searches per secret (and a dozen for tokens and headers).
Importing this module registers the environment's secrets.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Mapping, NamedTuple, TextIO

REDACTED = "***"
MIN_LENGTH = 6  # shorter values are too common to hide ("x", "dummy")
FRAGMENT = 8  # how many first/last characters of a secret identify it
_SHOWN = 4  # the shortest head or tail of a secret, shown next to an elision, tied to it

_SECRET_NAME = re.compile(
    r"api[-_]?key|secret|password|passwd|credential|authorization|subscription[-_]?key|private[-_]?key"
    r"|(^|[-_])(access[-_]|refresh[-_]|auth[-_]|api[-_]|bearer[-_])?token$|key$"
    r"|conn(ection)?[-_]?str(ing)?$", re.IGNORECASE)
_ELISION = re.compile(r"(?:\*\*|\.\.\.|…)[*.…]*")
_BEARER = re.compile(r"\b(Bearer|bearer|Basic)(\s+)([\w.~+/=-]{8,})")
_HEADER = re.compile(r"\b((?:x-)?api[-_]?key|authorization|ocp-apim-subscription-key)(['\"]?\s*[:=]\s*['\"]?)"
                     r"(?![*$<]|bearer\s|basic\s)[^\s'\",;{}()\[\]]{6,}", re.IGNORECASE)
_HEADER_WORDS = ("pi-key", "pi_key", "PI_KEY", "PI-KEY", "piKey", "pi-Key", "pikey", "uthorization",
                 "ubscription-")  # the spellings _HEADER finds, without their first letter


def _token_char(char: str) -> bool:
    return char.isalnum() or char in "-_+/=.~*…"


class _Known(NamedTuple):
    """A snapshot of the registry (replaced whole on change, so readers need no lock)."""

    secrets: tuple[str, ...] = ()  # longest first: a secret holding another is hidden whole
    keys: tuple[str, ...] = ()  # the secrets shaped like keys (one word): those are echoed in part
    probes: tuple[str, ...] = ()  # every trace of a secret holds one: a key's first/last few characters
    fragments: tuple[str, ...] = ()  # first/last FRAGMENT characters of the long keys


def _key_like(secret: str) -> bool:
    """One word of key characters (``sk-...``, hex, base64, a JWT); not a URL, a sentence or a connection string."""
    return all(_token_char(char) for char in secret) and "*" not in secret and "…" not in secret


_known = _Known()
_log: list[str] = []  # the secrets in the order learned (a trace writer process is told the new ones)
_lock = threading.Lock()
_name_verdicts: dict[str, bool] = {}
_environment_seen: dict[str, str] = {}


def is_secret_name(name: str) -> bool:
    """Whether a field, header or variable name names a credential (``api_key``, ``OPENAI_API_KEY``,
    ``Authorization``, ``*_TOKEN``, ``password``...)."""
    verdict = _name_verdicts.get(name)
    if verdict is None:
        verdict = bool(_SECRET_NAME.search(name))
        if len(_name_verdicts) < 10_000:
            _name_verdicts[name] = verdict
    return verdict


def register_secret(value: Any) -> None:
    """Hide ``value`` wherever it appears from now on (in this process).

    Ignored: non-strings, values shorter than ``MIN_LENGTH`` and placeholders (``${env:VAR}``,
    ``******``, ``<user-input>``).
    """
    global _known
    if not isinstance(value, str) or len(value) < MIN_LENGTH or value in _known.secrets or _placeholder(value):
        return
    with _lock:
        forms = {value, json.dumps(value, ensure_ascii=False)[1:-1]} - set(_known.secrets)
        if not forms:
            return
        _log.append(value)
        secrets = tuple(sorted({*_known.secrets, *forms}, key=len, reverse=True))
        keys = tuple(secret for secret in secrets if _key_like(secret))
        probes = [part for key in keys for part in (key[:_SHOWN], key[-_SHOWN:])]
        probes += [secret for secret in secrets if secret not in keys]
        fragments = tuple(dict.fromkeys(part for key in keys for part in _ends(key)))
        _known = _Known(secrets, keys, tuple(dict.fromkeys(probes)), fragments)


def register_secrets(values: Iterable[Any]) -> None:
    for value in values:
        register_secret(value)


def register_connection(connection: Any) -> None:
    """Hide the secret fields of a connection (``api_key``...) and the credentials in its URLs."""
    register_secrets((getattr(connection, "secrets", None) or {}).values())
    for value in (getattr(connection, "configs", None) or {}).values():
        register_url(value)


_URL_SECRET_PARAMETERS = ("code", "sig")  # Azure Functions' key, a SAS signature: names that do not say secret


def register_url(value: Any) -> None:
    """Hide the credentials a URL carries: the password of ``scheme://user:password@host`` and the values of
    query parameters named like secrets (``?api-key=``, ``?code=``, ``?sig=``...)."""
    if not isinstance(value, str) or "://" not in value or ("@" not in value and "=" not in value):
        return
    from urllib.parse import unquote_plus, urlsplit

    try:
        parts = urlsplit(value.strip())
        password = parts.password
    except ValueError:  # not a URL after all
        return
    if password:
        register_secrets((password, unquote_plus(password)))
    for name, _, item in (pair.partition("=") for pair in parts.query.split("&")):
        if is_secret_name(unquote_plus(name)) or name.lower() in _URL_SECRET_PARAMETERS:
            register_secrets((item, unquote_plus(item)))


def register_named(values: Mapping[str, Any]) -> None:
    """Hide the values whose name says secret (environment variables, ``.env`` entries)."""
    for name, value in values.items():
        if is_secret_name(str(name)):
            register_secret(value)


def register_environment() -> None:
    """Hide the environment variables whose name says secret (again after the environment changed)."""
    for name, value in os.environ.items():
        if _environment_seen.get(name) != value:
            _environment_seen[name] = value
            if is_secret_name(name):
                register_secret(value)


def forget_secrets() -> None:
    """Forget every registered secret (a test, or a long-lived process whose credentials changed)."""
    global _known
    with _lock:
        _known = _Known()
        _log.clear()
        _environment_seen.clear()


def secret_count() -> int:
    """How many secrets this process has registered."""
    return len(_log)


def secrets_since(count: int) -> list[str]:
    """The secrets registered after the first ``count`` (to tell another process)."""
    return _log[count:]


def mask_secrets(text: str, *, tokens: bool = True) -> str:
    """``text`` with every known secret, and every trace of one, replaced by ``***`` (see module doc).

    ``tokens=False`` skips hiding the ``Bearer``/``Basic`` tokens and header values that are not
    known secrets: for data (a line's inputs and outputs, copied flow files, HTTP answers), which
    may hold such text on purpose and may be read back, and whose error messages were masked in
    full when they were made (:func:`promptflow_lite.errors.error_dict`); it is also ten substring
    searches fewer on a batch line's hot path.
    """
    if not text:
        return text
    for probe in _known.probes:
        if probe in text:
            text = _hide_known(text, _known)
            break
    if not tokens:
        return text
    if "earer " in text or "Basic " in text:
        text = _BEARER.sub(_hide_token, text)
    for word in _HEADER_WORDS:
        if word in text:
            text = _HEADER.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
            break
    return text


def _hide_token(found: re.Match) -> str:
    """``Bearer <token>`` without the token - unless the "token" is a word (``Bearer tokens``)."""
    token = found.group(3)
    if token.isalpha() and len(token) < 16:
        return found.group(0)
    return found.group(1) + found.group(2) + REDACTED


def _placeholder(value: str) -> bool:
    text = value.strip()
    return (text.startswith("${") and text.endswith("}")) or set(text) <= {"*"} or \
        (text.startswith("<") and text.endswith(">"))


def _ends(secret: str) -> tuple[str, ...]:
    """The first and last characters that identify a long secret (none for a short one)."""
    if len(secret) < 12:
        return ()
    size = min(FRAGMENT, len(secret) // 2)
    return secret[:size], secret[-size:]


def _hide_known(text: str, known: _Known) -> str:
    for secret in known.secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for fragment in known.fragments:  # a key shown in part: hide the whole word holding its head or tail
        start = text.find(fragment)
        while start >= 0:
            begin, end = _word(text, start, start + len(fragment))
            text = text[:begin] + REDACTED + text[end:]
            start = text.find(fragment, begin + len(REDACTED))
    if "**" in text or "..." in text or "…" in text:
        text = _hide_elided(text, known.keys)
    return text


def _word(text: str, begin: int, end: int) -> tuple[int, int]:
    while begin > 0 and _token_char(text[begin - 1]):
        begin -= 1
    while end < len(text) and _token_char(text[end]):
        end += 1
    return begin, end


def _hide_elided(text: str, secrets: tuple[str, ...]) -> str:
    """``sk-abc1***...wxyz``: an elision whose head starts, or whose tail ends, a known secret."""
    spans = []
    for found in _ELISION.finditer(text):
        begin, end = found.start(), found.end()
        while begin > 0 and (text[begin - 1].isalnum() or text[begin - 1] in "-_"):
            begin -= 1
        while end < len(text) and (text[end].isalnum() or text[end] in "-_+/="):
            end += 1
        head, tail = text[begin:found.start()], text[found.end():end]
        if (len(head) >= _SHOWN and any(s.startswith(head) for s in secrets)) or \
                (len(tail) >= _SHOWN and any(s.endswith(tail) for s in secrets)):
            spans.append((begin, end))
    for begin, end in reversed(spans):
        text = text[:begin] + REDACTED + text[end:]
    return text


class MaskedStream:
    """A text stream whose writes are masked; everything else goes to the wrapped stream."""

    def __init__(self, stream: TextIO):
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(mask_secrets(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def masked_output() -> Iterator[None]:
    """Within this block, ``sys.stdout`` and ``sys.stderr`` mask what is written to them."""
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = MaskedStream(stdout), MaskedStream(stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = stdout, stderr


register_environment()
