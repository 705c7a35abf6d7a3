"""Public flows from other repositories, vendored unchanged under tests/compat/flows/thirdparty_*, run offline:
``pfl --scripted-llm`` answers their LLM connections, whatever their names and types."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

THIRDPARTY = Path(__file__).resolve().parent / "flows"
PFL = str(Path(sys.executable).with_name("pfl"))


def _pfl(*args: str, cwd: Path) -> str:
    """``pfl ...`` in its own process (offline mode lives for a process), its stdout."""
    done = subprocess.run([PFL, *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PFL_HOME": str(cwd / "home")})
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_chat_flow_from_another_repository_runs_unchanged_offline(tmp_path):
    flow = shutil.copytree(THIRDPARTY / "thirdparty_person_summary", tmp_path / "flow",
                           ignore=shutil.ignore_patterns("cases.json", "expected.json", "SOURCE"))
    (tmp_path / "rules.yaml").write_text("- match: 'birthdate'\n  reply: September 2, 1964\n")
    offline = ["--scripted-llm", "rules.yaml"]
    tested = json.loads(_pfl(*offline, "flow", "test", "--flow", "flow", "-o", "json", cwd=tmp_path))
    assert tested == {"summary": "# Summary\n\n## Keanu Reeves\n\nBirthdate: September 2, 1964"}
    (tmp_path / "people.jsonl").write_text('{"person": "Ada Lovelace"}\n{"person": "Alan Turing"}\n')
    _pfl(*offline, "run", "create", "--flow", str(flow), "--data", "people.jsonl", "--column-mapping",
         "person=${data.person}", "--name", "people", cwd=tmp_path)
    rows = json.loads(_pfl("run", "show-details", "people", "-o", "json", cwd=tmp_path))
    assert [row["outputs.summary"].splitlines()[2] for row in rows] == ["## Ada Lovelace", "## Alan Turing"]
