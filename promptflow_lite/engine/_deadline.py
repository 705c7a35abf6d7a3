"""A time limit on an awaitable that never loses a cancel.

``asyncio.wait_for`` on Python 3.11 can swallow a cancel that arrives as the awaited work
finishes (CPython gh-86296): a cancelled batch run then kept running. ``asyncio.timeout``
(its 3.10 backport is ``async-timeout``) does not have that race.
"""

from __future__ import annotations

import sys
from typing import Any, Awaitable

if sys.version_info >= (3, 11):
    from asyncio import timeout as _timeout
else:  # pragma: no cover - exercised on Python 3.10 only
    from async_timeout import timeout as _timeout


async def within(awaitable: Awaitable[Any], seconds: float | None) -> Any:
    """``awaitable``'s result; ``asyncio.TimeoutError`` after ``seconds`` (no limit when falsy)."""
    if not seconds:
        return await awaitable
    async with _timeout(seconds):
        return await awaitable
