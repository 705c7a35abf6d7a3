"""Broken flows: every validation problem is reported at once, naming file, node and fix."""

from __future__ import annotations

import pytest

from promptflow_lite.cli.main import main
from promptflow_lite.engine import load_flow
from promptflow_lite.errors import FlowLoadError, FlowValidationError, UserError

TOOL = """
from promptflow.core import tool

@tool
def echo(x=None, y=None):
    return x
"""


def node(name: str, **inputs: str) -> str:
    lines = [f"- name: {name}", "  type: python", "  source:", "    type: code", "    path: echo.py", "  inputs:"]
    lines += [f"    {k}: {v}" for k, v in inputs.items()] or ["    x: 1"]
    return "\n".join(lines) + "\n"


def flow_yaml(*nodes: str, outputs: str = "out:\n    reference: ${a.output}") -> str:
    return ("inputs:\n  q:\n    type: string\noutputs:\n  " + outputs + "\nnodes:\n" + "".join(nodes))


def problems_of(folder) -> list[str]:
    with pytest.raises(FlowValidationError) as info:
        load_flow(folder)
    return [str(p) for p in info.value.problems]


def test_duplicate_node_names(make_flow):
    folder = make_flow({"flow.dag.yaml": flow_yaml(node("a", x="${inputs.q}"), node("a", x="${inputs.q}")),
                        "echo.py": TOOL})
    [problem] = problems_of(folder)
    assert "node 'a'" in problem and "Duplicate node name" in problem and "unique" in problem
    assert "flow.dag.yaml" in problem


def test_unknown_flow_input_and_unknown_node(make_flow):
    folder = make_flow({"flow.dag.yaml": flow_yaml(node("a", x="${inputs.nope}", y="${ghost.output}")),
                        "echo.py": TOOL})
    problems = problems_of(folder)
    assert any("flow input 'nope', which is not defined" in p and "flow inputs: q" in p for p in problems)
    assert any("node 'ghost', which does not exist" in p and "node 'a'" in p for p in problems)


def test_cycle_is_named(make_flow):
    folder = make_flow({"flow.dag.yaml": flow_yaml(node("a", x="${c.output}"), node("b", x="${a.output}"),
                                                   node("c", x="${b.output}")),
                        "echo.py": TOOL})
    [problem] = problems_of(folder)
    assert "cycle" in problem
    assert "a -> b -> c -> a" in problem or "b -> c -> a -> b" in problem or "c -> a -> b -> c" in problem


def test_missing_source_file(make_flow):
    text = flow_yaml(node("a", x="${inputs.q}")).replace("echo.py", "missing.py")
    folder = make_flow({"flow.dag.yaml": text})
    [problem] = problems_of(folder)
    assert "node 'a'" in problem and "Source file 'missing.py' does not exist" in problem


def test_unknown_variant(make_flow):
    text = flow_yaml("- name: a\n  use_variants: true\n") + (
        "node_variants:\n  a:\n    default_variant_id: variant_9\n    variants:\n      variant_0:\n"
        "        node:\n          type: python\n          source:\n            type: code\n            path: echo.py\n"
        "          inputs:\n            x: ${inputs.q}\n")
    folder = make_flow({"flow.dag.yaml": text, "echo.py": TOOL})
    with pytest.raises(UserError) as info:
        load_flow(folder)
    assert "Variant 'variant_9' does not exist" in str(info.value) and "known variants: variant_0" in str(info.value)
    assert main(["flow", "validate", "--source", str(folder)]) == 1


def test_variant_selector_naming_unknown_variant(make_flow):
    text = flow_yaml("- name: a\n  use_variants: true\n") + (
        "node_variants:\n  a:\n    default_variant_id: variant_0\n    variants:\n      variant_0:\n"
        "        node:\n          type: python\n          source:\n            type: code\n            path: echo.py\n"
        "          inputs:\n            x: ${inputs.q}\n")
    folder = make_flow({"flow.dag.yaml": text, "echo.py": TOOL})
    with pytest.raises(Exception) as info:
        load_flow(folder, variant="${a.variant_7}")
    assert "Variant 'variant_7' does not exist" in str(info.value)


def test_output_pointing_nowhere_and_empty_reference(make_flow):
    outputs = "out:\n    reference: ${zz.output}\n  empty:\n    reference: ''"
    folder = make_flow({"flow.dag.yaml": flow_yaml(node("a", x="${inputs.q}"), outputs=outputs), "echo.py": TOOL})
    problems = problems_of(folder)
    assert any("Output 'out' points to node 'zz'" in p for p in problems)
    assert any("Output 'empty' has an empty reference" in p for p in problems)


def test_unknown_input_type_names_the_field(make_flow):
    text = "inputs:\n  h:\n    type: chat_history\noutputs: {}\nnodes: []\n"
    folder = make_flow({"flow.dag.yaml": text})
    [problem] = problems_of(folder)
    assert "inputs.h.type" in problem and "chat_history" in problem and "type: list" in problem


def test_broken_yaml_names_line(make_flow):
    folder = make_flow({"flow.dag.yaml": "inputs:\n  q: {type: string\nnodes: []\n"})
    with pytest.raises(FlowLoadError) as info:
        load_flow(folder)
    assert "Invalid YAML at line" in str(info.value) and "flow.dag.yaml" in str(info.value)


