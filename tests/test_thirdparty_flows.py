"""Public flows from other repositories, vendored unchanged under tests/compat/flows/thirdparty_*, run offline:
``--scripted-llm`` answers their LLM connections, whatever their names and types."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from promptflow_lite.cli.main import main

THIRDPARTY = Path(__file__).resolve().parent / "compat" / "flows"


def test_a_chat_flow_from_another_repository_runs_unchanged_offline(tmp_path, capsys, pfl_json):
    flow = shutil.copytree(THIRDPARTY / "thirdparty_person_summary", tmp_path / "flow",
                           ignore=shutil.ignore_patterns("cases.json", "expected.json", "SOURCE"))
    rules = tmp_path / "rules.yaml"
    rules.write_text("- match: 'birthdate'\n  reply: September 2, 1964\n")
    assert main(["--scripted-llm", str(rules), "flow", "test", "--flow", str(flow), "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "summary": "# Summary\n\n## Keanu Reeves\n\nBirthdate: September 2, 1964"}
    (tmp_path / "people.jsonl").write_text('{"person": "Ada Lovelace"}\n{"person": "Alan Turing"}\n')
    assert main(["--scripted-llm", str(rules), "run", "create", "--flow", str(flow), "--data",
                 str(tmp_path / "people.jsonl"), "--column-mapping", "person=${data.person}", "--name", "people"]) == 0
    rows = pfl_json("run", "show-details", "people", "-o", "json")
    assert [row["outputs.summary"].splitlines()[2] for row in rows] == ["## Ada Lovelace", "## Alan Turing"]
