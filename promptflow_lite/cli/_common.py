"""Helpers shared by command modules: ``k=v`` parsing and JSON printing."""

from __future__ import annotations

import json
import sys
from typing import Any, Iterable

from promptflow_lite.errors import UserError


def parse_key_values(items: Iterable[str] | None, what: str = "argument") -> dict[str, str]:
    """``["a=1", "b=x=y"]`` → ``{"a": "1", "b": "x=y"}``; a missing ``=`` is a clear error."""
    result: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"Bad {what} '{item}': expected KEY=VALUE.")
        result[key.strip()] = value
    return result


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")
