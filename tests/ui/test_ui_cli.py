"""`pfl ui` as a user starts it: headless Streamlit that answers, shows the app in a browser and stops cleanly;
also after a plain (non-editable) wheel install."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from _ui_server import UiProcess, chromium_page, running_ui, wait_until_idle

ROOT = Path(__file__).resolve().parents[2]
CLASSIFICATION = ROOT / "flows" / "classification"


def _health(url: str) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{url}/_stcore/health", timeout=10) as answer:
        return answer.status


def test_pfl_ui_answers_shows_the_flow_and_stops_streamlit_with_it(tmp_path):
    ui = UiProcess(["--flow", str(CLASSIFICATION)], cwd=tmp_path)
    try:
        assert ui.url.startswith("http://127.0.0.1:")
        assert _health(ui.url) == 200
        with chromium_page() as page:
            page.goto(ui.url)
            wait_until_idle(page)
            page.get_by_role("heading", name="classification").wait_for()
            sidebar = page.get_by_test_id("stSidebar").inner_text()
            assert "classification" in sidebar and "PFL_HOME" in sidebar
            page.screenshot(path=str(tmp_path / "shell.png"))
    finally:
        code = ui.stop()
    assert code == 0
    try:
        _health(ui.url)
        alive = True
    except OSError:
        alive = False
    assert not alive, "Streamlit kept running after pfl ui stopped"


def test_busy_port_is_a_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "promptflow_lite.cli.main", "ui", "--port", str(port)],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"Cannot listen on 127.0.0.1:{port}" in result.stderr and "--port" in result.stderr


def test_help_and_import_do_not_load_streamlit():
    code = ("import sys, contextlib, io, promptflow_lite\n"
            "from promptflow_lite.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    main(['--help']) if False else None\n"
            "    try: main(['ui', '--help'])\n"
            "    except SystemExit: pass\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('streamlit', 'ruamel')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"
