"""Running a flow's coroutine from sync code: in a fresh event loop, or in a thread when the caller's
thread already runs one; the LLM clients pooled on that loop are closed with it."""

from __future__ import annotations

import asyncio
import contextvars
import signal
import sys
import threading
from typing import Any


def run_sync(coro):
    """Run ``coro`` to completion from sync code, even when this thread already runs a loop."""
    coro = _closing_clients(coro)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _asyncio_run(coro)
    box: dict[str, Any] = {}
    context = contextvars.copy_context()  # keep the caller's trace span, metrics collector...

    def target() -> None:
        try:
            box["value"] = context.run(asyncio.run, coro)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="pfl-run-sync")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _asyncio_run(coro):
    """``asyncio.run`` with Python 3.11's Ctrl+C handling on 3.10 too: in the main thread the first
    SIGINT cancels the main task (a run stops cleanly, as ``Canceled``, keeping its finished lines)
    instead of raising KeyboardInterrupt wherever the loop happens to be; a second one raises."""
    if (sys.version_info >= (3, 11) or threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        return asyncio.run(coro)
    interrupted = False

    async def main():
        task, loop = asyncio.current_task(), asyncio.get_running_loop()

        def on_sigint(signum, frame):
            nonlocal interrupted
            if interrupted or task.done():
                raise KeyboardInterrupt()
            interrupted = True
            task.cancel()
            loop.call_soon_threadsafe(lambda: None)  # wake the loop up

        signal.signal(signal.SIGINT, on_sigint)
        try:
            return await coro
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    try:
        return asyncio.run(main())
    except asyncio.CancelledError:
        if interrupted:
            raise KeyboardInterrupt() from None
        raise


async def _closing_clients(coro):
    """Await ``coro``, then close the LLM clients pooled on this loop (they die with it)."""
    try:
        return await coro
    finally:
        import sys

        if "promptflow_lite.tools._llm_client" in sys.modules:
            await sys.modules["promptflow_lite.tools._llm_client"].close_async_clients()
