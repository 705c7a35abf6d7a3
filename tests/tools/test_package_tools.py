"""Package tools: built-in promptflow.tools ids and third-party tools from the `package_tools` entry points."""

from __future__ import annotations

import sys

import pytest

from promptflow_lite.engine import load_flow


@pytest.fixture
def third_party_tool(tmp_path, monkeypatch):
    """An installed package advertising `my_tools.shout.shout` through the package_tools entry-point group."""
    site = tmp_path / "site"
    (site / "my_tools").mkdir(parents=True)
    (site / "my_tools" / "__init__.py").write_text(
        "def list_package_tools():\n"
        "    return {'my_tools.shout.shout': {'name': 'Shout', 'type': 'python', 'module': 'my_tools.shout',\n"
        "                                     'function': 'shout', 'deprecated_tools': ['old_tools.shout']}}\n")
    (site / "my_tools" / "shout.py").write_text(
        "from promptflow.core import tool\n\n@tool\ndef shout(text: str, times: int = 1) -> str:\n"
        "    return (text.upper() + '!') * times\n")
    dist = site / "my_tools-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-tools\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[package_tools]\nmy_tools = my_tools:list_package_tools\n")
    monkeypatch.syspath_prepend(str(site))
    from promptflow_lite.tools._package import _entry_point_tools

    _entry_point_tools.cache_clear()
    yield
    _entry_point_tools.cache_clear()
    sys.modules.pop("my_tools", None)
    sys.modules.pop("my_tools.shout", None)


def flow_with_tool(tool_id: str) -> str:
    return (f"inputs:\n  text:\n    type: string\noutputs:\n  out:\n    reference: ${{loud.output}}\nnodes:\n"
            f"- name: loud\n  type: python\n  source:\n    type: package\n    tool: {tool_id}\n"
            "  inputs:\n    text: ${inputs.text}\n    times: '2'\n")


def test_third_party_package_tool_runs(third_party_tool, make_flow):
    folder = make_flow({"flow.dag.yaml": flow_with_tool("my_tools.shout.shout")})
    assert load_flow(folder)(text="hi") == {"out": "HI!HI!"}


def test_deprecated_tool_id_is_remapped(third_party_tool, make_flow):
    folder = make_flow({"flow.dag.yaml": flow_with_tool("old_tools.shout")})
    assert load_flow(folder)(text="a") == {"out": "A!A!"}


def test_unknown_package_tool_lists_what_is_available(third_party_tool, make_flow):
    folder = make_flow({"flow.dag.yaml": flow_with_tool("nope.tool")})
    with pytest.raises(Exception) as info:
        load_flow(folder)
    message = str(info.value)
    assert "Package tool 'nope.tool' is not found" in message and "node 'loud'" in message
    assert "my_tools.shout.shout" in message and "promptflow.tools.llm.llm" in message
