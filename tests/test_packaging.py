"""The built wheel is the whole package: every module and evaluator ships, and the main job runs from it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10: pytest depends on tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "promptflow_lite"
EVALUATORS = ROOT / "evaluators"
UI = ROOT / "ui"
MAPPED = {"promptflow_lite.evaluators", "promptflow_lite.ui"}  # folders at the top of the checkout
CLASSIFICATION = ROOT / "flows" / "classification"


def _source_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def test_every_package_folder_is_a_listed_regular_package():
    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {p.parent for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts
               and "_templates" not in p.parts}  # flow templates (pfl flow init) are data
    names = {".".join(folder.relative_to(ROOT).parts) for folder in folders}
    assert names | MAPPED == declared, "pyproject.toml [tool.setuptools] packages"
    assert [str(f) for f in folders if not (f / "__init__.py").is_file()] == []


def _build_wheel(tmp_path: Path) -> Path:
    """A wheel built from a copy of the checkout holding only what a clean clone holds (no build/ left behind)."""
    source = tmp_path / "checkout"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "*.pyc", ".pytest_cache", ".promptflow",
        "benchmarks", "tests"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
                           "--quiet", "--wheel-dir", str(tmp_path / "dist")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    (wheel,) = (tmp_path / "dist").glob("promptflow_lite-*.whl")
    return wheel


def _fresh_venv(tmp_path: Path, wheel: Path) -> Path:
    """A new venv with the wheel installed non-editable; its dependencies come from this interpreter's site-packages."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                           "--no-index", str(wheel)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return python


def test_the_wheel_holds_every_module_and_runs_the_main_job_outside_the_checkout(tmp_path):
    wheel = _build_wheel(tmp_path)
    shipped = set(zipfile.ZipFile(wheel).namelist())
    expected = {p.relative_to(ROOT).as_posix() for p in _source_files(PACKAGE)}
    expected |= {"promptflow_lite/evaluators/" + p.relative_to(EVALUATORS).as_posix() for p in _source_files(EVALUATORS)}
    expected |= {"promptflow_lite/ui/" + p.relative_to(UI).as_posix() for p in _source_files(UI) if p.suffix == ".py"}
    assert sorted(expected - shipped) == []

    python = _fresh_venv(tmp_path, wheel)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PFL_HOME": str(tmp_path / "home")}
    env.pop("PYTHONPATH", None)
    where = subprocess.run([str(python), "-c", "import promptflow_lite\nfrom promptflow_lite.evaluate._registry import "
                            "evaluators_root\nprint(promptflow_lite.__file__)\nprint(evaluators_root())"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)
    assert where.returncode == 0, where.stderr
    assert all(Path(line).is_relative_to(python.parent.parent) for line in where.stdout.splitlines()), where.stdout

    pfl = python.parent / "pfl"
    job = subprocess.run([str(pfl), "--scripted-llm", str(CLASSIFICATION / "scripted_llm.yaml"), "eval",
                          "--flow", str(CLASSIFICATION), "--data", str(CLASSIFICATION / "data.jsonl"),
                          "--variants", "all", "--evaluator", "exact_match",
                          "--evaluator-mapping", "exact_match.answer=${run.outputs.category}"],
                         cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600)
    assert job.returncode == 0, job.stderr
    assert "exact_match.passed" in job.stdout and "variant_1" in job.stdout

    # a plain script that imports promptflow's names runs on the installed wheel (promptflow_lite-promptflow.pth)
    assert "promptflow_lite-promptflow.pth" in shipped
    script = subprocess.run([str(python), "-c", "from promptflow.client import PFClient\n"
                             "from promptflow.core import tool\nprint(PFClient.__module__)"],
                            cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)
    assert script.returncode == 0, script.stderr
    assert script.stdout.strip() == "promptflow_lite.runs._client"


def test_pfl_ui_serves_the_app_from_the_wheel(tmp_path):
    """`pip install promptflow_lite[ui]` from a wheel: pfl ui starts, answers and shows its pages (a deep link
    first thing: the pages ship in ``views/``, the navigation is there)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from _ui_server import chromium_page, running_ui, wait_until_idle

    python = _fresh_venv(tmp_path, _build_wheel(tmp_path))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run([str(python), "-c", "import promptflow_lite.ui as ui; print(ui.APP)"], cwd=elsewhere,
                           capture_output=True, text=True, timeout=120)
    assert Path(where.stdout.strip()).is_relative_to(python.parent.parent), where.stdout + where.stderr
    with running_ui([], pfl=[str(python.parent / "pfl")], cwd=elsewhere) as ui, chromium_page() as page:
        page.goto(f"{ui.url}/editor?flow={CLASSIFICATION}")
        wait_until_idle(page)
        page.get_by_role("heading", name="classification").wait_for()
        for title in ("Runs", "New evaluation", "Compare", "Traces"):
            page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).wait_for()
        canvas = page.frame_locator('[data-testid="stCustomComponentV1"]').first
        canvas.locator('.react-flow__node[data-id="classify"]').wait_for(state="attached")
