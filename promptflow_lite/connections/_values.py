"""Special values in connection fields: secret placeholders and ``${env:VAR}`` references.

Secret placeholders follow promptflow (FLOW_FORMAT §3.2): ``"<user-input>"`` asks the user in the
CLI (and is an error in the API); an empty, all-``*`` or ``"<no-change>"`` value keeps the stored
secret on update. ``${env:VAR}`` is stored as written and read from the environment only when
the connection is fetched for use (a secret read so is registered for masking).
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterator, Mapping

from promptflow_lite.connections._types import Connection, CustomConnection
from promptflow_lite.errors import UserError
from promptflow_lite.masking import register_connection

SCRUBBED = "******"
USER_INPUT = "<user-input>"
NO_CHANGE = "<no-change>"
ENV_REFERENCE = re.compile(r"^\$\{env:(.+)}$")

SecretPrompt = Callable[[str], str]
"""Asks the user for the secret named by its argument and returns the value."""

_keep_unset = ContextVar("pfl_keep_unset_env", default=False)


@contextmanager
def unset_env_kept() -> Iterator[None]:
    """Within this block, ``${env:VAR}`` with VAR unset stays as written instead of failing
    (offline mode: the scripted server replaces keys and endpoints anyway)."""
    token = _keep_unset.set(True)
    try:
        yield
    finally:
        _keep_unset.reset(token)


def is_user_input(value: object) -> bool:
    return isinstance(value, str) and value.strip() == USER_INPUT


def is_scrubbed(value: object) -> bool:
    """True for a value that stands for "no new secret": None, empty, ``******``, ``<no-change>``."""
    if value is None:
        return True
    if not isinstance(value, str):
        return False
    text = value.strip()
    return text == "" or set(text) == {"*"} or text == NO_CHANGE


def env_reference(value: object) -> str | None:
    """``VAR`` for a value ``${env:VAR}``, else None."""
    match = ENV_REFERENCE.match(value.strip()) if isinstance(value, str) else None
    return match.group(1) if match else None


def set_key(conn: Connection, key: str, *, secret: bool) -> str:
    """How ``--set`` names this field: ``secrets.KEY`` / ``configs.KEY`` for custom connections."""
    if isinstance(conn, CustomConnection):
        return f"{'secrets' if secret else 'configs'}.{key}"
    return key


def _optional_secrets(conn: Connection) -> set[str]:
    return {"api_key"} if conn.configs.get("auth_mode") == "meid_token" else set()


def fill_secrets(conn: Connection, *, existing: Connection | None = None,
                 prompt: SecretPrompt | None = None) -> Connection:
    """A copy of ``conn`` whose placeholder secrets are replaced.

    A scrubbed value takes the secret of ``existing`` (the stored connection, on update), else asks
    ``prompt``; ``<user-input>`` always asks ``prompt``. Without a ``prompt`` (the API, or no
    terminal) a secret that still has no value is a ``UserError`` naming it.
    """
    filled = conn.copy()
    missing: list[str] = []
    for key, value in conn.secrets.items():
        if is_user_input(value):
            if prompt is None:
                raise UserError(
                    f"Connection '{conn.name}': secret '{key}' is '{USER_INPUT}', which only an interactive "
                    "terminal can ask for.",
                    hint=f"give the value with --set {set_key(conn, key, secret=True)}=VALUE, or write "
                         "'${env:VAR}' to read it from the environment when the connection is used.")
            filled.secrets[key] = prompt(key)
        elif is_scrubbed(value):
            stored = existing.secrets.get(key) if existing is not None else None
            if not is_scrubbed(stored):
                filled.secrets[key] = stored
            elif value is None and key in _optional_secrets(conn):
                continue
            elif prompt is not None:
                filled.secrets[key] = prompt(key)
            else:
                missing.append(key)
    if missing:
        keys = ", ".join(f"'{k}'" for k in missing)
        sets = " ".join(f"--set {set_key(conn, k, secret=True)}=VALUE" for k in missing)
        raise UserError(f"Connection '{conn.name}': secret {keys} has no value.",
                        hint=f"give it in the file or with {sets}; on update an empty, '{SCRUBBED}' or "
                             f"'{NO_CHANGE}' value keeps the stored secret.")
    return filled


def resolve_env_references(conn: Connection, *, secrets: bool = True,
                           environ: Mapping[str, str] | None = None) -> Connection:
    """``conn`` with every ``${env:VAR}`` value read from the environment (``conn`` itself if none).

    An unset variable is a ``UserError`` naming the connection, the field and the variable
    (kept as written inside ``unset_env_kept()``).
    """
    environ = os.environ if environ is None else environ
    buckets = [(False, conn.configs)] + ([(True, conn.secrets)] if secrets else [])
    found = [(is_secret, key, var) for is_secret, values in buckets
             for key, value in values.items() if (var := env_reference(value))]
    if not found:
        return conn
    resolved = conn.copy()
    for is_secret, key, var in found:
        if var not in environ:
            if _keep_unset.get():
                continue
            raise UserError(
                f"Connection '{conn.name}': field '{key}' refers to environment variable '{var}', which is not set.",
                hint=f"set {var} in the environment, or store the value itself with "
                     f"`pfl connection update -n {conn.name} --set {set_key(conn, key, secret=is_secret)}=VALUE`.")
        (resolved.secrets if is_secret else resolved.configs)[key] = environ[var]
    register_connection(resolved)
    return resolved


def apply_env_overrides(conn: Connection, environ: Mapping[str, str] | None = None) -> Connection:
    """``conn`` with each field overridden by env ``<CONN_NAME>_<KEY>`` (upper-cased, spaces → ``_``) if set.

    This is how promptflow's serving lets a deployment change connections; off unless asked for.
    """
    environ = os.environ if environ is None else environ
    prefix = str(conn.name or "").replace(" ", "_")
    changes = {key: environ[var] for key in conn.keys() if (var := f"{prefix}_{key}".upper()) in environ}
    if not changes:
        return conn
    changed = conn.copy()
    for key, value in changes.items():
        (changed.secrets if key in changed.secrets else changed.configs)[key] = value
    return changed
