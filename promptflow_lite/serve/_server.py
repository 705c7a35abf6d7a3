"""Running the app: ``serve_flow`` in the foreground (``pfl flow serve``), ``ServerThread`` in the background.

Uvicorn does the HTTP (with httptools / uvloop when they are installed); the access log is off
unless asked for. We bind the socket ourselves so a busy port is a clear error and port 0 picks
a free one. SIGINT / SIGTERM finish the requests in flight, then stop the server.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from promptflow_lite.errors import UserError

OPTIONS_ENV = "PFL_SERVE_OPTIONS"  # how worker processes learn what to load (--workers N)
_FACTORY = "promptflow_lite.serve._server:app_from_environment"


def serve_flow(source: str | Path | Sequence[str | Path], *, host: str = "127.0.0.1", port: int = 8080,
               variant: str | None = None, environment_variables: dict[str, Any] | None = None,
               init: dict[str, Any] | None = None, workers: int = 1, access_log: bool = False,
               on_ready: Callable[[str], None] | None = None, settings: Any = None,
               api_key_env: str | None = None, trace_store: bool = False) -> None:
    """Serve the flow at ``source`` (or several flows) until SIGINT or SIGTERM; ``on_ready(url)`` once it answers.

    Each flow is loaded once per process; with one flow the working directory becomes its folder
    (as promptflow does). ``workers`` > 1 runs that many processes on one port; they read the API
    key from the environment (``api_key_env``, else ``PFL_SERVE_API_KEY``), never from their options.
    Requests are traced over OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, and into the local
    trace store only with ``trace_store`` (see :func:`create_app`).
    """
    from dataclasses import asdict

    from promptflow_lite.serve._app import create_app
    from promptflow_lite.serve._lean import server_imports

    sources = [str(Path(s).resolve()) for s in ([source] if isinstance(source, (str, Path)) else source)]
    options = {"source": sources[0] if len(sources) == 1 else sources, "variant": variant,
               "environment_variables": environment_variables, "init": init,
               "trace_store": trace_store}
    with server_imports():  # loaded here too with workers: a broken flow fails before any fork
        app = create_app(**options, settings=settings)
    enter_flow_folder(app)
    sock = bind_socket(host, port)
    url = http_url(host, sock.getsockname()[1])
    ready = (lambda: on_ready(url)) if on_ready else None
    if workers > 1:
        sock.close()  # uvicorn's supervisor binds the port again and shares it with the workers
        guard = {k: v for k, v in asdict(settings).items() if k != "api_key"} if settings is not None else None
        os.environ[OPTIONS_ENV] = json.dumps({**options, "settings": guard, "api_key_env": api_key_env})
        _share_metrics_between_workers()
        _serve_workers(url, workers, access_log, ready)
    else:
        _serve_app(app, sock, access_log, ready)


def _share_metrics_between_workers() -> None:
    """Workers count into files of one folder, so ``/metrics`` of any worker tells about all of them."""
    from promptflow_lite.serve._metrics import MULTIPROCESS_ENV

    if not os.environ.get(MULTIPROCESS_ENV):
        import atexit
        import shutil
        import tempfile

        folder = tempfile.mkdtemp(prefix="pfl-metrics-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        os.environ[MULTIPROCESS_ENV] = folder


def _serve_app(app: Any, sock: socket.socket, access_log: bool, ready: Callable[[], None] | None) -> None:
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=access_log, lifespan="on", ws="none"))
    previous = {sig: signal.signal(sig, lambda signum, frame: None)  # uvicorn re-raises the signal it stopped
                for sig in (signal.SIGINT, signal.SIGTERM)}          # on: we have stopped, nothing more to do
    if ready:
        _when(lambda: server.started, ready, give_up=lambda: server.should_exit)
    try:
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()


def _serve_workers(url: str, workers: int, access_log: bool, ready: Callable[[], None] | None) -> None:
    import uvicorn
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if ready:
        _when(lambda: _answers(parts.hostname, parts.port), ready)
    uvicorn.run(_FACTORY, factory=True, host=parts.hostname, port=parts.port, workers=workers, ws="none",
                log_level="warning", access_log=access_log)


def app_from_environment():
    """The app factory of each ``--workers`` process (options in ``PFL_SERVE_OPTIONS``); what the
    process prints is masked, as in the ``pfl`` process that started it."""
    import sys

    from promptflow_lite.masking import MaskedStream
    from promptflow_lite.serve._app import create_app
    from promptflow_lite.serve._lean import server_imports
    from promptflow_lite.serve._settings import ServeSettings, api_key_from_env

    sys.stdout, sys.stderr = MaskedStream(sys.stdout), MaskedStream(sys.stderr)

    options = json.loads(os.environ[OPTIONS_ENV])
    guard, key_env = options.pop("settings", None), options.pop("api_key_env", None)
    settings = ServeSettings(**(guard or {}), api_key=api_key_from_env(key_env))
    with server_imports():
        app = create_app(**options, settings=settings)
    enter_flow_folder(app)
    return app


def enter_flow_folder(app: Any) -> None:
    """With one flow, make its folder the working directory, so tools find their relative files."""
    if len(app.state.flows) != 1:
        return
    flow = app.state.flow
    folder = getattr(flow, "run_dir", None) or flow.working_dir
    os.environ["PROMPTFLOW_PROJECT_PATH"] = str(folder)
    os.chdir(folder)


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (0: a free port); a busy port is a ``UserError``."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise UserError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.", hint="check --host.") from None
    try:
        if os.name != "nt":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise UserError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.",
                        hint="choose another --port (0 picks a free one) or stop what uses it.") from None
    sock.set_inheritable(True)
    return sock


def http_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _when(condition: Callable[[], bool], callback: Callable[[], None],
          give_up: Callable[[], bool] = lambda: False, timeout: float = 300.0) -> None:
    """Call ``callback`` from a watcher thread once ``condition()`` holds."""
    def watch() -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if give_up() or time.monotonic() > deadline:
                return
            time.sleep(0.02)
        callback()

    threading.Thread(target=watch, name="pfl-serve-ready", daemon=True).start()


def _answers(host: str, port: int) -> bool:
    import http.client

    conn = http.client.HTTPConnection(host, port, timeout=2)
    try:
        conn.request("GET", "/health")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


class ServerThread:
    """An app served on ``host:port`` from a background thread (tests, benchmarks, notebooks)::

        with ServerThread(create_app("flows/chat_basic")) as server:
            urllib.request.urlopen(server.url + "/health")
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, **uvicorn_options: Any):
        self.app, self.host, self.port = app, host, port
        self._options = {"log_level": "warning", "access_log": False, "lifespan": "on", "log_config": None, "ws": "none",
                         **uvicorn_options}
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return http_url(self.host, self.port)

    def start(self, timeout: float = 30.0) -> "ServerThread":
        import uvicorn

        sock = bind_socket(self.host, self.port)
        self.port = sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(self.app, **self._options))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name=f"pfl-serve-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                raise RuntimeError(f"The server on {self.url} did not start.")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the requests in flight, run the app's shutdown, close the port."""
        if self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout)
        self._thread = None

    def __enter__(self) -> "ServerThread":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()
