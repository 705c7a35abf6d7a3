"""Server time of the flow editor on a 50-node flow, measured in-process with Streamlit's AppTest.

    python editor_timing.py APP_PY RUNS  ->  prints JSON {"render": [s...], "select": [s...]}

``render`` is the first script run of a fresh session (the flow opened, validated, laid out and drawn);
``select`` is the rerun after choosing a node (inspector shown). Run with the promptflow_lite interpreter.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path


def make_flow(folder: Path, size: int = 50) -> None:
    """A 50-node python flow: 10 nodes read the input, each later node two earlier ones (a wide, deep DAG)."""
    lines = ["inputs:\n  question:\n    type: string\noutputs:\n  answer:\n    type: string\n",
             f"    reference: ${{n{size - 1}.output}}\nnodes:\n"]
    for i in range(size):
        refs = ["${inputs.question}"] if i < 10 else [f"${{n{i - 10}.output}}", f"${{n{i - 7}.output}}"]
        inputs = "".join(f"    x{k}: {ref}\n" for k, ref in enumerate(refs))
        lines.append(f"- name: n{i}\n  type: python\n  source:\n    type: code\n    path: step.py\n  inputs:\n{inputs}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "flow.dag.yaml").write_text("".join(lines))
    (folder / "step.py").write_text("from promptflow.core import tool\n\n\n@tool\ndef step(x0: str, x1: str = '') -> str:"
                                    "\n    return x0 + x1\n")


def main(app: str, runs: int) -> None:
    from streamlit.testing.v1 import AppTest

    folder = Path(tempfile.mkdtemp(prefix="pfl-ui-bench-")) / "flow50"
    make_flow(folder)
    os.environ["PFL_UI_FLOW"] = str(folder)
    render, select = [], []
    for index in range(runs + 1):  # the first pair warms imports and caches up
        at = AppTest.from_file(app, default_timeout=300)
        start = time.perf_counter()
        at.run()
        first = time.perf_counter() - start
        box = next(s for s in at.selectbox if s.label == "Selected node")
        assert not at.exception and len(box.options) == 52, at.exception
        start = time.perf_counter()
        box.select(f"n{25 + index % 10}").run()
        second = time.perf_counter() - start
        assert not at.exception, at.exception
        if index:
            render.append(first)
            select.append(second)
    print(json.dumps({"render": render, "select": select}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
