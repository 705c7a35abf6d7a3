"""Helpers for UI tests: a ``pfl ui`` process on a free port, and Debian's Chromium through Playwright."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

URL = re.compile(r"UI: (http://\S+)")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


class UiProcess:
    """``pfl [global args] ui ARGS`` started with ``--port 0``; ``url`` is what it printed once healthy."""

    def __init__(self, args: list[str], *, pfl: list[str] | None = None, global_args: list[str] = (),
                 env: dict[str, str] | None = None, cwd: str | Path | None = None):
        command = (pfl or [sys.executable, "-m", "promptflow_lite.cli.main"]) + [*global_args, "ui", "--port", "0",
                                                                                  *args]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, **(env or {})}, cwd=cwd)
        line = self.proc.stdout.readline()  # blocks until healthy (pfl ui waits up to its own timeout)
        match = URL.search(line)
        if not match:
            self.proc.kill()
            raise AssertionError(f"pfl ui printed no URL: {line!r}\n{self.proc.stderr.read()}")
        self.url = match.group(1)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@contextmanager
def running_ui(args: list[str] = (), **options):
    ui = UiProcess(list(args), **options)
    try:
        yield ui
    finally:
        ui.stop()


@contextmanager
def chromium_page(width: int = 1500, height: int = 1000):
    """A page of a headless Debian Chromium (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()


def wait_until_idle(page, settle_ms: int = 400) -> None:
    """Wait until Streamlit has finished the script run an interaction started (as Streamlit's own e2e tests do)."""
    page.wait_for_timeout(settle_ms)  # the rerun request reaches the server
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=120_000)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000)
