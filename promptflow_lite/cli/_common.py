"""Helpers shared by command modules: ``k=v`` and ``--init`` parsing, JSON printing."""

from __future__ import annotations

import json
import sys
from pathlib import Path
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


def read_init(items: list[str]) -> dict[str, Any]:
    """``--init k=v ...`` or ``--init FILE.json|.yaml``."""
    if len(items) == 1 and "=" not in items[0]:
        from promptflow_lite.flow._loader import read_yaml

        data = read_yaml(Path(items[0]))
        if not isinstance(data, dict):
            raise UserError("The init file must hold a mapping of init arguments.", file=items[0])
        return data
    return parse_key_values(items, "--init")
