"""Shared fixtures: every test gets its own PFL_HOME; ``make_flow`` writes a flow folder."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def pfl_home(tmp_path_factory, monkeypatch) -> Path:
    """An empty PFL_HOME per test, so nothing touches the user's home folder."""
    home = tmp_path_factory.mktemp("pfl_home")
    monkeypatch.setenv("PFL_HOME", str(home))
    monkeypatch.delenv("PROMPTFLOW_CONNECTIONS", raising=False)
    return home


@pytest.fixture
def make_flow(tmp_path):
    """``make_flow({"flow.dag.yaml": "...", "tool.py": "..."}, name="f")`` → the flow folder."""

    def make(files: dict[str, str], name: str = "flow") -> Path:
        folder = tmp_path / name
        folder.mkdir(parents=True, exist_ok=True)
        for relative, text in files.items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return folder

    return make


@pytest.fixture(autouse=True)
def tracing_off_after_test():
    """Tracing state is per process: a test that switched it on must not leak it into the next."""
    yield
    import sys

    if "promptflow_lite.tracing._setup" in sys.modules:
        sys.modules["promptflow_lite.tracing._setup"].disable_tracing()
