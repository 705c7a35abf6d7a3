"""``pfl connection create | update | show | list | delete``: manage the local connection store."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from promptflow_lite.cli._common import add_name_argument, given_name, parse_key_values, print_json
from promptflow_lite.errors import UserError

ORDER = 40

_EXAMPLE = """\
example conn.yaml (promptflow's format):
  name: my_openai
  type: open_ai          # or azure_open_ai, serverless, custom, cognitive_search...
  api_key: "<user-input>" # asked for in the terminal; or ${env:OPENAI_API_KEY}, read at run time
  base_url: http://localhost:8000/v1

custom connections keep fields under `configs:` and `secrets:`; a .env file (with --name)
becomes a custom connection whose secrets are its KEY=VALUE pairs.
"""


def register(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser("connection", help="create, update, show, list and delete connections",
                           description="Manage connections. Secrets are encrypted at rest in PFL_HOME.")
    group.set_defaults(func=lambda _args: group.print_help())
    commands = group.add_subparsers(dest="connection_command", metavar="COMMAND")
    overrides = dict(nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                     help="override a field (custom connections: configs.KEY=V or secrets.KEY=V)")

    create = commands.add_parser("create", help="create (or replace) a connection from a YAML or .env file",
                                 epilog=_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    create.add_argument("--file", "-f", required=True, help="connection YAML, or a .env file")
    create.add_argument("--set", dest="overrides", **overrides)
    create.add_argument("--name", "-n", help="connection name (required for a .env file)")
    create.set_defaults(func=_create)

    update = commands.add_parser("update", help="change fields of a stored connection",
                                 description="Masked secrets ('', '******', '<no-change>') keep the stored value.")
    add_name_argument(update)
    update.add_argument("--file", "-f", help="a full definition to store under this name")
    update.add_argument("--set", dest="overrides", **overrides)
    update.set_defaults(func=_update)

    show = commands.add_parser("show", help="print a connection as JSON, secrets masked")
    add_name_argument(show)
    show.set_defaults(func=_show)

    listing = commands.add_parser("list", help="list connections, secrets masked")
    listing.add_argument("--output", "-o", choices=["json", "table"], default="json")
    listing.add_argument("-r", "--max-results", type=int, metavar="N", help="at most N connections (default: all)")
    listing.add_argument("--all-results", action="store_true", help="every connection (the default)")
    listing.set_defaults(func=_list)

    delete = commands.add_parser("delete", help="delete a connection")
    add_name_argument(delete)
    delete.add_argument("--yes", "-y", "--assume-yes", dest="yes", action="store_true", help="do not ask for confirmation")
    delete.set_defaults(func=_delete)


def _create(args: argparse.Namespace) -> int:
    from promptflow_lite.connections._files import load_connection_file
    from promptflow_lite.connections._store import ConnectionStore
    from promptflow_lite.connections._values import fill_secrets

    conn = load_connection_file(args.file, overrides=parse_key_values(args.overrides, "--set"), name=args.name)
    conn = fill_secrets(conn, prompt=_secret_prompt(conn.name))
    store = ConnectionStore()
    if conn.name in store.names():
        print(f"Connection '{conn.name}' already exists: replacing it.", file=sys.stderr)
    print_json(store.create_or_update(conn).to_dict())
    return 0


def _update(args: argparse.Namespace) -> int:
    from promptflow_lite.connections._files import apply_overrides, connection_from_dict, read_connection_file
    from promptflow_lite.connections._store import ConnectionStore
    from promptflow_lite.connections._values import fill_secrets

    name = given_name(args, "pfl connection update my_openai --set api_key=...")
    store = ConnectionStore()
    existing = store.get(name, resolve_env=False)
    data: dict[str, Any] = read_connection_file(args.file) if args.file else existing.to_dict(mask=True)
    data = apply_overrides({**data, "name": name}, parse_key_values(args.overrides, "--set"))
    conn = connection_from_dict(data, file=args.file)
    conn = fill_secrets(conn, existing=existing, prompt=_secret_prompt(name))
    print_json(store.create_or_update(conn).to_dict())
    return 0


def _show(args: argparse.Namespace) -> int:
    from promptflow_lite.connections._store import ConnectionStore

    name = given_name(args, "pfl connection show my_openai")
    print_json(ConnectionStore().get(name, with_secrets=False, resolve_env=False).to_dict())
    return 0


def _list(args: argparse.Namespace) -> int:
    from promptflow_lite.connections._store import ConnectionStore

    connections = ConnectionStore().list()
    if args.max_results is not None and not args.all_results:
        connections = connections[:args.max_results]
    if args.output == "json":
        print_json([conn.to_dict() for conn in connections])
        return 0
    rows = [(str(c.name), c.type, _summary(c)) for c in connections]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(("NAME", "TYPE"))]
    for name, kind, summary in [("NAME", "TYPE", "CONFIGS"), *rows]:
        print(f"{name:<{widths[0]}}  {kind:<{widths[1]}}  {summary}".rstrip())
    return 0


def _delete(args: argparse.Namespace) -> int:
    from promptflow_lite.connections._store import ConnectionStore

    name = given_name(args, "pfl connection delete my_openai -y")
    if not args.yes:
        if not sys.stdin.isatty():
            raise UserError(f"Not deleting connection '{name}' without confirmation.",
                            hint="pass -y to confirm.")
        if input(f"Delete connection '{name}'? [y/N] ").strip().lower() not in ("y", "yes"):
            print("Cancelled.", file=sys.stderr)
            return 0
    ConnectionStore().delete(name)
    print(f"Connection '{name}' deleted.")
    return 0


def _summary(conn, width: int = 70) -> str:
    text = ", ".join(f"{k}={v}" for k, v in conn.configs.items() if v not in (None, ""))
    return text if len(text) <= width else text[: width - 3] + "..."


def _secret_prompt(name: str | None):
    """Ask for secrets with getpass when attached to a terminal; None otherwise (placeholders then fail)."""
    if not sys.stdin.isatty():
        return None
    import getpass

    announced = []

    def ask(key: str) -> str:
        if not announced:
            print(f"Please input the secrets of connection '{name}':", file=sys.stderr)
            announced.append(True)
        while True:
            value = getpass.getpass(f"{key}: ")
            if value:
                return value
            print("A secret cannot be empty.", file=sys.stderr)

    return ask
