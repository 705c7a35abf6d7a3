"""Where a sync tool runs: in the thread pool, until it has proven cheap.

A hop to the thread pool costs tens of microseconds - more than many tools take (string
clean-up, parsing, formatting). Each sync node therefore starts in the pool, timed; once
``PROBE_CALLS`` calls in a row took under ``INLINE_BELOW`` seconds it is called directly on the
event loop (in a copy of the context, as in the pool). It goes back to the pool for good when
a direct call blocks for longer than ``BLOCKING`` or ``SLOW_STRIKES`` calls take longer than
``SLOW`` (a single slow call may just have waited for the GIL), so slow or blocking tools never
stall the loop for long. ``PFL_INLINE_SYNC_TOOLS=0`` keeps every sync tool in the pool.
"""

from __future__ import annotations

import contextvars
import os
import time
from typing import Any, Callable

from promptflow_lite.engine._threads import run_in_thread

PROBE_CALLS = 8
INLINE_BELOW = 0.0005
SLOW, SLOW_STRIKES = 0.005, 3
BLOCKING = 0.05


class SyncDispatch:
    """The running decision for one sync tool (shared by all lines; races are harmless)."""

    __slots__ = ("func", "inline", "fast_calls", "strikes", "enabled")

    def __init__(self, func: Callable[..., Any]):
        self.func = func
        self.inline = False
        self.fast_calls = 0  # in a row, on probation
        self.strikes = 0
        self.enabled = os.environ.get("PFL_INLINE_SYNC_TOOLS", "1") != "0"

    async def call(self, kwargs: dict[str, Any]) -> Any:
        if self.inline:
            started = time.perf_counter()
            try:
                return contextvars.copy_context().run(self.func, **kwargs)
            except RuntimeError as exc:
                if "event loop" not in str(exc):
                    raise
                self.inline = self.enabled = False  # the tool runs asyncio itself: it needs a thread
            finally:
                took = time.perf_counter() - started
                if took > SLOW:
                    self.strikes += 1
                    if took > BLOCKING or self.strikes >= SLOW_STRIKES:
                        self.inline = self.enabled = False
        result, took = await run_in_thread(self._timed, **kwargs)
        if self.enabled:
            self.fast_calls = self.fast_calls + 1 if took < INLINE_BELOW else 0
            if self.fast_calls >= PROBE_CALLS:
                self.inline = True
        return result

    def _timed(self, **kwargs: Any) -> tuple[Any, float]:
        started = time.perf_counter()
        result = self.func(**kwargs)
        return result, time.perf_counter() - started
