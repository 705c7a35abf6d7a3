"""The local connection store read for a server by a short-lived child process.

A server reads its connections once, when its flows load, and then lives for days: decrypting
their secrets in a child process keeps ``cryptography`` (~7 MB, a tenth of a served flow's
memory) out of the server. The child hands back each connection's fields as JSON on a pipe; the
connection is rebuilt here (so its secrets are masked in this process too) and ``${env:...}``
values resolve in this process's environment. Should the child fail, the store is read in this
process instead, which raises the store's own error (an unknown name, a changed key file).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from promptflow_lite.connections._types import Connection, build_connection
from promptflow_lite.connections._values import resolve_env_references


class StoreReadAside:
    """A connection provider for the local store (``PFL_HOME``) that reads it in a child process."""

    def __init__(self) -> None:
        from promptflow_lite.home import pfl_home

        self.path = pfl_home() / "connections.sqlite"
        self._names: list[str] | None = None
        self._read: dict[str, Connection] = {}

    def names(self) -> list[str]:
        if self._names is None:
            self._names = _in_child(["names"])
            if self._names is None:
                self._names = _store().names()
        return self._names

    def get(self, name: str) -> Connection:
        if name not in self._read:
            fields = _in_child(["get", name])
            if fields is None:
                self._read[name] = _store().get(name, resolve_env=False)  # raises the store's error
            else:
                self._read[name] = build_connection(fields["type"], name=name, configs=fields["configs"],
                                                    secrets=fields["secrets"])
        return resolve_env_references(self._read[name])


def _store() -> Any:
    from promptflow_lite.connections._store import ConnectionStore

    return ConnectionStore()


def _in_child(args: list[str]) -> Any:
    """What ``python -m promptflow_lite.serve._store_reader ARGS`` prints (None if it fails)."""
    try:
        proc = subprocess.run([sys.executable, "-m", __name__, *args], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    try:
        return json.loads(proc.stdout)
    except ValueError:
        return None


def main(args: list[str]) -> int:
    """The child: print the store's names, or one connection's type, configs and secrets, as JSON."""
    store = _store()
    if args == ["names"]:
        answer: Any = store.names()
    elif len(args) == 2 and args[0] == "get":
        conn = store.get(args[1], resolve_env=False)
        answer = {"type": conn.TYPE, "configs": conn.configs, "secrets": conn.secrets}
    else:
        return 2
    sys.stdout.write(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
