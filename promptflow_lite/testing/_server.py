"""The scripted OpenAI-compatible server: real HTTP on 127.0.0.1, in a background thread or the foreground.

>>> with ScriptedServer(rules=[Rule(r"capital of (\\w+)", r"Paris is in \\1.")]) as server:
...     client = openai.OpenAI(base_url=server.base_url, api_key="x")

The background thread runs its own asyncio loop, so requests overlap (latency is an async
sleep) while the test thread stays synchronous. ``serve_forever`` runs in the calling thread
until SIGINT/SIGTERM (``pfl testing serve``).
"""

from __future__ import annotations

import asyncio
import signal
import threading
from typing import Callable

from promptflow_lite.errors import UserError
from promptflow_lite.testing._app import ScriptedApp
from promptflow_lite.testing._http import HttpServer


class ScriptedServer(ScriptedApp):
    """A :class:`ScriptedApp` listening on ``host:port`` (``port=0``: a free port, see :attr:`url`).

    Takes the app's settings (``rules``, ``latency``, ``fail_rate``, ``fail_kinds``, ``retry_after``,
    ``api_key``, ``echo_key``, ``seed``, ``hang_seconds``); use it as a context manager or call
    :meth:`start`/:meth:`stop`.
    """

    def __init__(self, rules=None, *, host: str = "127.0.0.1", port: int = 0, **settings):
        super().__init__(rules, **settings)
        self.host = host
        self.port = port
        self._http = HttpServer(self.handle)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._listening = False

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` (the Azure OpenAI endpoint)."""
        if not self._listening:
            raise RuntimeError("The scripted server is not running: call start() or use it in a 'with' block.")
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT/v1`` (the OpenAI base URL)."""
        return self.url + "/v1"

    def start(self) -> "ScriptedServer":
        """Listen in a background thread; returns once the port is open."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = self._loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(self._listen())
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                loop.close()
                return
            finally:
                ready.set()
            loop.run_forever()
            loop.run_until_complete(self._close())
            loop.close()

        self._thread = threading.Thread(target=run, name=f"scripted-openai-{self.port}", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Close the port and every open connection; waits for the background thread."""
        if self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._thread = None

    def serve_forever(self, on_ready: Callable[[str], None] | None = None) -> None:
        """Serve in the calling (main) thread until SIGINT or SIGTERM; ``on_ready(base_url)`` once listening."""
        asyncio.run(self._serve_until_signal(on_ready))

    def __enter__(self) -> "ScriptedServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    async def _listen(self) -> None:
        try:
            self.port = await self._http.start(self.host, self.port)
        except OSError as exc:
            raise UserError(f"Cannot listen on {self.host}:{self.port}: {exc.strerror or exc}.",
                            hint="choose another --port, or 0 for any free port.") from None
        self._listening = True

    async def _close(self) -> None:
        self._listening = False
        await self._http.close()

    async def _serve_until_signal(self, on_ready: Callable[[str], None] | None) -> None:
        await self._listen()
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stopped.set)
            except (NotImplementedError, RuntimeError):  # not the main thread, or Windows: Ctrl+C still works
                pass
        try:
            if on_ready:
                on_ready(self.base_url)
            await stopped.wait()
        finally:
            await self._close()
