"""Errors of the connections package that tell the user how to fix them."""

from __future__ import annotations

from typing import Iterable

from promptflow_lite.errors import ConnectionNotFound, UserError


class EncryptionKeyError(UserError):
    """The encryption key file is unusable, or is not the key a secret was stored with."""


def connection_not_found(name: str, known: Iterable[str], where: str) -> ConnectionNotFound:
    """``ConnectionNotFound`` for ``name``: where we looked, the known names, and how to create it."""
    import difflib

    known = sorted(set(known))
    listed = ", ".join(known) if known else "none yet"
    close = difflib.get_close_matches(name, known, n=1)
    guess = f" Did you mean '{close[0]}'?" if close else ""
    hint = (
        f"create it with `pfl connection create -f conn.yaml --set name={name}` "
        "(or name another connection), with a conn.yaml such as:\n"
        f"  name: {name}\n"
        "  type: open_ai\n"
        "  api_key: \"<user-input>\"          # asked for in the terminal; or ${env:OPENAI_API_KEY}\n"
        "  base_url: http://localhost:8000/v1  # optional: any OpenAI-compatible server"
    )
    return ConnectionNotFound(f"Connection '{name}' not found in {where}.{guess} Known connections: {listed}.",
                              hint=hint)
