"""Small display helpers shared by the pages: page style, errors as messages, values shown safely."""

from __future__ import annotations

import json
from typing import Any, Callable

import streamlit as st

from promptflow_lite.errors import PflError

_CSS = """
<style>
[data-testid="stMainBlockContainer"] {padding: 2rem 2rem 3rem; max-width: 1680px;}
[data-testid="stMainBlockContainer"] h1 {font-size: 2rem; padding-top: 0.5rem; overflow-wrap: anywhere;}
[data-testid="stTextArea"] textarea {font-family: "Source Code Pro", ui-monospace, Menlo, monospace;
  font-size: 0.86rem; line-height: 1.45;}
div[data-testid="stExpander"] details summary p {font-weight: 600;}
.st-key-pfl_comparison_table code {font-size: 0.74rem;}
.pfl-muted {color: #6b7280; font-size: 0.85rem;}
.pfl-chip {display: inline-block; padding: 0 0.45rem; margin-right: 0.25rem; border-radius: 0.6rem;
  font-size: 0.75rem; background: #eef2f7; color: #374151;}
</style>
"""


def page_style() -> None:
    """The app's small CSS additions (every page: narrower margins, smaller titles, monospace code areas)."""
    st.markdown(_CSS, unsafe_allow_html=True)


def error_text(exc: BaseException) -> str:
    """What a user reads for an error: our errors carry file, node and fix; others their type and text
    (known secrets masked)."""
    from promptflow_lite.masking import mask_secrets

    return mask_secrets(str(exc) if isinstance(exc, PflError) else f"{type(exc).__name__}: {exc}")


def guarded(action: Callable[[], Any], *, on_error: Callable[[str], None] | None = None) -> Any:
    """Run ``action``; an error becomes a message (never a Streamlit traceback). Returns its result or None."""
    try:
        return action()
    except Exception as exc:  # noqa: BLE001 - everything a flow or file can raise is shown, not crashed on
        (on_error or st.error)(error_text(exc))
        return None


def safe_value(value: Any) -> Any:
    """A value fit to show: connections appear by name and type only, and known secrets are masked in text."""
    from promptflow_lite.connections._types import Connection
    from promptflow_lite.masking import mask_secrets

    if isinstance(value, Connection):
        return f"<{type(value).__name__} '{getattr(value, 'name', None) or 'connection'}'>"
    if isinstance(value, dict):
        return {str(k): safe_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [safe_value(v) for v in value]
    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return mask_secrets(repr(value))


def show_value(value: Any) -> None:
    """A value as JSON when it has structure, else as text."""
    shown = safe_value(value)
    if isinstance(shown, (dict, list)):
        st.json(shown, expanded=2)
    else:
        st.code(shown if isinstance(shown, str) else json.dumps(shown), language=None, wrap_lines=True)


def code_language(path: str | None) -> str | None:
    if not path:
        return None
    if path.endswith(".py"):
        return "python"
    if path.endswith((".jinja2", ".jinja", ".j2", ".prompty")):
        return "django"  # Prism's Jinja grammar
    if path.endswith((".yaml", ".yml")):
        return "yaml"
    return None