def test_activate_requires_when_and_is(make_flow):
    text = flow_yaml(node("a", x="${inputs.q}") + "  activate:\n    when: ${inputs.q}\n")
    folder = make_flow({"flow.dag.yaml": text, "echo.py": TOOL})
    [problem] = problems_of(folder)
    assert "activate needs both 'when' and 'is'" in problem and "missing: is" in problem


def test_per_line_node_cannot_use_aggregation_output(make_flow):
    agg = node("agg", x="${inputs.q}") + "  aggregation: true\n"
    folder = make_flow({"flow.dag.yaml": flow_yaml(node("a", x="${agg.output}"), agg), "echo.py": TOOL})
    [problem] = problems_of(folder)
    assert "aggregation node 'agg' from a per-line node" in problem


def test_cli_validate_reports_all_problems_and_exits_1(make_flow, capsys):
    folder = make_flow({"flow.dag.yaml": flow_yaml(node("a", x="${inputs.nope}"), node("a", x="${b.output}")),
                        "echo.py": TOOL})
    assert main(["flow", "validate", "--source", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "problem(s)" in err and "Duplicate node name" in err and "'nope'" in err


def test_cli_validate_valid_flow(make_flow, capsys):
    folder = make_flow({"flow.dag.yaml": flow_yaml(node("a", x="${inputs.q}")), "echo.py": TOOL})
    assert main(["flow", "validate", "--source", str(folder)]) == 0
    assert "valid" in capsys.readouterr().out


def test_cli_validate_loads_python_tools_like_promptflow(make_flow, capsys):
    broken = node("b", x="${a.output}").replace("echo.py", "helpers.py")
    folder = make_flow({"flow.dag.yaml": flow_yaml(node("a", x="${inputs.q}"), broken, node("c", x="${inputs.nope}")),
                        "echo.py": TOOL, "helpers.py": "def helper():\n    return 1\n"})
    assert main(["flow", "validate", "--source", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "2 problem(s)" in err and "'nope'" in err
    assert "helpers.py, node 'b': No tool found" in err and "@tool" in err


FLEX_APP = """
from pathlib import Path
from promptflow.core import AzureOpenAIModelConfiguration, Prompty

class App:
    def __init__(self, model_config: AzureOpenAIModelConfiguration, retries: int = 1):
        raise RuntimeError("validation must not create the class")

    def __call__(self, question: str) -> str:
        return question

    def __aggregate__(self, line_results):
        return {}
"""

PROMPTY_NEEDING_A_KEY = """---
name: ask
model:
  api: chat
  configuration:
    type: azure_openai
    azure_deployment: gpt-4o
    azure_endpoint: ${env:PFL_TEST_UNSET_ENDPOINT}
    api_key: ${env:PFL_TEST_UNSET_KEY}
inputs:
  question:
    type: string
---
user:
{{question}}
"""


def validate(capsys, *args: str) -> tuple[int, dict]:
    code = main(["flow", "validate", *args, "--output", "json"])
    import json

    return code, json.loads(capsys.readouterr().out)


def test_cli_validate_checks_a_flex_flow_without_creating_it(make_flow, capsys, tmp_path):
    folder = make_flow({"flow.flex.yaml": "entry: app:App\n", "app.py": FLEX_APP})
    assert validate(capsys, "--source", str(folder)) == (0, {"valid": True, "flow": str(folder / "flow.flex.yaml"),
                                                            "problems": []})
    init = tmp_path / "init.json"
    init.write_text('{"model_config": {"connection": "not_stored", "azure_deployment": "gpt-4o"}}')
    assert validate(capsys, "--source", str(folder), "--init", str(init))[0] == 0


def test_cli_validate_reports_a_flex_flows_structure_and_init_problems(make_flow, capsys):
    folder = make_flow({"flow.flex.yaml": "entry: app:App\ninputs:\n  topic:\n    type: string\n",
                        "app.py": FLEX_APP.replace("line_results)", "line_results, extra)")})
    code, report = validate(capsys, "--source", str(folder), "--init", "retries=many", "colour=red")
    messages = [p["message"] for p in report["problems"]]
    assert code == 1 and len(messages) == 5, messages
    assert "--init gives 'colour', which App.__init__ does not take." in messages
    assert "App.__init__ needs model_config, which --init does not give." in messages
    assert any("'retries' is not a valid int" in m for m in messages)
    assert "`inputs:` declares 'topic', which App.__call__ does not take." in messages
    assert "The __aggregate__ method should have only one parameter." in messages


def test_cli_validate_checks_a_prompty_without_its_credentials(make_flow, capsys, monkeypatch):
    monkeypatch.delenv("PFL_TEST_UNSET_ENDPOINT", raising=False)
    monkeypatch.delenv("PFL_TEST_UNSET_KEY", raising=False)
    folder = make_flow({"ask.prompty": PROMPTY_NEEDING_A_KEY,
                        "broken.prompty": PROMPTY_NEEDING_A_KEY.replace("azure_openai", "anthropic")
                                                                .replace("{{question}}", "{{question}")})
    assert validate(capsys, "--source", str(folder / "ask.prompty"))[0] == 0
    code, report = validate(capsys, "--source", str(folder / "broken.prompty"))
    messages = [p["message"] for p in report["problems"]]
    assert code == 1 and len(messages) == 2, messages
    assert "model.configuration has type 'anthropic' and names no connection." in messages
    assert any("Failed to render jinja template" in m for m in messages)
