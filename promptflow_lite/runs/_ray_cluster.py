"""Connecting the Ray engine to a cluster, or starting a private one on this machine - with no telemetry.

``connect(address)``: ``local`` (the default, unless ``RAY_ADDRESS`` is set) starts a single-node
cluster for this process with every Ray service bound to 127.0.0.1, Ray's usage statistics off, no
dashboard web UI, workers at this process's priority (not Ray's niceness 15), and a random token (in
this process's environment, never in a file) that any process joining it must present; it stops when
the process exits. ``auto`` joins the cluster that ``ray start``
runs on this machine, ``HOST:PORT`` the one whose head is there, ``ray://HOST:PORT`` goes through
Ray Client. A process connects once and keeps the connection for its later runs (``pfl eval`` makes
several); a process that connected itself (``ray.init``) is used as it is. A cluster started by
someone else keeps its own settings (the README says how to keep its usage statistics off).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass

from promptflow_lite.errors import UserError

LOCAL, AUTO = "local", "auto"
NAMESPACE = "promptflow_lite"
_NO_TELEMETRY = {"RAY_USAGE_STATS_ENABLED": "0"}
# Ray starts workers at niceness 15 (below every other process): on a machine doing other work the
# lines would get a sliver of the CPU the local engine gets; a private cluster's workers run as pfl does
_DRIVER_PRIORITY = {"RAY_worker_niceness": "0"}
# Ray's single-node mode (made for laptops): the node's address is 127.0.0.1, so that every Ray
# service listens there only, and no other machine can join
_LOOPBACK_ONLY = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
INSTALL_HINT = "install it with `pip install 'promptflow_lite[ray]'` (the same versions on every node)."


@dataclass(frozen=True)
class Cluster:
    """The cluster this process is connected to."""

    address: str  # the head's address (or the Ray Client URL)
    started: bool  # this process started it (``local``)
    cpus: int
    seconds: float  # taken to start or join it (0 when the process was connected already)
    node: str | None  # this process's Ray node (None through Ray Client)

    def describe(self) -> str:
        how = "a private cluster started on 127.0.0.1" if self.started else "the cluster at " + self.address
        return f"{how} ({self.cpus} CPUs)"


def check_installed() -> None:
    """Raise a ``UserError`` saying how to install Ray when it is missing (without importing it)."""
    from importlib.util import find_spec

    if find_spec("ray") is None:
        raise UserError("The Ray engine needs Ray, which is not installed.", hint=INSTALL_HINT)


def connected() -> bool:
    """Whether this process is connected to a cluster already (without importing Ray)."""
    ray = sys.modules.get("ray")
    return ray is not None and ray.is_initialized()


def connect(address: str | None = None) -> Cluster:
    """Join or start the cluster for ``address`` (see the module docstring); raises ``UserError`` when it fails."""
    check_installed()
    address = resolve_address(address)
    if address == LOCAL:
        os.environ.update(_NO_TELEMETRY)
        os.environ.update(_LOOPBACK_ONLY)
        for key, value in _DRIVER_PRIORITY.items():
            os.environ.setdefault(key, value)  # unless the user set it
        _token_in_memory()
    started = time.perf_counter()
    import ray

    if connected():
        return _describe(ray, started=None, seconds=0.0)
    if address == LOCAL:
        _loopback_only_if_imported_before()
        options = {"include_dashboard": False}
    else:
        options = {}
    try:
        ray.init(address=address, namespace=NAMESPACE, log_to_driver=False, logging_level=logging.WARNING, **options)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        raise UserError(f"Cannot connect to the Ray cluster at '{address}': {exc}",
                        hint=_connect_hint(address)) from None
    except ImportError as exc:  # ray:// needs Ray Client's extra packages
        raise UserError(f"Cannot connect to '{address}': {exc}.",
                        hint="Ray Client needs `pip install 'ray[client]'`; or run pfl on the head node with "
                             "--ray-address auto.") from None
    return _describe(ray, started=address == LOCAL, seconds=time.perf_counter() - started)


_started: set[str] = set()  # the addresses of the clusters this process started


def resolve_address(address: str | None) -> str:
    """``address``, else ``RAY_ADDRESS``, else ``local``; checked for its form."""
    address = (address or os.environ.get("RAY_ADDRESS") or LOCAL).strip()
    lowered = address.lower()
    if lowered in (LOCAL, AUTO):
        return lowered
    if lowered.startswith("ray://") or (":" in address and "://" not in address):
        return address
    raise UserError(f"'{address}' is not a Ray address.",
                    hint="use local (a private cluster on this machine), auto (the cluster `ray start` runs here), "
                         "HOST:PORT (a cluster's head) or ray://HOST:PORT (Ray Client).")


def _describe(ray, *, started: bool | None, seconds: float) -> Cluster:
    """The connected cluster; ``started`` None: as recorded when this process connected."""
    context = ray.get_runtime_context()
    try:
        address = context.gcs_address
    except Exception:  # noqa: BLE001 - Ray Client has no GCS address of its own
        address = os.environ.get("RAY_ADDRESS", "")
    try:
        node = context.get_node_id()
    except Exception:  # noqa: BLE001
        node = None
    cpus = int(ray.cluster_resources().get("CPU", 0))
    if started:
        _started.add(str(address))
    return Cluster(str(address), str(address) in _started, cpus, seconds, node)


def _token_in_memory() -> None:
    """Ray's token authentication for the private cluster, with a token of its own kept in the environment
    (inherited by the cluster's processes) instead of the file Ray would write to ``~/.ray``. Ray reads the
    setting when it is imported: if the user's code imported it before, Ray's own default applies."""
    if "RAY_AUTH_MODE" not in os.environ and "ray" not in sys.modules:
        import secrets

        os.environ["RAY_AUTH_MODE"] = "token"
        os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))


def _loopback_only_if_imported_before() -> None:
    """Ray reads its single-node setting when it is imported: if it was imported before (by the user's
    code), apply the setting to the loaded module too."""
    constants = sys.modules.get("ray._private.ray_constants")
    if constants is not None and getattr(constants, "ENABLE_RAY_CLUSTER", False):
        constants.ENABLE_RAY_CLUSTER = False


def _connect_hint(address: str) -> str:
    if address == AUTO:
        return ("start one with `ray start --head --disable-usage-stats`, pass its HOST:PORT, or use "
                "--ray-address local for a private cluster on this machine.")
    if address == LOCAL:
        return "see Ray's message above; `ray status` shows whether Ray runs on this machine."
    return "check the address and that the cluster runs (`ray status --address HOST:PORT` on the head node)."
