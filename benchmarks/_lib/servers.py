"""Background processes the suites talk to: the scripted OpenAI server and the flow servers."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from typing import Iterator

_LISTENING = re.compile(r"listening on (http://\S+?)/?\s*$")


@contextlib.contextmanager
def scripted_llm(pfl: list[str], latency_ms: float, env: dict[str, str]) -> Iterator[str]:
    """``pfl testing serve --port 0 --latency-ms N`` in its own process; yields its base URL (``.../v1``)."""
    log = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(pfl + ["testing", "serve", "--port", "0", "--latency-ms", str(latency_ms)],
                            stdout=subprocess.PIPE, stderr=log, text=True, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        base_url = None
        while time.monotonic() < deadline and base_url is None:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"the scripted server exited with {proc.returncode}:\n{log.read()[-2000:]}")
            match = _LISTENING.search(line.strip())
            base_url = match.group(1) if match else None
        if base_url is None:
            raise RuntimeError("the scripted server did not print its 'listening on' line within 30 s")
        yield base_url
    finally:
        stop(proc)
        log.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def flow_server(cmd: list[str], env: dict[str, str], port: int, cwd: str | None = None,
                timeout: float = 120) -> Iterator[subprocess.Popen]:
    """Start a flow server and wait until ``GET /health`` (or any HTTP answer on ``/``) responds."""
    log = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"{' '.join(cmd[:4])} exited with {proc.returncode}:\n{log.read()[-3000:]}")
            if _answers(f"http://127.0.0.1:{port}/health"):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{' '.join(cmd[:4])} did not answer on port {port} within {timeout:.0f} s")
            time.sleep(0.1)
        yield proc
    finally:
        stop(proc)
        log.close()


def _answers(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as response:
            return response.status < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM the process group, then SIGKILL after 10 s."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except OSError:
        proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            proc.kill()
        proc.wait()
