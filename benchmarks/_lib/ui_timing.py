"""Server time of a page of the ``pfl ui`` app: the page's script run under Streamlit's AppTest, in the
interpreter of promptflow_lite (run as a script by ``suites_ui.py``; ``PFL_HOME`` from the environment).

    python ui_timing.py PAGE [KEY=VALUE ...] [--opens N] [--browser]

Imports are warmed first by opening the Runs list once (a running app has them loaded); then the
page is opened ``N`` times, each in a fresh session as a new visitor would. With ``--browser``, the
page is instead opened in Debian's headless Chromium against a real ``pfl ui``, timed from the
navigation until the app is idle and its chart painted. Prints JSON: ``{"seconds": [...],
"errors": [...]}`` (errors: messages the page showed, which make a run invalid).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def open_page(page: str, params: dict[str, str]):
    from streamlit.testing.v1 import AppTest

    from promptflow_lite.ui import APP

    app = AppTest.from_file(str(APP), default_timeout=600)
    for key, value in params.items():
        app.query_params[key] = value
    app.run()
    started = time.perf_counter()
    app.switch_page(f"views/{page}.py").run()
    seconds = time.perf_counter() - started
    errors = [str(e.value) for e in app.error] + [str(e.value) for e in app.exception]
    return seconds, errors


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
IDLE = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"


def browser_seconds(page_name: str, params: dict[str, str], opens: int) -> tuple[list[float], list[str]]:
    """Open the page in Chromium against ``pfl ui``; seconds from navigation to an idle app with its chart."""
    import re
    import subprocess
    import sys
    from urllib.parse import urlencode

    from playwright.sync_api import sync_playwright

    server = subprocess.Popen([sys.executable, "-m", "promptflow_lite.cli.main", "ui", "--port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = re.search(r"(http://\S+)", server.stdout.readline()).group(1)
        seconds, errors = [], []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.goto(url)
            page.wait_for_function(IDLE, timeout=120_000)
            for _ in range(opens):
                started = time.perf_counter()
                page.goto(f"{url}/{page_name}?{urlencode(params)}")
                page.wait_for_selector('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg',
                                       timeout=120_000)
                page.wait_for_function(IDLE, timeout=120_000)
                seconds.append(time.perf_counter() - started)
                errors += page.locator('[data-testid="stAlertContentError"]').all_inner_texts()
            browser.close()
        return seconds, errors
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("page")
    parser.add_argument("params", nargs="*")
    parser.add_argument("--opens", type=int, default=3)
    parser.add_argument("--browser", action="store_true")
    args = parser.parse_args()
    params = dict(item.split("=", 1) for item in args.params)
    if args.browser:
        seconds, errors = browser_seconds(args.page, params, args.opens)
    else:
        open_page("runs", {})  # warm the imports (streamlit, pandas, altair, the library)
        seconds, errors = [], []
        for _ in range(args.opens):
            took, shown = open_page(args.page, params)
            seconds.append(took)
            errors += shown
    print(json.dumps({"seconds": seconds, "errors": errors, "cwd": str(Path.cwd())}))


if __name__ == "__main__":
    main()
