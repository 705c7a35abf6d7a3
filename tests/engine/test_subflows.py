"""A python node that loads and calls a sub-flow never moves the process's working directory."""

from __future__ import annotations

import json
import os
import uuid

from promptflow_lite.cli.main import main

# The sibling reads a file relative to the main flow's folder exactly while the sub-flow is being
# loaded (the sub-flow's tool module waits for it at import), so a cwd change during the load shows.
MAIN_FLOW = {
    "flow.dag.yaml": """
        inputs:
          text:
            type: string
        outputs:
          shouted:
            type: string
            reference: ${call_sub.output}
          note:
            type: string
            reference: ${read_note.output}
          cwd_after:
            type: string
            reference: ${cwd_after.output}
        nodes:
        - name: call_sub
          type: python
          source: {type: code, path: call_sub.py}
          inputs:
            text: ${inputs.text}
        - name: read_note
          type: python
          source: {type: code, path: read_note.py}
          inputs:
            text: ${inputs.text}
        - name: cwd_after
          type: python
          source: {type: code, path: cwd_after.py}
          inputs:
            shouted: ${call_sub.output}
            note: ${read_note.output}
    """,
    "note.txt": "main note",
    "sync_point.py": """
        import threading
        sub_loading = threading.Event()
        sibling_read = threading.Event()
    """,
    "call_sub.py": """
        from promptflow.core import tool
        from promptflow.client import load_flow

        @tool
        def call_sub(text: str) -> str:
            return load_flow("sub_flow")(text=text)["shouted"]
    """,
    "read_note.py": """
        from promptflow.core import tool
        import sync_point

        @tool
        def read_note(text: str) -> str:
            assert sync_point.sub_loading.wait(60), "the sub-flow never started loading"
            try:
                with open("note.txt") as f:  # relative: promptflow runs a flow from its folder
                    return f.read()
            finally:
                sync_point.sibling_read.set()
    """,
    "cwd_after.py": """
        import os
        from promptflow.core import tool

        @tool
        def cwd_after(shouted: str, note: str) -> str:
            return os.getcwd()
    """,
    "sub_flow/flow.dag.yaml": """
        inputs:
          text:
            type: string
        outputs:
          shouted:
            type: string
            reference: ${shout.output}
        nodes:
        - name: prompt
          type: prompt
          source: {type: code, path: shout.jinja2}
          inputs:
            text: ${inputs.text}
        - name: shout
          type: python
          source: {type: code, path: shout.py}
          inputs:
            rendered: ${prompt.output}
    """,
    "sub_flow/shout.jinja2": "{{text}}!",
    "sub_flow/suffix.txt": "~sub",
    "sub_flow/shout.py": """
        from pathlib import Path
        from promptflow.core import tool
        import sync_point

        sync_point.sub_loading.set()  # runs while the sub-flow loads
        assert sync_point.sibling_read.wait(60), "the sibling node never read its file"
        SUFFIX = (Path(__file__).parent / "suffix.txt").read_text()

        @tool
        def shout(rendered: str) -> str:
            return rendered.upper() + SUFFIX
    """,
}


def main_flow(make_flow):
    """The main flow in tmp_path, its sync module named uniquely (modules stay imported between tests)."""
    module = f"sync_{uuid.uuid4().hex}"
    files = {name.replace("sync_point", module): text.replace("sync_point", module) for name, text in MAIN_FLOW.items()}
    return make_flow(files, name="main")


def test_flow_test_of_a_flow_calling_a_sub_flow(make_flow, capsys):
    folder = main_flow(make_flow)
    before = os.getcwd()
    code = main(["flow", "test", "--flow", str(folder), "--inputs", "text=hello", "--output", "json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert json.loads(captured.out) == {"shouted": "HELLO!~sub", "note": "main note", "cwd_after": str(folder)}
    assert os.getcwd() == before


def test_batch_run_of_a_flow_calling_a_sub_flow(make_flow, tmp_path, capsys):
    folder = main_flow(make_flow)
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"text": t}) + "\n" for t in ("a", "b", "c")))
    before = os.getcwd()
    code = main(["run", "create", "--flow", str(folder), "--data", str(data), "--name", "subflows"])
    assert code == 0, capsys.readouterr().err
    assert os.getcwd() == before
    capsys.readouterr()
    assert main(["run", "show-details", "--name", "subflows", "--output", "json"]) == 0
    details = json.loads(capsys.readouterr().out)
    rows = sorted((row["outputs.shouted"], row["outputs.note"]) for row in details)
    assert rows == [("A!~sub", "main note"), ("B!~sub", "main note"), ("C!~sub", "main note")]


def test_python_api_call_of_a_flow_calling_a_sub_flow(make_flow, monkeypatch):
    from promptflow_lite import load_flow

    folder = main_flow(make_flow)
    monkeypatch.chdir(folder)  # the user runs their script from the flow folder
    outputs = load_flow(folder)(text="hi")
    assert outputs == {"shouted": "HI!~sub", "note": "main note", "cwd_after": str(folder)}
    assert os.getcwd() == str(folder)
