"""``pfl config set | show``: user settings in ``PFL_HOME/config.json`` (see :mod:`promptflow_lite.settings`)."""

from __future__ import annotations

import argparse

from promptflow_lite.cli._common import print_json
from promptflow_lite.errors import UserError

ORDER = 80


def register(sub: argparse._SubParsersAction) -> None:
    config = sub.add_parser("config", help="set and show settings (trace store caps)")
    commands = config.add_subparsers(dest="config_command", metavar="COMMAND")

    setter = commands.add_parser("set", help="set settings: KEY=VALUE ... (an empty VALUE clears KEY)",
                                 description="Settings: trace.max_size_mb (prune the oldest traces when the trace "
                                             "store holds more), trace.max_age_days (prune older traces). "
                                             "Each has an environment variable that overrides it (`pfl config show`).")
    setter.add_argument("pairs", nargs="+", metavar="KEY=VALUE")
    setter.set_defaults(func=_set)

    show = commands.add_parser("show", help="show every setting, its value and where it comes from")
    show.add_argument("--output", "-o", choices=["table", "json"], default="table")
    show.set_defaults(func=_show)

    config.set_defaults(func=lambda args: config.print_help())


def _set(args: argparse.Namespace) -> int:
    from promptflow_lite.settings import config_path, set_settings

    values = {}
    for pair in args.pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(f"'{pair}' is not KEY=VALUE.", hint="e.g. pfl config set trace.max_age_days=30")
        values[key.strip()] = value
    stored = set_settings(values)
    for key in values:
        print(f"{key} = {stored[key]:g}" if key in stored else f"{key} cleared")
    print(f"Saved in {config_path()}.")
    return 0


def _show(args: argparse.Namespace) -> int:
    from promptflow_lite.settings import effective_settings

    rows = effective_settings()
    if args.output == "json":
        print_json({row["key"]: row["value"] for row in rows})
        return 0
    for row in rows:
        value = "(not set)" if row["value"] is None else f"{row['value']:g}"
        source = {"env": f"from {row['env']}", "config": "from pfl config", "default": f"env {row['env']}"}
        print(f"{row['key']} = {value}  [{source[row['source']]}]  {row['help']}")
    return 0
