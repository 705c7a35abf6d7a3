"""Flow code written for promptflow imports promptflow's names and runs without promptflow."""

from __future__ import annotations

import subprocess
import sys
import textwrap

USES_EVERYTHING = '''
from promptflow import tool as legacy_tool
from promptflow.core import tool, log_metric, ToolProvider
from promptflow.connections import CustomConnection, OpenAIConnection, AzureOpenAIConnection
from promptflow.contracts.multimedia import Image
from promptflow.contracts.types import PromptTemplate, Secret
from promptflow.tracing import trace, start_trace
from promptflow.exceptions import UserErrorException, SystemErrorException
from promptflow._core.tool import InputSetting
from promptflow.entities import DynamicList

assert legacy_tool is tool


@tool
def uses(x: str) -> str:
    from promptflow.connections import CustomConnection as Again  # imported at run time, inside the tool
    assert Again is CustomConnection
    err = UserErrorException(message="bad input")
    return f"{x}|{type(err).__name__}|{err}|{Image(b'abc')}"
'''

FLOW = """
inputs:
  x:
    type: string
outputs:
  out:
    reference: ${uses.output}
nodes:
- name: uses
  type: python
  source:
    type: code
    path: uses.py
  inputs:
    x: ${inputs.x}
"""


def test_promptflow_imports_work_without_promptflow(make_flow):
    from promptflow_lite.engine import load_flow

    folder = make_flow({"flow.dag.yaml": FLOW, "uses.py": USES_EVERYTHING})
    out = load_flow(folder)(x="hi")["out"]
    assert out.startswith("hi|UserErrorException|bad input|Image(")


def test_real_promptflow_side_by_side_is_left_alone(make_flow, tmp_path):
    # A stand-in "real" promptflow package that must stay importable, unchanged, around our flow.
    fake = tmp_path / "site" / "promptflow"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("REAL = True\n")
    folder = make_flow({"flow.dag.yaml": FLOW, "uses.py": USES_EVERYTHING})
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(fake.parent)!r})
        import promptflow
        assert promptflow.REAL
        from promptflow_lite.engine import load_flow
        out = load_flow({str(folder)!r})(x="hi")["out"]
        assert out.startswith("hi|UserErrorException"), out
        import promptflow as again
        assert again is promptflow and again.REAL
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_unknown_promptflow_name_gives_a_clear_error(make_flow):
    from promptflow_lite.engine import load_flow

    code = "from promptflow.core import tool, DoesNotExist\n@tool\ndef f():\n    return 1\n"
    folder = make_flow({"flow.dag.yaml": FLOW.replace("x: ${inputs.x}", "{}"), "uses.py": code})
    try:
        load_flow(folder)
    except Exception as exc:
        assert "DoesNotExist" in str(exc) and "uses.py" in str(exc)
    else:
        raise AssertionError("loading should fail")
