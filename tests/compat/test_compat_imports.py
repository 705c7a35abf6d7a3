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


def _python(script: str, cwd, **env: str) -> subprocess.CompletedProcess:
    """A plain ``python script`` in a fresh process (no promptflow_lite import of its own)."""
    import os

    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, **env})


def test_a_plain_script_drives_runs_with_promptflows_client(tmp_path):
    from pathlib import Path

    classification = Path(__file__).resolve().parents[2] / "flows" / "classification"
    done = _python(f"""
        from promptflow.client import PFClient
        from promptflow.entities import Run, OpenAIConnection

        pf = PFClient()
        print(pf.test(flow={str(classification)!r}, inputs={{"text": "I was charged twice"}})["category"])
        base = pf.run(flow={str(classification)!r}, data={str(classification / "data.jsonl")!r},
                      column_mapping={{"text": "${{data.text}}"}})
        print(base.status, len(pf.get_details(base)))
        variant = pf.runs.create_or_update(Run(flow={str(classification)!r}, data={str(classification / "data.jsonl")!r},
                                               variant="${{classify.variant_1}}", runtime="ignored-locally"))
        print(variant.status)
        pf.connections.create_or_update(OpenAIConnection(name="oa", api_key="sk-123"))
        print(pf.connections.get("oa").api_key, pf.connections.get("oa", with_secrets=True).api_key)
    """, tmp_path, PFL_SCRIPTED_LLM=str(classification / "scripted_llm.yaml"), PFL_HOME=str(tmp_path / "home"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:4] == ["billing", "Completed 40", "Completed", "****** sk-123"]


def test_promptflow_sdk_and_core_internals_flows_import(make_flow, tmp_path):
    code = '''
from promptflow._sdk.entities import AzureOpenAIConnection, Run, InputSetting
from promptflow.core._flow import Prompty, Flow, AsyncPrompty, AsyncFlow
from promptflow._internal import tool, ToolProvider
from promptflow._constants import ConnectionType
from promptflow.contracts.tool import ValueType
from promptflow.tools.exception import InvalidConnectionType
from promptflow.entities import InputSetting as EntitiesInputSetting, DynamicList

settings = {"connection": EntitiesInputSetting(capabilities={"completion": False, "chat_completion": True},
                                                ui_hints={"text_box_size": "lg"}, enabled_by="api")}

@tool(input_settings=settings)
def uses(x: str) -> str:
    assert settings["connection"].capabilities["chat_completion"] and settings["connection"].enabled_by == "api"
    return f"{__name__}|{ConnectionType.AZURE_OPEN_AI.value}|{ValueType.STRING.value}|{Prompty.__name__}"
'''
    from promptflow_lite.engine import load_flow

    folder = make_flow({"flow.dag.yaml": FLOW, "uses.py": code})
    assert load_flow(folder)(x="hi")["out"] == "__pf_main__|AzureOpenAI|string|Prompty"


def test_operation_context_has_the_flow_id_and_root_run_id_inside_a_flex_flow(make_flow, tmp_path, capsys):
    import json

    from promptflow_lite.cli.main import main

    folder = make_flow({
        "flow.flex.yaml": "entry: flow_with_context:my_flow\n",
        "flow_with_context.py": '''
from promptflow.tracing._operation_context import OperationContext

def my_flow():
    context = OperationContext.get_instance()
    assert "flow_id" in context and "root_run_id" in context
    return {"flow-id": context.flow_id, "root-run-id": context.root_run_id, "mode": context.run_mode}
''',
    })
    assert main(["flow", "test", "--flow", str(folder), "--output", "json"]) == 0
    tested = json.loads(capsys.readouterr().out)
    assert tested["flow-id"] == "default_flow_id" and tested["root-run-id"] and tested["mode"] == "Test"
    (tmp_path / "one.jsonl").write_text("{}\n{}\n")
    assert main(["run", "create", "--flow", str(folder), "--data", str(tmp_path / "one.jsonl"), "--name", "ctx"]) == 0
    from promptflow_lite.runs._client import Client

    details = Client().get_details("ctx")
    assert list(details["outputs.root-run-id"]) == ["ctx", "ctx"] and set(details["outputs.mode"]) == {"Batch"}
    from promptflow_lite._compat.contracts import OperationContext

    assert "flow_id" not in OperationContext.get_instance()  # each line had its own copy


def test_custom_tools_raise_and_catch_promptflow_tools_errors_and_log_with_its_loggers(make_flow, capsys):
    from promptflow_lite.cli.main import main

    code = '''
from promptflow.core import tool
from promptflow.tools.common import render_jinja_template
from promptflow.tools.exception import AzureContentSafetyInputValueError, JinjaTemplateError, ToolValidationError
from promptflow.exceptions import UserErrorException
from promptflow._utils.logger_utils import flow_logger


@tool
def moderate(x: str) -> str:
    try:
        render_jinja_template("{{ broken", x=x)
    except JinjaTemplateError as error:  # promptflow_lite's own renderer raised it
        caught = "caught"
    flow_logger.info("moderating %s", x)
    if x == "bad":
        raise AzureContentSafetyInputValueError(message=f"The text '{x}' is not allowed.")
    assert issubclass(AzureContentSafetyInputValueError, UserErrorException)
    assert not issubclass(AzureContentSafetyInputValueError, ToolValidationError)
    return f"{caught} {x}"
'''
    folder = make_flow({"flow.dag.yaml": FLOW.replace("uses", "moderate"), "moderate.py": code})
    assert main(["flow", "test", "--flow", str(folder), "--inputs", "x=fine"]) == 0
    captured = capsys.readouterr()
    assert "caught fine" in captured.out and "moderating fine" in captured.err
    assert main(["flow", "test", "--flow", str(folder), "--inputs", "x=bad"]) == 1
    assert "The text 'bad' is not allowed." in capsys.readouterr().err


def test_a_script_catches_promptflows_sdk_errors_for_runs_and_connections(tmp_path):
    from pathlib import Path

    classification = Path(__file__).resolve().parents[2] / "flows" / "classification"
    done = _python(f"""
        import promptflow
        from promptflow._sdk._errors import ConnectionNotFoundError, InvalidRunStatusError, RunNotFoundError

        pf = promptflow.PFClient()
        try:   # promptflow's examples assert this for a mapping to a column the data lacks
            pf.run(flow={str(classification)!r}, data={str(classification / "data.jsonl")!r},
                   column_mapping={{"text": "${{data.nope}}"}}, stream=True)
        except InvalidRunStatusError as exc:
            print("InvalidRunStatusError")
        try:
            pf.runs.get("no_such_run")
        except RunNotFoundError:
            print("RunNotFoundError")
        try:
            pf.connections.get("no_such_connection")
        except ConnectionNotFoundError:
            print("ConnectionNotFoundError")
    """, tmp_path, PFL_SCRIPTED_LLM=str(classification / "scripted_llm.yaml"), PFL_HOME=str(tmp_path / "home"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-3:] == ["InvalidRunStatusError", "RunNotFoundError", "ConnectionNotFoundError"]



def test_the_promptflow_alias_is_entered_while_other_threads_import_modules(tmp_path):
    # Sub-flows loaded by python nodes running at once (load_flow inside a tool) enter the alias while other
    # threads import; walking sys.modules must not fail with "dictionary changed size during iteration".
    done = _python("""
        import sys, threading, types
        from promptflow_lite._compat import promptflow_alias

        stop = threading.Event()

        def import_things():
            i = 0
            while not stop.is_set():
                sys.modules[f"_pfl_test_module_{i % 50}"] = types.ModuleType("x")
                sys.modules.pop(f"_pfl_test_module_{(i + 25) % 50}", None)
                i += 1

        sys.setswitchinterval(1e-6)  # switch threads as often as possible, so a race shows
        threading.Thread(target=import_things, daemon=True).start()
        for _ in range(20000):
            with promptflow_alias():
                pass
        stop.set()
        print("ok")
    """, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
