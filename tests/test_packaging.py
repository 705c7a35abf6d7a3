"""The wheel ships every package: pyproject.toml lists them by hand (evaluators/ and ui/ are mapped in)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _listed_packages() -> set[str]:
    if sys.version_info < (3, 11):
        pytest.importorskip("tomllib")
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return set(config["tool"]["setuptools"]["packages"])


def test_every_python_folder_of_the_package_is_listed_in_pyproject():
    folders = {p.parent for p in (ROOT / "promptflow_lite").rglob("*.py") if "__pycache__" not in p.parts}
    names = {".".join(folder.relative_to(ROOT).parts) for folder in folders}
    missing = names - _listed_packages()
    assert not missing, f"add these to [tool.setuptools] packages in pyproject.toml: {sorted(missing)}"


def test_the_ui_and_evaluators_are_mapped_into_the_package():
    assert {"promptflow_lite.ui", "promptflow_lite.evaluators"} <= _listed_packages()
