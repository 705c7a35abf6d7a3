"""README.md keeps its promises: its tour runs as pasted (offline), and its test command shows pytest's summary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import readme_tour  # tests/_helpers

ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_tour_runs_top_to_bottom_offline():
    assert readme_tour.run_tour(Path(sys.prefix)) == 0  # the installed venv; pip steps are the only ones skipped


def test_the_tour_has_no_placeholder_to_replace_and_no_command_waiting_for_input():
    commands = [line.split(" # ")[0] for block in readme_tour.bash_blocks(ROOT / "README.md")
                for line in block.splitlines() if not line.lstrip().startswith("#")]
    text = "\n".join(commands)
    for placeholder in ("TRACE_ID", "RUN_A", "RUN_B", "my_module", "sk-...", "--interactive"):
        assert placeholder not in text, placeholder


def test_the_readme_test_command_prints_pytests_summary_line(tmp_path):
    (tmp_path / "test_one.py").write_text("def test_one():\n    assert True\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-c", str(ROOT / "pyproject.toml"),
                           "--rootdir", str(tmp_path), str(tmp_path / "test_one.py"), "-p", "no:cacheprovider"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout.splitlines()[-1]
