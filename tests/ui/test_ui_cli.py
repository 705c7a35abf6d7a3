"""`pfl ui` as a user starts it: headless Streamlit that answers, shows the app in a browser and stops cleanly;
also after a plain (non-editable) wheel install."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import sysconfig
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
            page.get_by_role("heading", name="Flow editor").wait_for()
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


def test_pfl_ui_runs_from_a_built_wheel(tmp_path):
    """A wheel built from the source tree, installed without -e into a fresh venv, serves the app's pages."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT),
                    "-w", str(tmp_path / "dist")], check=True, capture_output=True, timeout=600)
    wheel = next((tmp_path / "dist").glob("promptflow_lite-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
                   check=True, capture_output=True, timeout=600)
    # the dependencies come from this test's environment: a plain path entry, so its editable finder stays out
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    where = subprocess.run([str(python), "-c", "import json, promptflow_lite.ui as u, promptflow_lite.engine._flow as f; "
                            "print(json.dumps([str(u.APP), str(u.PAGES), f.__file__]))"],
                           capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    app, pages, engine = (Path(p) for p in json.loads(where))
    assert str(app).startswith(str(venv)) and (pages / "editor.py").is_file() and str(engine).startswith(str(venv))

    env = {"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    with running_ui(["--flow", str(CLASSIFICATION)], pfl=[str(venv / "bin" / "pfl")], env=env, cwd=tmp_path) as ui:
        assert _health(ui.url) == 200
        with chromium_page() as page:
            page.goto(ui.url)
            wait_until_idle(page)
            page.get_by_role("heading", name="Flow editor").wait_for()
