"""Paste README.md's bash blocks, top to bottom, into a fresh checkout and check every command exits 0.

    python tests/_helpers/readme_tour.py                # a fresh venv, exactly as a new user (pip needs the package index)
    python tests/_helpers/readme_tour.py --venv .venv   # reuse an installed venv: creating it and `pip install` are skipped

The checkout is copied to a temporary folder (the tour writes files there), ``PFL_HOME`` points into it,
no LLM key is set and ``OPENAI_*`` variables are removed: the tour must run offline. The blocks run in one
bash session (``set -e``), so ``source``, ``export`` and background jobs carry over as in a terminal.
A block that runs the test suite itself is skipped. Prints each step; exits 1 naming the first failing one.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)
_COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
                                      ".promptflow", "report.html", "result.json", "junit.xml")


def bash_blocks(readme: Path) -> list[str]:
    """The ```bash blocks of ``readme``, in order."""
    return [match.group(1) for match in _BLOCK.finditer(readme.read_text(encoding="utf-8"))]


def tour_script(blocks: list[str], reuse_venv: bool) -> str:
    """One bash script running ``blocks`` in order; each step is announced, the first failure stops it."""
    lines = ["set -e", "trap 'echo \"TOUR STEP FAILED (exit $?): $BASH_COMMAND\" >&2' ERR",
             "trap 'code=$?; kill $(jobs -p) 2>/dev/null || true; wait; exit $code' EXIT"]  # a failed step leaves no server behind
    for number, block in enumerate(blocks, start=1):
        if "pytest" in block:
            lines.append(f"echo '### block {number}: skipped (runs the test suite)'")
            continue
        if reuse_venv:  # the venv exists: creating it and installing into it are skipped
            block = re.sub(r"(python3? -m venv \S+|\S*pip install [^&\n]*)", "true", block)
        lines.append(f"echo '### block {number}'")
        lines.append(block)
    lines.append("echo '### tour done'")
    return "\n".join(lines) + "\n"


def run_tour(venv: Path | None, keep: bool = False, timeout: float = 1800) -> int:
    """Run the tour in a copy of the checkout; returns bash's exit status."""
    scratch = Path(tempfile.mkdtemp(prefix="pfl-readme-tour-"))
    checkout = scratch / "checkout"
    shutil.copytree(ROOT, checkout, ignore=_COPY_IGNORE, symlinks=True)
    if venv is not None:
        (checkout / ".venv").symlink_to(Path(venv).resolve())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_OPENAI_", "PFL_", "VIRTUAL_ENV"))}
    env.update(PFL_HOME=str(scratch / "home"), HOME=str(scratch / "user"))
    (scratch / "user").mkdir()
    script = tour_script(bash_blocks(ROOT / "README.md"), reuse_venv=venv is not None)
    (scratch / "tour.sh").write_text(script, encoding="utf-8")
    try:
        done = subprocess.run(["bash", str(scratch / "tour.sh")], cwd=checkout, env=env, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        return done.returncode
    finally:
        if keep:
            print(f"(kept {scratch})", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--venv", type=Path, help="reuse this venv (promptflow_lite[dev] installed) instead of a fresh one")
    parser.add_argument("--keep", action="store_true", help="keep the scratch checkout")
    args = parser.parse_args(argv)
    code = run_tour(args.venv, keep=args.keep)
    print("README tour: every step exited 0" if code == 0 else f"README tour failed (exit {code})",
          file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
