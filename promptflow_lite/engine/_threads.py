"""Running sync tools off the event loop, in the caller's context.

Sync tools run in one shared thread pool (created on first use) so that blocking calls and
CPU-heavy code never stall the asyncio scheduler; the context (metrics collector, tracing
span, captured output) travels with each call.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

_pool: ThreadPoolExecutor | None = None


def thread_pool() -> ThreadPoolExecutor:
    """The shared pool; size from ``PFL_THREADS`` (default 256: sync tools often block on I/O,
    and a batch keeps many lines in flight; threads are only started when needed)."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=int(os.environ.get("PFL_THREADS", "256")),
                                   thread_name_prefix="pfl-tool")
    return _pool


async def run_in_thread(func: Callable[..., Any], /, **kwargs: Any) -> Any:
    """Await ``func(**kwargs)`` run in the shared pool with a copy of the current context."""
    context = contextvars.copy_context()
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(thread_pool(), functools.partial(context.run, func, **kwargs))
