"""Node results shared between the runs of one evaluation, so combinations that agree on a node compute it once.

The runs of an evaluation execute variants of one flow over the same lines. A node whose sharing
key (:func:`promptflow_lite.evaluate._grid.sharing_keys`: its own and its ancestors' variant
choices) is the same in several of them gives the same result on a line, so the first run to
compute it keeps it and the others take it (the engine's :mod:`~promptflow_lite.engine._node_reuse`
hook): python work upstream of a variant node runs once per line, not once per combination.
LLM calls were already free the second time (the response cache); this also skips rendering,
the cache lookup and the python nodes. A kept result is a deep copy (so a node that changes its
input in place cannot change it for the next run) and is dropped once every run that shares it
took it. Results are shared between runs of the same repeat only.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import threading
import time
from dataclasses import dataclass
from typing import Any, Sequence

from promptflow_lite.engine._results import COMPLETED, NodeRun
from promptflow_lite.evaluate._grid import SharingKey


@dataclass
class _Kept:
    run: NodeRun
    output: Any
    source: str  # the run that computed it
    left: int  # runs still to take it


class SharedNodes:
    """Shared node results for the runs of one evaluation; ``keys`` from :func:`~._grid.sharing_keys`."""

    def __init__(self, keys: dict[str | None, dict[str, SharingKey]]):
        self.keys = keys
        self.reused = 0  # node results taken instead of computed
        self._users: dict[tuple[str, SharingKey], int] = {}
        self._kept: dict[tuple, _Kept] = {}
        self._lock = threading.Lock()

    def plan(self, selectors: Sequence[str | None]) -> None:
        """The runs about to execute (one per selector, on the same lines); forgets what earlier runs kept."""
        users: dict[tuple[str, SharingKey], int] = {}
        for selector in selectors:
            for node, key in self.keys[selector].items():
                users[(node, key)] = users.get((node, key), 0) + 1
        with self._lock:
            self._users = {item: count for item, count in users.items() if count > 1}
            self._kept.clear()

    def scope(self, selector: str | None, repeat: int, run_name: str) -> "_Scope":
        """The engine hook for the run of ``selector`` named ``run_name`` (repeat ``repeat``)."""
        return _Scope(self, selector, repeat, run_name)

    def _shared_key(self, selector: str | None, node: str) -> SharingKey | None:
        key = self.keys.get(selector, {}).get(node)
        return key if key is not None and (node, key) in self._users else None

    def _take(self, slot: tuple) -> NodeRun | None:
        with self._lock:
            kept = self._kept.get(slot)
            if kept is None:
                return None
            kept.left -= 1
            if kept.left <= 0:
                del self._kept[slot]
            self.reused += 1
        now = time.time()  # it takes no time here; the source run's record keeps how long it took there
        return dataclasses.replace(kept.run, output=copy.deepcopy(kept.output), reused_from=kept.source,
                                   cached=kept.run.model_calls > 0, start_time=now, end_time=now)

    def _keep(self, slot: tuple, users: int, run: NodeRun, source: str) -> None:
        if run.status != COMPLETED or run.reused_from or _is_stream(run.output):
            return
        try:
            output = copy.deepcopy(run.output)
        except Exception:  # noqa: BLE001 - not copyable (a client, a lock...): the other runs compute it
            return
        with self._lock:
            self._kept.setdefault(slot, _Kept(run, output, source, users - 1))


class _Scope:
    """:class:`~promptflow_lite.engine._node_reuse.NodeReuse` for one run."""

    def __init__(self, shared: SharedNodes, selector: str | None, repeat: int, run_name: str):
        self.shared, self.selector, self.repeat, self.run_name = shared, selector, repeat, run_name

    def lookup(self, node: str, line_number: int | None) -> NodeRun | None:
        key = self.shared._shared_key(self.selector, node)
        return None if key is None else self.shared._take((self.repeat, line_number, node, key))

    def store(self, node: str, line_number: int | None, run: NodeRun) -> None:
        key = self.shared._shared_key(self.selector, node)
        if key is not None:
            self.shared._keep((self.repeat, line_number, node, key), self.shared._users[(node, key)], run,
                              self.run_name)


def _is_stream(value: Any) -> bool:
    return inspect.isgenerator(value) or inspect.isasyncgen(value) or (
        hasattr(value, "__next__") and not isinstance(value, (str, bytes, dict, list)))
