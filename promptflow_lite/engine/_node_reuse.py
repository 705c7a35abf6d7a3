"""Taking a node's result from another run of the same line: the hook a variant-grid evaluation installs.

When several runs execute variant combinations of one flow over the same lines (``pfl eval
--grid``), a node whose inputs do not depend on the variants that differ computes the same thing
in each of them. A :class:`NodeReuse` installed with :func:`reusing` around those runs is shown
every node that completes (``store``) and may answer a node before it runs (``lookup``): the
scheduler then takes the returned ``NodeRun`` (its output and tokens, taking no time now) instead of
running the node; its record and span say ``reused_from``: the run that computed it. Nothing is
installed by default: a plain run never reuses anything.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator, Protocol

from promptflow_lite.engine._results import NodeRun


class NodeReuse(Protocol):
    def lookup(self, node: str, line_number: int | None) -> NodeRun | None:
        """A finished run of ``node`` on this line to use instead of running it (or None: run it)."""

    def store(self, node: str, line_number: int | None, run: NodeRun) -> None:
        """``node`` completed on this line (called before its dependents start)."""


active_reuse: ContextVar[NodeReuse | None] = ContextVar("pfl_node_reuse", default=None)


@contextmanager
def reusing(hook: NodeReuse | None) -> Iterator[None]:
    """Lines started inside the block consult ``hook`` (None: no reuse)."""
    token = active_reuse.set(hook)
    try:
        yield
    finally:
        active_reuse.reset(token)
