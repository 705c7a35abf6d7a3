"""``pfl ui``: start the Streamlit app (flow editor, runs, traces) and print its URL."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

from promptflow_lite.errors import UserError

ORDER = 60
STARTUP_TIMEOUT = 60.0  # seconds to wait for the first health answer (a loaded machine is slow)


def register(sub: argparse._SubParsersAction) -> None:
    ui = sub.add_parser("ui", help="open the visual flow editor, runs and traces in the browser (Streamlit)",
                        description="Start the promptflow_lite web app (Streamlit, headless) and print its URL. "
                                    "Needs the ui extra: pip install 'promptflow_lite[ui]'.")
    ui.add_argument("--flow", help="flow folder to open in the editor")
    ui.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1; 0.0.0.0 for other machines)")
    ui.add_argument("--port", type=int, default=8501, help="port (8501; 0 picks a free one)")
    ui.set_defaults(func=_ui)


def streamlit_command(host: str, port: int) -> list[str]:
    """The ``streamlit run`` command line of the app: headless, no usage statistics, XSRF protection on."""
    from promptflow_lite.ui import APP

    return [sys.executable, "-m", "streamlit", "run", str(APP),
            "--server.headless=true", f"--server.address={host}", f"--server.port={port}",
            "--server.enableXsrfProtection=true", "--server.fileWatcherType=none",
            "--browser.gatherUsageStats=false", "--client.toolbarMode=minimal",
            "--theme.base=light", "--logger.level=warning"]


def _ui(args: argparse.Namespace) -> int:
    import importlib.util

    if importlib.util.find_spec("streamlit") is None:
        raise UserError("The UI needs Streamlit, which is not installed.", hint="pip install 'promptflow_lite[ui]'.")
    env = dict(os.environ)
    if args.flow:
        from promptflow_lite.flow._loader import resolve_flow_path

        env["PFL_UI_FLOW"] = str(resolve_flow_path(args.flow)[1])
    port = _free_port(args.host, args.port)
    url = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '') else args.host}:{port}"
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))  # stop Streamlit too (the finally below)
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(streamlit_command(args.host, port), env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            if not _wait_healthy(url, process):
                log.seek(0)
                output = log.read().decode(errors="replace").strip()
                raise UserError(f"The UI did not start.{(' Streamlit said: ' + output) if output else ''}",
                                hint="run with --debug, or try another --port.")
            print(f"promptflow_lite UI: {url}  (Ctrl+C to stop)", flush=True)
            process.wait()
        except KeyboardInterrupt:
            pass
        finally:
            _stop(process)
    print("Stopped.", file=sys.stderr)
    return 0


def _free_port(host: str, port: int) -> int:
    """``port`` when it can be bound (0: any free one); a busy port is a clear error."""
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Streamlit binds: TIME_WAIT is no obstacle
            sock.bind((host, port))
        except OSError as exc:
            raise UserError(f"Cannot listen on {host}:{port}: {exc.strerror}.",
                            hint="choose another --port (0 picks a free one).") from None
        return sock.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen) -> bool:
    """Poll ``/_stcore/health`` until it answers ok; False when Streamlit exits or the wait times out."""
    import urllib.error
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with opener.open(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    return False


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
