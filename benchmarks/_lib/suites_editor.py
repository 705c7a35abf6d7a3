"""editor: ``pfl ui`` answering its health check after start; the flow editor's server time on a 50-node flow.

promptflow has no comparable local editor, so these are promptflow_lite's own figures with absolute targets
(issue 13: health within 3 s; a 50-node flow renders and a node selection reruns in under 1 s of server time).
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from _lib.context import Context, python_value

TIMING = Path(__file__).with_name("editor_timing.py")


def run_editor(ctx: Context) -> None:
    pfl = ctx.tools["pfl"]
    if python_value(pfl.python(), "import streamlit, streamlit_flow; print('ok')") != "ok":
        ctx.skip("editor", "editor", "`pfl ui`", "the ui extra is not installed (pip install 'promptflow_lite[ui]')")
        return
    health = ctx.figure("editor", "ui_health", "`pfl ui` start → health check answers", "s", target=("at_most", 3.0),
                        memory_target=False)
    for attempt in range(ctx.runs + 1):  # the first start warms the page cache up, not measured
        seconds = _time_to_health(pfl)
        ctx.log(f"  pfl  ui health{' (warm-up)' if not attempt else ''}: {seconds:.3f} s")
        if attempt:
            health.add("pfl", seconds)
    health.note = "`pfl ui --port P` spawned until `/_stcore/health` answers 200 (fresh process each time)"

    app = python_value(pfl.python(), "import promptflow_lite.ui as u; print(u.APP)")
    out = subprocess.run([pfl.python(), str(TIMING), app, str(max(ctx.runs, 3))], capture_output=True, text=True,
                         env=pfl.env(), timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"ui timing failed:\n{out.stderr[-2000:]}")
    times = json.loads(out.stdout.strip().splitlines()[-1])
    for key, title in (("render", "editor: open a 50-node flow (server time)"),
                       ("select", "editor: select a node, 50-node flow (server time)")):
        fig = ctx.figure("editor", f"editor_{key}_50", title, "s", target=("at_most", 1.0), memory_target=False)
        for value in times[key]:
            fig.add("pfl", value)
        ctx.log(f"  pfl  {key}: {', '.join(f'{v:.3f}' for v in times[key])} s")
        fig.note = "Streamlit AppTest run of the editor page: validation, layout, canvas and inspector"


def _time_to_health(pfl) -> float:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    start = time.perf_counter()
    proc = subprocess.Popen(pfl.cli() + ["ui", "--port", str(port)], env=pfl.env(), cwd=str(pfl.scratch),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while proc.poll() is None and time.perf_counter() - start < 120:
            try:
                with opener.open(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as answer:
                    if answer.status == 200:
                        return time.perf_counter() - start
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("pfl ui did not answer its health check")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
