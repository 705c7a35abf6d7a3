"""Looking up settings or connections does not create PFL_HOME (a new machine, a Ray worker); writing does."""

from __future__ import annotations

import json

from tests._helpers._runs_world import pfl


def test_settings_and_connection_lookups_leave_no_home_folder_behind(pfl_home, make_flow):
    flow = make_flow({
        "flow.dag.yaml": """
            inputs: {text: {type: string}}
            outputs: {answer: {type: string, reference: "${shout.output}"}}
            nodes:
            - {name: shout, type: python, source: {type: code, path: shout.py}, inputs: {text: "${inputs.text}"}}
        """,
        "shout.py": """
            from promptflow import tool

            @tool
            def shout(text: str) -> str:
                return text.upper()
        """,
    })
    assert not pfl_home.exists()
    for command in (("connection", "list"), ("config", "show"), ("flow", "validate", "--flow", str(flow))):
        pfl(pfl_home, *command)
    assert not pfl_home.exists()


def test_the_first_write_creates_the_home_folder(pfl_home):
    pfl(pfl_home, "config", "set", "trace.max_age_days=3")
    assert json.loads((pfl_home / "config.json").read_text()) == {"trace.max_age_days": 3}
