"""Helpers shared by command modules: ``k=v`` and ``--init`` parsing, JSON printing, the NAME argument, the engine
flags."""

from __future__ import annotations

import argparse
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


def add_engine_flags(parser: argparse.ArgumentParser, default_help: str = "local") -> None:
    """``--engine``, ``--ray-address``, ``--ray-actors`` (read back with :func:`engine_options`)."""
    parser.add_argument("--engine", metavar="local|processes|ray|NAME",
                        help=f"where lines run: local (this process), processes (a worker process per CPU), ray (a "
                             f"Ray cluster, needs the [ray] extra) or an engine an installed package registers "
                             f"('promptflow_lite.engines'); default: {default_help}")
    parser.add_argument("--ray-address", metavar="local|auto|HOST:PORT|ray://HOST:PORT",
                        help="--engine ray: local starts a private cluster on 127.0.0.1 (default, unless RAY_ADDRESS "
                             "is set); auto joins the cluster `ray start` runs here")
    parser.add_argument("--ray-actors", type=int, metavar="N",
                        help="--engine ray: workers, one CPU each (default: the cluster's CPUs); "
                             "--max-concurrency applies per worker. A Ray flag alone implies --engine ray")


def engine_options(args: argparse.Namespace) -> dict[str, Any]:
    """The engine flags as ``Client`` keywords (None where not given); a Ray flag alone means ``--engine ray``."""
    engine = args.engine
    if args.ray_address is not None or args.ray_actors is not None:
        if (engine or "ray").strip().lower() != "ray":
            raise UserError(f"--ray-address and --ray-actors apply to the Ray engine, not to '{engine}'.",
                            hint="drop them, or pass --engine ray.")
        engine = "ray"
    return {"engine": engine, "ray_address": args.ray_address, "ray_actors": args.ray_actors}
