"""Checks promptflow makes when it loads or runs a flow, made here too, with the same messages."""

from __future__ import annotations

import json

import pytest

from promptflow_lite.cli.main import main
from promptflow_lite.engine import load_flow
from promptflow_lite.errors import FlowLoadError, UserError


@pytest.fixture
def open_ai_connection(tmp_path, monkeypatch):
    """``open_ai_connection`` pointing at a closed port (nothing is called: these flows fail to load)."""
    file = tmp_path / "connections.json"
    file.write_text(json.dumps({"open_ai_connection": {
        "type": "OpenAIConnection", "value": {"api_key": "k", "base_url": "http://127.0.0.1:9/v1"}}}))
    monkeypatch.setenv("PROMPTFLOW_CONNECTIONS", str(file))


def test_a_prompt_template_variable_named_like_the_prompt_tools_parameter_is_rejected(make_flow):
    folder = make_flow({
        "flow.dag.yaml": """
            inputs: {text: {type: string}}
            outputs: {out: {type: string, reference: "${render.output}"}}
            nodes:
            - {name: render, type: prompt, source: {type: code, path: p.jinja2}, inputs: {text: "${inputs.text}"}}
        """,
        "p.jinja2": "{{text}} {{template}}\n",
    })
    with pytest.raises(UserError, match=r"Invalid inputs \{'template'\} in prompt template of node render\. These "
                                        r"inputs are duplicated with the reserved parameters of prompt tool\."):
        load_flow(folder)


def test_a_custom_llm_template_variable_named_like_a_tool_input_is_rejected(make_flow, open_ai_connection):
    folder = make_flow({
        "flow.dag.yaml": """
            inputs: {text: {type: string}}
            outputs: {out: {type: string, reference: "${ask.output}"}}
            nodes:
            - name: ask
              type: custom_llm
              source: {type: package_with_prompt, tool: promptflow.tools.llm.llm, path: p.jinja2}
              inputs: {connection: open_ai_connection, model: gpt-4o, text: "${inputs.text}"}
        """,
        "p.jinja2": "# user:\n{{text}} at {{temperature}}\n",
    })
    with pytest.raises(UserError, match=r"Invalid inputs \{'temperature'\} in prompt template of node ask\. These "
                                        r"inputs are duplicated with the inputs of custom llm tool\."):
        load_flow(folder)


def test_an_llm_node_module_that_cannot_be_imported_fails_the_load(make_flow, open_ai_connection):
    flow = """
        inputs: {text: {type: string}}
        outputs: {out: {type: string, reference: "${chat.output}"}}
        nodes:
        - name: chat
          type: llm
          api: chat
          module: %s
          connection: open_ai_connection
          source: {type: code, path: chat.jinja2}
          inputs: {model: gpt-4o, text: "${inputs.text}"}
    """
    bad = make_flow({"flow.dag.yaml": flow % "promptflow.tools.does_not_exist", "chat.jinja2": "user:\n{{text}}\n"},
                    name="bad")
    with pytest.raises(FlowLoadError, match=r"Import node 'chat' provider module 'promptflow\.tools\.does_not_exist' "
                                            r"failed\. Root cause: ModuleNotFoundError"):
        load_flow(bad)
    good = make_flow({"flow.dag.yaml": flow % "promptflow.tools.openai", "chat.jinja2": "user:\n{{text}}\n"},
                     name="good")
    load_flow(good)  # promptflow's own provider modules are there


@pytest.mark.parametrize("annotation", ["object", "List[str]", "Dict[str, Any]", "Any", "Optional[Answer]"])
def test_flex_inputs_of_complex_python_types_are_rejected_as_promptflow_does(make_flow, annotation):
    folder = make_flow({
        "flow.flex.yaml": "entry: entry:MyFlow\n",
        "entry.py": f"""
            from dataclasses import dataclass
            from typing import Any, Dict, List, Optional


            @dataclass
            class Answer:
                text: str


            class MyFlow:
                def __init__(self, prefix: str = ""):
                    self.prefix = prefix

                def __call__(self, value: {annotation}, other: Optional[dict] = None, name="x"):
                    return {{"value": value}}
        """,
    }, name="complex")
    with pytest.raises(FlowLoadError, match=r"Parse interface for tool 'MyFlow\.__call__' failed: The input 'value' is "
                                            r"of a complex python type\. Please use a dict instead\."):
        load_flow(folder)


def test_flex_inputs_of_simple_types_connections_and_model_configs_are_accepted(make_flow):
    folder = make_flow({
        "flow.flex.yaml": "entry: entry:MyFlow\n",
        "entry.py": """
            from enum import Enum
            from typing import Optional
            from promptflow.core import AzureOpenAIModelConfiguration
            from promptflow.connections import OpenAIConnection


            class Mode(str, Enum):
                SHORT = "short"


            class MyFlow:
                def __init__(self, config: Optional[AzureOpenAIModelConfiguration] = None,
                             conn: Optional[OpenAIConnection] = None, size: int = 1):
                    self.size = size

                def __call__(self, text: str, n: int = 1, ratio: float = 0.5, flag: bool = False, items: list = None,
                             extra: dict = None, mode: Mode = Mode.SHORT, anything=None):
                    return {"n": n * self.size}
        """,
    }, name="simple")
    assert load_flow(folder)(text="hi", n=2) == {"n": 2}


def test_a_flex_default_that_does_not_fit_its_declared_type_fails_the_line(make_flow, capsys):
    folder = make_flow({
        "flow.flex.yaml": """
            entry: my_flow:MyClass
            inputs:
              input_1: {type: string}
              input_2: {type: int, default: input_2}
        """,
        "my_flow.py": """
            class MyClass:
                def __call__(self, input_1, input_2: str = "default_input_2"):
                    return {"output": input_2}
        """,
    })
    assert main(["flow", "test", "--flow", str(folder), "--inputs", "input_1=a"]) == 1
    assert "The value for flow input 'input_2' does not match the expected type 'int'" in capsys.readouterr().err
    assert main(["flow", "test", "--flow", str(folder), "--inputs", "input_1=a", "input_2=5", "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"output": 5}  # the YAML's type wins over the annotation


def test_a_flow_file_without_nodes_says_so(make_flow, capsys):
    yaml = 'inputs:\n  t: {type: string, default: hi}\noutputs:\n  o: {type: string, reference: "${inputs.t}"}\n'
    missing = make_flow({"flow.dag.yaml": yaml}, name="missing")
    assert main(["flow", "test", "--flow", str(missing)]) == 1
    assert "The flow has no `nodes:`" in capsys.readouterr().err
    empty = make_flow({"flow.dag.yaml": yaml + "nodes: []\n"}, name="empty")
    assert main(["flow", "test", "--flow", str(empty), "-o", "json"]) == 0  # an empty list is a choice
    assert json.loads(capsys.readouterr().out) == {"o": "hi"}
