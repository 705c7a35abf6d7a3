"""What a server process loads without: the openai SDK's aiohttp transport and uvicorn's file watcher.

A served flow calls its model over httpx, the SDK's default transport: the aiohttp transport the SDK
imports whenever aiohttp is installed (~9 MB resident, for about a fifth less CPU per call) stays out of
the server unless ``PFL_LLM_HTTP=aiohttp`` asks for it. Uvicorn is imported without ``watchfiles``,
which only its ``--reload`` supervisor uses (it falls back to polling). Only these imports are steered,
while the flows load: code may still ``import aiohttp`` or ``watchfiles`` itself.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Iterator

SDK_AIOHTTP = "openai._vendor.httpx_aiohttp"  # the SDK's own module: nothing else imports it
WATCHER = "watchfiles"


@contextmanager
def server_imports() -> Iterator[None]:
    """Import uvicorn without its file watcher; within the block (load the flows in it), the SDK
    imports without its aiohttp transport, unless ``PFL_LLM_HTTP=aiohttp``."""
    with _absent([WATCHER]):
        import uvicorn  # noqa: F401  (the server needs it anyway)
    with _absent([] if os.environ.get("PFL_LLM_HTTP") == "aiohttp" else [SDK_AIOHTTP]):
        yield


@contextmanager
def _absent(names: list[str]) -> Iterator[None]:
    """``import name`` fails within the block, as for a module not installed (loaded ones stay)."""
    hidden = [name for name in names if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  (None: "not importable", see the import system)
    try:
        yield
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
