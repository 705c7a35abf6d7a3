"""Helpers shared by command modules: ``k=v`` parsing, JSON printing, the NAME argument."""

from __future__ import annotations

import argparse
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


def add_name_argument(parser: argparse.ArgumentParser) -> None:
    """``NAME`` as a positional argument or, as promptflow's scripts type it, ``-n/--name NAME``."""
    parser.add_argument("name", nargs="?", metavar="NAME")
    parser.add_argument("-n", "--name", dest="name_option", help=argparse.SUPPRESS)


def given_name(args: argparse.Namespace, example: str) -> str:
    """The NAME given either way; a missing one is a clear error showing ``example``."""
    name = args.name or args.name_option
    if not name:
        raise UserError("No name given.", hint=f"pass it, e.g. `{example}`.")
    return name

